import { QgrainError } from '@qgrain/tensor';

/** ONNX Runtime's default percentile for its Percentile calibration method. */
export const DEFAULT_PERCENTILE = 99.999;

// q * n is computed in floating point, so a rank that is exactly an integer (99.99% of 10000
// values) can come out a hair above it; this relative slack keeps ceil() from skipping a rank.
const RANK_SLACK = 1e-12;

/** The nearest-rank definition: the smallest rank r (1-based) with r >= q * n, kept in [1, n]. */
export function nearestRank(fraction: number, n: number): number {
  const r = Math.ceil(fraction * n - n * RANK_SLACK);
  return Math.min(Math.max(r, 1), n);
}

/** Index of the bin that holds the value of rank `rank` (1-based) in sorted order. */
export function binOfRank(counts: ArrayLike<number>, rank: number): number {
  let seen = 0;
  for (let j = 0; j < counts.length; j++) {
    seen += counts[j]!;
    if (seen >= rank) return j;
  }
  return counts.length - 1;
}

/** Throws unless 0 < percentile <= 100. */
export function checkPercentile(percentile: number, what = 'percentile'): void {
  if (!(percentile > 0 && percentile <= 100)) {
    throw new QgrainError('invalid-argument', `${what} ${percentile} must be in (0, 100], e.g. 99.99`);
  }
}

/**
 * Symmetric percentile threshold from a histogram of |x| whose bin j is [j * width, (j+1) * width):
 * the upper edge of the bin that holds the nearest-rank P-th percentile of |x|. Taking the upper
 * edge means at least P% of the values lie inside [-T, T] (ONNX Runtime takes the lower edge,
 * which can leave the percentile's own bin outside). 0 for an empty histogram.
 */
export function percentileThreshold(counts: ArrayLike<number>, width: number, percentile: number): number {
  checkPercentile(percentile);
  let n = 0;
  for (let j = 0; j < counts.length; j++) n += counts[j]!;
  if (n === 0) return 0;
  return (binOfRank(counts, nearestRank(percentile / 100, n)) + 1) * width;
}

/**
 * Two-tailed percentile range from a histogram of x whose bin j is [lowerEdge + j * width, ...):
 * (100 - P) / 2 percent is cut from each tail, as ONNX Runtime's asymmetric Percentile does.
 * The upper end is the upper edge of the bin holding rank r = ceil(q * n), q = 1 - (100 - P) / 200;
 * the lower end mirrors it, the lower edge of the bin holding rank n + 1 - r. Undefined when empty.
 */
export function percentileRange(
  counts: ArrayLike<number>,
  lowerEdge: number,
  width: number,
  percentile: number,
): [number, number] | undefined {
  checkPercentile(percentile);
  let n = 0;
  for (let j = 0; j < counts.length; j++) n += counts[j]!;
  if (n === 0) return undefined;
  const upperRank = nearestRank(1 - (100 - percentile) / 200, n);
  const lowerRank = n + 1 - upperRank;
  return [
    lowerEdge + binOfRank(counts, lowerRank) * width,
    lowerEdge + (binOfRank(counts, upperRank) + 1) * width,
  ];
}
