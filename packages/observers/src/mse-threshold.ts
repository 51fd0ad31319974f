/**
 * The number of bins (the threshold is `bins * width`) that minimises the expected squared error
 * of quantizing |x| with `steps` uniform steps on [0, T] (step T / steps, codes 0..steps, values
 * above T saturate to T), over candidates T = i * width for i = 1 .. last non-empty bin.
 *
 * The error counts both parts that a threshold trades off: rounding noise inside [0, T] and
 * clipping error above it. Values are taken as uniform inside each bin and the error is
 * integrated exactly over each bin (a closed form of the sawtooth), so it is correct even when a
 * quantization step is only a few bins wide, where bin-centre estimates are biased. Because
 * clipped mass costs its full squared distance, a bounded output whose mass sits at both ends
 * (a Sigmoid) keeps its top instead of being clipped away. The smallest i with the least error
 * wins.
 */
export function mseThresholdBins(counts: ArrayLike<number>, width: number, steps: number): number {
  let used = counts.length;
  while (used > 0 && counts[used - 1] === 0) used--;
  if (used === 0) return 0;
  const nonEmpty = nonEmptyBins(counts, used);
  let best = used;
  let bestError = Number.POSITIVE_INFINITY;
  for (let i = 1; i <= used; i++) {
    const error = squaredErrorOver(counts, nonEmpty, width, i * width, steps);
    if (error < bestError) {
      bestError = error;
      best = i;
    }
  }
  return best;
}

/**
 * Sum over bins of count * mean squared error of values uniform in the bin, for threshold T.
 * Exported for tests, which check it against brute-force sampling.
 */
export function expectedSquaredError(
  counts: ArrayLike<number>,
  used: number,
  width: number,
  threshold: number,
  steps: number,
): number {
  return squaredErrorOver(counts, nonEmptyBins(counts, used), width, threshold, steps);
}

function nonEmptyBins(counts: ArrayLike<number>, used: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < used; j++) if (counts[j] !== 0) out.push(j);
  return out;
}

// expectedSquaredError over the listed non-empty bins. Activation histograms are mostly empty
// bins (long sparse tails, or a spike at zero), which add nothing: only the listed ones are
// visited. F at a bin's lower edge is reused from the bin below when that one was visited.
function squaredErrorOver(
  counts: ArrayLike<number>,
  nonEmpty: readonly number[],
  width: number,
  threshold: number,
  steps: number,
): number {
  const step = threshold / steps;
  const boundary = threshold - step / 2;
  const atBoundary = sawtoothIntegral(boundary, step);
  const eighth = (step * step * step) / 8;
  let sum = 0;
  let edge = 0; // the bin edge whose F is in `previous`
  let previous = 0; // F(0)
  for (const j of nonEmpty) {
    const lower =
      j === edge ? previous : errorIntegral(j * width, threshold, step, boundary, atBoundary, eighth);
    const next = errorIntegral((j + 1) * width, threshold, step, boundary, atBoundary, eighth);
    sum += (counts[j]! * (next - lower)) / width;
    edge = j + 1;
    previous = next;
  }
  return sum;
}

// integratedSquaredError with what depends only on the threshold (the boundary, F there, and
// step^3 / 8) computed once per threshold by the caller.
function errorIntegral(
  x: number,
  threshold: number,
  step: number,
  boundary: number,
  atBoundary: number,
  eighth: number,
): number {
  if (x <= boundary) return sawtoothIntegral(x, step);
  const over = x - threshold;
  return atBoundary + (over * over * over + eighth) / 3;
}

/**
 * F(x) = integral from 0 to x of (t - q(t))^2 dt, where q rounds t to a multiple of `step` and
 * saturates at `threshold` = steps * step. Below the last rounding boundary b = T - step / 2 the
 * error is a sawtooth: each whole cell [(n - 1/2) step, (n + 1/2) step) adds step^3 / 12 and a
 * partial cell up to r = x - n * step adds (r^3 + step^3 / 8) / 3; F(0) = 0 fixes the constant.
 * Above b every value maps to T and the error is the plain (t - T)^2.
 */
export function integratedSquaredError(x: number, threshold: number, step: number): number {
  const boundary = threshold - step / 2;
  return errorIntegral(
    x,
    threshold,
    step,
    boundary,
    sawtoothIntegral(boundary, step),
    (step * step * step) / 8,
  );
}

function sawtoothIntegral(x: number, step: number): number {
  const cube = step * step * step;
  const n = Math.floor(x / step + 0.5);
  const r = x - n * step;
  return (n * cube) / 12 + (r * r * r + cube / 8) / 3 - cube / 24;
}
