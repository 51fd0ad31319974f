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
  // Every candidate's error is at least its bound, so candidates are tried from the lowest bound
  // up, and the search stops at the first bound above the least error found: the result is the
  // one a search over every candidate gives, ties to the smallest i included.
  const bounds = errorLowerBounds(counts, used, steps);
  const order = Array.from({ length: used }, (_, k) => k + 1).sort(
    (a, b) => bounds[a]! - bounds[b]! || a - b,
  );
  const unit = width * width;
  let best = used;
  let bestError = Number.POSITIVE_INFINITY;
  for (const i of order) {
    if (bounds[i]! * unit > bestError) break;
    const error = squaredErrorOver(counts, nonEmpty, width, i * width, steps);
    if (error < bestError || (error === bestError && i < best)) {
      bestError = error;
      best = i;
    }
  }
  return best;
}

/** max |P(r)| over r in [-step/2, step/2] for P(r) = r^3 / 3 - r step^2 / 12, per step^3. */
const SAWTOOTH_WOBBLE = 1 / (18 * Math.sqrt(12));
/** Edges whose sawtooth term a bound computes exactly: the ones with the largest count changes. */
const EXACT_EDGES = 16;

/**
 * A lower bound on the expected squared error (in units of width^2) of every candidate i = 1 ..
 * used, in O(used * EXACT_EDGES). Summed by parts, the error is sum over bin edges m of
 * d_m * F(m) with d_m = counts[m - 1] - counts[m] (bin units, so edge m is at m). Below the last
 * rounding boundary b, F(m) = m * step^2 / 12 + P(r_m), where r_m is m's distance to its nearest
 * multiple of the step and P(r) = r^3 / 3 - r * step^2 / 12; above it, F(m) = b * step^2 / 12 +
 * ((m - T)^3 + step^3 / 8) / 3. Every term but the P(r_m) ones is a polynomial in m, summed for
 * all candidates from prefix sums of d_m * m^k. P(r_m) is computed for the edges with the largest
 * |d_m| and bounded by |P| <= step^3 / (18 sqrt 12) for the rest. A margin covers the rounding of
 * the prefix sums. Exported for tests.
 */
export function errorLowerBounds(counts: ArrayLike<number>, used: number, steps: number): Float64Array {
  const edges = used + 1;
  const d = new Float64Array(edges);
  for (let m = 0; m < edges; m++) d[m] = (m > 0 ? counts[m - 1]! : 0) - (m < used ? counts[m]! : 0);
  const p0 = new Float64Array(edges);
  const p1 = new Float64Array(edges);
  const p2 = new Float64Array(edges);
  const p3 = new Float64Array(edges);
  const abs = new Float64Array(edges);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let sa = 0;
  for (let m = 0; m < edges; m++) {
    const v = d[m]!;
    s0 += v;
    s1 += v * m;
    s2 += v * m * m;
    s3 += v * m * m * m;
    sa += Math.abs(v);
    p0[m] = s0;
    p1[m] = s1;
    p2[m] = s2;
    p3[m] = s3;
    abs[m] = sa;
  }
  const exact = Array.from({ length: edges }, (_, m) => m)
    .filter((m) => d[m] !== 0)
    .sort((a, b) => Math.abs(d[b]!) - Math.abs(d[a]!) || a - b)
    .slice(0, EXACT_EDGES)
    .sort((a, b) => a - b);
  const margin = 1e-12 * edges * edges * edges * sa;
  const bounds = new Float64Array(edges);
  for (let i = 1; i <= used; i++) {
    const step = i / steps;
    const square = step * step;
    const cube = square * step;
    const boundary = i - step / 2;
    const k = Math.min(Math.floor(boundary), used);
    // Edges 0..k are below the boundary, k + 1..used above it.
    const below = (square / 12) * p1[k]!;
    const a0 = s0 - p0[k]!;
    const a1 = s1 - p1[k]!;
    const a2 = s2 - p2[k]!;
    const a3 = s3 - p3[k]!;
    const above =
      ((boundary * square) / 12 + cube / 24) * a0 + (a3 - 3 * i * a2 + 3 * i * i * a1 - i * i * i * a0) / 3;
    let wobble = 0;
    let covered = 0;
    for (const m of exact) {
      if (m > k) break;
      const r = m - step * Math.floor(m / step + 0.5);
      wobble += d[m]! * ((r * r * r) / 3 - (r * square) / 12);
      covered += Math.abs(d[m]!);
    }
    const rest = SAWTOOTH_WOBBLE * cube * Math.max(0, abs[k]! - covered) * (1 + 1e-9);
    bounds[i] = below + above + wobble - rest - margin;
  }
  return bounds;
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
