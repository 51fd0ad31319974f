import {
  type GroupLayout,
  QgrainError,
  formatShape,
  normalizeAxis,
  perAxisLayout,
  perBlockLayout,
  perTensorLayout,
} from '@qgrain/tensor';

/** A named axis: `channel` is chosen by the op that owns the tensor, `row`/`col` are axes -2/-1. */
export type AxisName = 'channel' | 'row' | 'col';

/**
 * How many values share one scale and zero point.
 * - per-tensor: one group.
 * - per-axis: one group per index of an axis (per-channel, per-row, per-col name axes).
 * - per-token: one group per row of a [..., hidden] activation.
 * - per-block: an axis cut into blocks of `size`, the last block possibly shorter; without an
 *   axis, the axis comes from the op (the reduction axis of a MatMul weight, say) or is the last.
 */
export type Granularity =
  | { readonly kind: 'per-tensor' }
  | { readonly kind: 'per-axis'; readonly axis: number | AxisName }
  | { readonly kind: 'per-token' }
  | { readonly kind: 'per-block'; readonly size: number; readonly axis?: number };

/** A granularity with its axis fixed for one tensor shape: what kernels and ONNX attributes use. */
export type ResolvedGranularity =
  | { readonly kind: 'per-tensor' }
  | { readonly kind: 'per-axis'; readonly axis: number }
  | { readonly kind: 'per-block'; readonly axis: number; readonly size: number };

/** What the op that owns a tensor says about its axes (e.g. Conv weights: channelAxis 0). */
export interface AxisContext {
  /** The output-channel axis, used by `per-channel`. Default 0. */
  readonly channelAxis?: number;
  /** The axis blocks run along when a per-block granularity names none. Default: the last axis. */
  readonly blockAxis?: number;
}

/** One scale (and zero point) for the whole tensor. */
export const perTensor = (): Granularity => ({ kind: 'per-tensor' });
/** One scale per index of `axis`: a number, or a named axis resolved by the weight's role. */
export const perAxis = (axis: number | AxisName): Granularity => ({ kind: 'per-axis', axis });
/** One scale per output channel (the axis a weight's role names as its channel axis). */
export const perChannel = (): Granularity => ({ kind: 'per-axis', axis: 'channel' });
/** One scale per token: one group per row of a [..., hidden] activation. */
export const perToken = (): Granularity => ({ kind: 'per-token' });
/** One scale per run of `size` consecutive values along `axis` (default: the block axis of the context). */
export const perBlock = (size: number, axis?: number): Granularity =>
  axis === undefined ? { kind: 'per-block', size } : { kind: 'per-block', size, axis };

const NAMED_AXES: Record<string, AxisName> = {
  'per-channel': 'channel',
  'per-row': 'row',
  'per-col': 'col',
};

function invalid(text: string, why: string): QgrainError {
  return new QgrainError(
    'invalid-spec',
    `invalid granularity '${text}': ${why}; expected per-tensor, per-channel, per-row, per-col, per-axis:<axis>, per-token, per-block:<size> or per-block:<size>@<axis>`,
  );
}

function parseInteger(text: string, part: string, what: string): number {
  if (!/^-?\d+$/.test(part)) throw invalid(text, `${what} '${part}' is not an integer`);
  return Number(part);
}

/** Parses the granularity half of a scheme text (`per-block:32`, `per-axis:1`, ...). */
export function parseGranularity(text: string): Granularity {
  const named = NAMED_AXES[text];
  if (named) return perAxis(named);
  if (text === 'per-tensor') return perTensor();
  if (text === 'per-token') return perToken();
  const [head, arg, ...rest] = text.split(':');
  if (rest.length > 0 || arg === undefined) throw invalid(text, 'unknown form');
  if (head === 'per-axis') return perAxis(parseInteger(text, arg, 'axis'));
  if (head === 'per-block') {
    const [size, axis, ...more] = arg.split('@');
    if (more.length > 0) throw invalid(text, "more than one '@'");
    const blockSize = parseInteger(text, size!, 'block size');
    if (blockSize < 1) throw invalid(text, 'the block size must be at least 1');
    return axis === undefined ? perBlock(blockSize) : perBlock(blockSize, parseInteger(text, axis, 'axis'));
  }
  throw invalid(text, `unknown granularity '${head}'`);
}

/** The text form of a granularity; parseGranularity(formatGranularity(g)) gives g back. */
export function formatGranularity(g: Granularity | ResolvedGranularity): string {
  switch (g.kind) {
    case 'per-tensor':
    case 'per-token':
      return g.kind;
    case 'per-axis':
      if (typeof g.axis === 'string') return g.axis === 'channel' ? 'per-channel' : `per-${g.axis}`;
      return `per-axis:${g.axis}`;
    case 'per-block':
      return g.axis === undefined ? `per-block:${g.size}` : `per-block:${g.size}@${g.axis}`;
  }
}

function resolveNamedAxis(name: AxisName, rank: number, context: AxisContext): number {
  if (name === 'channel') return context.channelAxis ?? 0;
  if (rank < 2) return 0;
  return name === 'row' ? -2 : -1;
}

/** Fixes the axes of `g` for a tensor of `shape`, using what the owning op says. */
export function resolveGranularity(
  g: Granularity,
  shape: readonly number[],
  context: AxisContext = {},
): ResolvedGranularity {
  const rank = shape.length;
  const what = `tensor of shape ${formatShape(shape)}`;
  switch (g.kind) {
    case 'per-tensor':
      return g;
    case 'per-axis': {
      const axis = typeof g.axis === 'string' ? resolveNamedAxis(g.axis, rank, context) : g.axis;
      if (rank === 0) throw invalid(formatGranularity(g), `a scalar has no axis`);
      return { kind: 'per-axis', axis: normalizeAxis(axis, rank, what) };
    }
    case 'per-token': {
      if (rank === 0) throw invalid('per-token', 'a scalar has no token axis');
      return { kind: 'per-block', axis: rank - 1, size: Math.max(shape[rank - 1]!, 1) };
    }
    case 'per-block': {
      if (rank === 0) throw invalid(formatGranularity(g), 'a scalar has no axis to cut into blocks');
      const axis = normalizeAxis(g.axis ?? context.blockAxis ?? -1, rank, what);
      return { kind: 'per-block', axis, size: g.size };
    }
  }
}

/** The kernel-level group layout of a resolved granularity over `shape`. */
export function layoutOf(g: ResolvedGranularity, shape: readonly number[]): GroupLayout {
  switch (g.kind) {
    case 'per-tensor':
      return perTensorLayout(shape);
    case 'per-axis':
      return perAxisLayout(shape, g.axis);
    case 'per-block':
      return perBlockLayout(shape, g.axis, g.size);
  }
}

/**
 * The shape ONNX expects for the scale and zero point: [] per-tensor, [C] per-axis (1-D), and for
 * blocks the tensor's rank with ceil(D / B) on the blocked axis (QuantizeLinear-21's block_size).
 */
export function scaleShapeOf(g: ResolvedGranularity, shape: readonly number[]): number[] {
  switch (g.kind) {
    case 'per-tensor':
      return [];
    case 'per-axis':
      return [shape[g.axis]!];
    case 'per-block':
      return shape.map((d, a) => (a === g.axis ? Math.ceil(d / g.size) : d));
  }
}
