/** TensorRT quantizes |x| into 128 levels for int8 (GTC 2017, "Entropy Calibration - pseudocode"). */
export const DEFAULT_ENTROPY_LEVELS = 128;

/**
 * The count moved onto empty bins before taking KL(P || Q), as MXNet's and ONNX Runtime's
 * `smooth_distribution` do (eps = 0.0001); without it a single clipped outlier, which Q cannot
 * represent, would make every clipping candidate infinitely bad.
 */
export const ENTROPY_SMOOTHING = 0.0001;

/**
 * The number of bins (the threshold is `bins * width`) that TensorRT's entropy calibration picks
 * from a histogram of |x|. For each candidate i from `levels` up to the last non-empty bin:
 * - P is bins 0..i-1 with every count from bin i on added to bin i-1 (clipped values saturate);
 * - Q quantizes the unclipped bins 0..i-1 to `levels` levels: the bins are cut into `levels` runs
 *   of floor(i / levels) bins (the last run takes the remainder), each run's total is shared
 *   equally by the run's bins where P is non-zero, and bins where P is zero get 0;
 * - both are smoothed (each empty bin gets `ENTROPY_SMOOTHING`, taken evenly from the non-empty
 *   ones, so the totals do not change) and the divergence is KL(P || Q) of the normalised pair.
 * The smallest i with the least divergence wins. With no more non-empty bins than levels, nothing
 * needs clipping and every bin is kept.
 */
export function entropyThresholdBins(counts: ArrayLike<number>, levels = DEFAULT_ENTROPY_LEVELS): number {
  let used = counts.length;
  while (used > 0 && counts[used - 1] === 0) used--;
  if (used <= levels) return used;
  let total = 0;
  for (let j = 0; j < used; j++) total += counts[j]!;
  let best = used;
  let bestDivergence = Number.POSITIVE_INFINITY;
  let inside = 0;
  for (let j = 0; j < levels - 1; j++) inside += counts[j]!;
  const runTotals = new Float64Array(levels);
  const runNonEmpty = new Float64Array(levels);
  for (let i = levels; i <= used; i++) {
    inside += counts[i - 1]!;
    const divergence = divergenceAt(counts, i, levels, total, inside, runTotals, runNonEmpty);
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = i;
    }
  }
  return best;
}

/** Smoothed KL(P || Q) for candidate i; `inside` counts bins 0..i-1, `total` all bins. */
function divergenceAt(
  counts: ArrayLike<number>,
  i: number,
  levels: number,
  total: number,
  inside: number,
  runTotals: Float64Array,
  runNonEmpty: Float64Array,
): number {
  const perLevel = Math.floor(i / levels);
  const clipped = total - inside;
  const pAt = (j: number): number => (j === i - 1 ? counts[j]! + clipped : counts[j]!);
  // Pass 1: each run's total and non-empty bins of P, and how many bins of P and Q are non-empty.
  let nonEmptyP = 0;
  let nonEmptyQ = 0;
  for (let level = 0; level < levels; level++) {
    const start = level * perLevel;
    const end = level === levels - 1 ? i : start + perLevel;
    let runTotal = 0;
    let nonEmpty = 0;
    for (let j = start; j < end; j++) {
      runTotal += counts[j]!;
      if (pAt(j) > 0) nonEmpty++;
    }
    runTotals[level] = runTotal;
    runNonEmpty[level] = nonEmpty;
    nonEmptyP += nonEmpty;
    if (runTotal > 0) nonEmptyQ += nonEmpty;
  }
  if (nonEmptyQ === 0) return Number.POSITIVE_INFINITY;
  const eps = ENTROPY_SMOOTHING;
  const takeP = (eps * (i - nonEmptyP)) / nonEmptyP;
  const takeQ = (eps * (i - nonEmptyQ)) / nonEmptyQ;
  // Pass 2: the divergence of the smoothed, normalised distributions. An empty bin of P adds the
  // same term wherever it is, so that term is computed once (and still added in bin order, which
  // keeps the sum what it was). Likewise q is one value over a run's non-empty bins.
  const pEmpty = eps / total;
  const emptyTerm = pEmpty * Math.log(pEmpty / (eps / inside));
  let divergence = 0;
  for (let level = 0; level < levels; level++) {
    const start = level * perLevel;
    const end = level === levels - 1 ? i : start + perLevel;
    const share = runNonEmpty[level]! > 0 ? runTotals[level]! / runNonEmpty[level]! : 0;
    const q = (share > 0 ? share - takeQ : eps) / inside;
    for (let j = start; j < end; j++) {
      const pRaw = j === i - 1 ? counts[j]! + clipped : counts[j]!;
      if (pRaw > 0) {
        const p = (pRaw - takeP) / total;
        divergence += p * Math.log(p / q);
      } else divergence += emptyTerm;
    }
  }
  return divergence;
}
