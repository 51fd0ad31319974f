import {
  type Backend,
  type GroupLayout,
  QgrainError,
  type QuantRange,
  countNonFinite,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  formatShape,
  jsBackend,
  roundHalfToEven,
} from '@qgrain/tensor';
import {
  type AxisContext,
  type ResolvedGranularity,
  layoutOf,
  resolveGranularity,
  scaleShapeOf,
} from './granularity.js';
import { type QuantSpec, formatQuantSpec, quantRangeOf } from './quant-spec.js';

/** Scale and zero point per group, shaped the way ONNX's QuantizeLinear/DequantizeLinear want them. */
export interface QParams {
  readonly spec: QuantSpec;
  /** Shape of the tensor these parameters quantize. */
  readonly shape: readonly number[];
  readonly granularity: ResolvedGranularity;
  readonly layout: GroupLayout;
  readonly range: QuantRange;
  /** One scale per group, already rounded to the spec's scale type. */
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  /** [] per-tensor, [C] per-axis, blocked shape for per-block/per-token. */
  readonly scaleShape: readonly number[];
}

/** onnxruntime's scale for a range of zero width (an all-zero group): any finite scale works, 1 is its choice. */
export const ZERO_RANGE_SCALE = 1;
/** Smallest scale kept for float32 scales: the smallest normal float32, so x / scale stays finite for normal x. */
export const MIN_SCALE_FLOAT32 = 2 ** -126;
/** Smallest scale kept for float16 scales: the smallest float16 subnormal (a smaller one would store as 0). */
export const MIN_SCALE_FLOAT16 = 2 ** -24;

/** Options naming the tensor (for errors) and the axes its op implies. */
export interface QParamsOptions {
  readonly context?: AxisContext;
  /** Tensor name used in error messages. */
  readonly name?: string;
}

function roundScale(scale: number, spec: QuantSpec): number {
  if (spec.scaleType === 'float16') {
    const s = float16BitsToFloat32(float32ToFloat16Bits(scale));
    return Math.max(s, MIN_SCALE_FLOAT16);
  }
  return Math.max(Math.fround(scale), MIN_SCALE_FLOAT32);
}

function groupParams(lo: number, hi: number, spec: QuantSpec, range: QuantRange): [number, number] {
  const { qmin, qmax } = range;
  if (spec.symmetric) {
    const absMax = Math.max(-lo, hi);
    // Signed: zero point 0, scale fills [-qmax, qmax]. Unsigned: zero point in the middle.
    const zeroPoint = spec.type.signed ? 0 : Math.floor((qmin + qmax + 1) / 2);
    const halfSpan = spec.type.signed ? qmax : Math.min(qmax - zeroPoint, zeroPoint - qmin);
    if (absMax === 0) return [ZERO_RANGE_SCALE, zeroPoint];
    return [roundScale(absMax / halfSpan, spec), zeroPoint];
  }
  if (hi === lo) return [ZERO_RANGE_SCALE, Math.min(Math.max(qmin, 0), qmax)];
  const scale = roundScale((hi - lo) / (qmax - qmin), spec);
  // The zero point is an integer, so float 0 is exactly representable.
  const zeroPoint = Math.min(Math.max(qmin - roundHalfToEven(lo / scale), qmin), qmax);
  return [scale, zeroPoint];
}

/** What both ways of building QParams start from: the spec resolved for this tensor's shape. */
function resolveFor(spec: QuantSpec, shape: readonly number[], options: QParamsOptions) {
  const granularity = resolveGranularity(spec.granularity, shape, options.context);
  return {
    resolved: {
      granularity,
      layout: layoutOf(granularity, shape),
      range: quantRangeOf(spec),
      scaleShape: scaleShapeOf(granularity, shape),
    },
    where: options.name ? `tensor '${options.name}'` : `tensor of shape ${formatShape(shape)}`,
  };
}

/**
 * QParams from each group's observed (min, max). The range is first widened to contain 0; an
 * empty group (min > max, as left by an observer that saw nothing) counts as [0, 0].
 */
export function qparamsFromRanges(
  min: ArrayLike<number>,
  max: ArrayLike<number>,
  spec: QuantSpec,
  shape: readonly number[],
  options: QParamsOptions = {},
): QParams {
  const { resolved, where } = resolveFor(spec, shape, options);
  const { layout, range } = resolved;
  if (min.length !== layout.groups || max.length !== layout.groups) {
    throw new QgrainError(
      'shape-mismatch',
      `${where}: ${formatQuantSpec(spec)} has ${layout.groups} groups, but ${min.length} minima and ${max.length} maxima were given`,
    );
  }
  const scale = new Float32Array(layout.groups);
  const zeroPoint = new Int32Array(layout.groups);
  for (let g = 0; g < layout.groups; g++) {
    let lo = min[g]!;
    let hi = max[g]!;
    if (lo > hi) lo = hi = 0;
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new QgrainError(
        'non-finite-range',
        `${where}: group ${g} has the range [${lo}, ${hi}], which is not finite; remove Inf/NaN values or set an explicit range for this tensor`,
        options.name ? { tensor: options.name } : {},
      );
    }
    [scale[g], zeroPoint[g]] = groupParams(Math.min(lo, 0), Math.max(hi, 0), spec, range);
  }
  return { spec, shape, ...resolved, scale, zeroPoint };
}

/** QParams from explicit scales and zero points (a user override), checked against the spec. */
export function qparamsFromValues(
  scale: ArrayLike<number>,
  zeroPoint: ArrayLike<number>,
  spec: QuantSpec,
  shape: readonly number[],
  options: QParamsOptions = {},
): QParams {
  const { resolved, where } = resolveFor(spec, shape, options);
  const { layout, range } = resolved;
  if (scale.length !== layout.groups || zeroPoint.length !== layout.groups) {
    throw new QgrainError(
      'shape-mismatch',
      `${where}: ${formatQuantSpec(spec)} needs ${layout.groups} scales and zero points, got ${scale.length} and ${zeroPoint.length}`,
    );
  }
  for (let g = 0; g < layout.groups; g++) {
    const s = scale[g]!;
    const z = zeroPoint[g]!;
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new QgrainError(
        'invalid-argument',
        `${where}: scale ${s} of group ${g} must be positive and finite`,
      );
    }
    if (!Number.isInteger(z) || z < range.qmin || z > range.qmax) {
      throw new QgrainError(
        'invalid-argument',
        `${where}: zero point ${z} of group ${g} is not an integer in [${range.qmin}, ${range.qmax}]`,
      );
    }
  }
  return { spec, shape, ...resolved, scale: Float32Array.from(scale), zeroPoint: Int32Array.from(zeroPoint) };
}

/** Options for measuring QParams from a tensor's own values (weights). */
export interface ObserveOptions extends QParamsOptions {
  readonly backend?: Backend;
}

/** QParams from the values themselves: per-group abs-max (symmetric) or min/max (asymmetric). */
export function qparamsFromData(
  x: Float32Array,
  shape: readonly number[],
  spec: QuantSpec,
  options: ObserveOptions = {},
): QParams {
  const backend = options.backend ?? jsBackend;
  const layout = layoutOf(resolveGranularity(spec.granularity, shape, options.context), shape);
  // The reductions skip NaN, so a NaN weight would quietly quantize to the zero point: refuse it
  // here, where every weight's parameters are measured. (Infinities fail the range check below.)
  const bad = countNonFinite(x);
  if (bad.nan > 0) {
    const where = options.name ? `weight '${options.name}'` : `a tensor of shape ${formatShape(shape)}`;
    throw new QgrainError(
      'non-finite-range',
      `${where} holds ${bad.nan} NaN value(s) (first at element ${bad.firstNan}); a NaN weight cannot be quantized, fix or re-export the model, or keep this layer float`,
      { ...(options.name ? { tensor: options.name } : {}), value: bad.nan },
    );
  }
  if (spec.symmetric) {
    const absMax = new Float32Array(layout.groups);
    backend.absMax(x, layout, absMax);
    return qparamsFromRanges(
      absMax.map((a) => -a),
      absMax,
      spec,
      shape,
      options,
    );
  }
  const min = new Float32Array(layout.groups).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(layout.groups).fill(Number.NEGATIVE_INFINITY);
  backend.minMax(x, layout, min, max);
  return qparamsFromRanges(min, max, spec, shape, options);
}
