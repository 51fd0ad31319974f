import { QgrainError } from '@qgrain/tensor';

function checkPair(reference: ArrayLike<number>, test: ArrayLike<number>): void {
  if (reference.length !== test.length) {
    throw new QgrainError(
      'shape-mismatch',
      `cannot compare arrays of ${reference.length} and ${test.length} elements; compare tensors of the same shape`,
    );
  }
}

/** 10 log10(signal / noise) in dB: +Infinity for zero noise, -Infinity for zero signal with noise. */
export function sqnrFromSums(signal: number, noise: number): number {
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}

/** Mean squared error between a reference and an approximation. */
export function meanSquaredError(reference: ArrayLike<number>, test: ArrayLike<number>): number {
  checkPair(reference, test);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const e = reference[i]! - test[i]!;
    sum += e * e;
  }
  return reference.length === 0 ? 0 : sum / reference.length;
}

/** Signal-to-quantization-noise ratio in dB: 10 log10(sum ref^2 / sum (ref - test)^2). */
export function sqnr(reference: ArrayLike<number>, test: ArrayLike<number>): number {
  checkPair(reference, test);
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const e = r - test[i]!;
    signal += r * r;
    noise += e * e;
  }
  return sqnrFromSums(signal, noise);
}

/** Cosine similarity; 1 for two zero vectors (they agree), 0 when only one is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPair(a, b);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/** Largest |reference - test|. */
export function maxAbsError(reference: ArrayLike<number>, test: ArrayLike<number>): number {
  checkPair(reference, test);
  let m = 0;
  for (let i = 0; i < reference.length; i++) {
    const e = Math.abs(reference[i]! - test[i]!);
    if (e > m || e !== e) m = e;
  }
  return m;
}
