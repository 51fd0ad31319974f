/**
 * Signal-to-quantization-noise ratio in dB of `quantized` against `reference`:
 * 10 log10(sum r^2 / sum (r - q)^2). +Infinity when they are equal, NaN when lengths differ.
 */
export function outputSqnrDb(reference: ArrayLike<number>, quantized: ArrayLike<number>): number {
  if (reference.length !== quantized.length || reference.length === 0) return Number.NaN;
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const d = r - quantized[i]!;
    signal += r * r;
    noise += d * d;
  }
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}
