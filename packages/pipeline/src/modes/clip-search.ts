import { type QParams, qparamsFromRanges, qparamsFromValues } from '@qgrain/granularity';
import { type GroupLayout, type QuantRange, roundHalfToEven } from '@qgrain/tensor';

/** How each block's clipping range is chosen: round-to-nearest on the full range, or a search. */
export type ClipMethod = 'rtn' | 'mse';

/**
 * Smallest fraction of a block's range the search tries: a deliberately wide floor (clipping half
 * of a block's range away is already far past what pays at 4 bits), so the search's answer is
 * not limited by the grid; 50 steps keep its cost at 51 fake-quant passes per weight.
 */
export const CLIP_SEARCH_MIN_RATIO = 0.5;
/** Candidates between CLIP_SEARCH_MIN_RATIO and 1 (inclusive): steps of 0.01 of the range. */
export const CLIP_SEARCH_STEPS = 50;

/** Calls `visit(group, index)` for every element, in memory order. */
function forEachElement(layout: GroupLayout, visit: (group: number, index: number) => void): void {
  const { outer, dim, inner, block, mode } = layout;
  const blocks = Math.ceil(dim / block);
  let index = 0;
  for (let o = 0; o < outer; o++) {
    for (let d = 0; d < dim; d++) {
      const b = Math.floor(d / block);
      const base = mode === 'shared' ? b : (o * blocks + b) * inner;
      for (let i = 0; i < inner; i++) visit(mode === 'shared' ? base : base + i, index++);
    }
  }
}

/** Squared error of fake-quantizing each group with the given scales and zero points. */
export function groupSquaredErrors(
  x: Float32Array,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
): Float64Array {
  const errors = new Float64Array(layout.groups);
  forEachElement(layout, (g, i) => {
    const s = scale[g]!;
    const z = zeroPoint[g]!;
    const q = Math.min(Math.max(roundHalfToEven(x[i]! / s) + z, range.qmin), range.qmax);
    const e = (q - z) * s - x[i]!;
    errors[g]! += e * e;
  });
  return errors;
}

/**
 * Chooses each block's clipping range by a grid search: the full range shrunk by r for r from 1
 * down to CLIP_SEARCH_MIN_RATIO, keeping, block by block, the r whose scale and zero point give
 * the least squared error of the block's own values. Round-to-nearest is the r = 1 candidate, so
 * the result is never worse than it on any block. Scales are rounded to the spec's scale type
 * before they are scored, so a float16 scale is judged as it will be stored.
 */
export function searchClipping(x: Float32Array, rtn: QParams): QParams {
  const { layout, spec } = rtn;
  const groups = layout.groups;
  const lo = new Float32Array(groups).fill(Number.POSITIVE_INFINITY);
  const hi = new Float32Array(groups).fill(Number.NEGATIVE_INFINITY);
  forEachElement(layout, (g, i) => {
    const v = x[i]!;
    if (v < lo[g]!) lo[g] = v;
    if (v > hi[g]!) hi[g] = v;
  });
  if (spec.symmetric) {
    for (let g = 0; g < groups; g++) {
      const m = Math.max(-lo[g]!, hi[g]!);
      lo[g] = -m;
      hi[g] = m;
    }
  }
  const bestScale = Float32Array.from(rtn.scale);
  const bestZero = Int32Array.from(rtn.zeroPoint);
  const bestError = groupSquaredErrors(x, layout, rtn.scale, rtn.zeroPoint, rtn.range);
  const context =
    rtn.granularity.kind === 'per-block'
      ? { blockAxis: rtn.granularity.axis }
      : rtn.granularity.kind === 'per-axis'
        ? { channelAxis: rtn.granularity.axis }
        : {};
  const shrunkLo = new Float32Array(groups);
  const shrunkHi = new Float32Array(groups);
  for (let step = 1; step <= CLIP_SEARCH_STEPS; step++) {
    const ratio = 1 - ((1 - CLIP_SEARCH_MIN_RATIO) * step) / CLIP_SEARCH_STEPS;
    for (let g = 0; g < groups; g++) {
      shrunkLo[g] = lo[g]! * ratio;
      shrunkHi[g] = hi[g]! * ratio;
    }
    const candidate = qparamsFromRanges(shrunkLo, shrunkHi, spec, rtn.shape, { context });
    const errors = groupSquaredErrors(x, layout, candidate.scale, candidate.zeroPoint, rtn.range);
    for (let g = 0; g < groups; g++) {
      if (errors[g]! < bestError[g]!) {
        bestError[g] = errors[g]!;
        bestScale[g] = candidate.scale[g]!;
        bestZero[g] = candidate.zeroPoint[g]!;
      }
    }
  }
  return qparamsFromValues(bestScale, bestZero, spec, rtn.shape, { context });
}
