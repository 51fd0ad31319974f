import { formatShape, QgrainError, shapeSize } from '@qgrain/tensor';

/**
 * What a constant weight is to the op that reads it, in the terms quantization needs: which axis
 * holds output channels (per-channel scales), and along which axis blocks run (the reduction axis,
 * the one a dot product sums over), seen in a 2-D view where the op's layout needs one.
 */
export interface WeightRole {
  readonly op: string;
  /** Input index of the weight on its node (1 for Conv/ConvTranspose/Gemm B/MatMul B). */
  readonly input: number;
  /** Output-channel axis of the weight as stored. */
  readonly channelAxis: number;
  /** Shape in which blocks are cut (e.g. a Conv weight as [O, I*kh*kw]). */
  readonly blockView: readonly number[];
  /** Axis of `blockView` along which blocks run. */
  readonly blockAxis: number;
  /** A grouped convolution with one input channel per group: each channel is its own filter. */
  readonly depthwise: boolean;
  /** The op's `group` attribute (1 when absent). */
  readonly group: number;
}

/** The ops whose constant weights qgrain quantizes per channel, and which input holds the weight. */
export const WEIGHT_OPS: Readonly<Record<string, number>> = {
  Conv: 1,
  ConvTranspose: 1,
  Gemm: 1,
  MatMul: 1,
};

/**
 * Recurrent ops and their gate count: W is [directions, gates * hidden, input] and R is
 * [directions, gates * hidden, hidden], gate rows stacked (ONNX operators LSTM, GRU, RNN).
 */
export const RECURRENT_GATES: Readonly<Record<string, number>> = { LSTM: 4, GRU: 3, RNN: 1 };

/** The inputs of a recurrent op that hold weights: W (input projection) and R (recurrence). */
export const RECURRENT_WEIGHT_INPUTS: readonly number[] = [1, 2];

/**
 * The role of a recurrent op's W or R stored as it is read: one scale per gate row (axis 1, shared
 * by the directions of a bidirectional layer), blocks along the axis each gate's dot product sums.
 */
export function recurrentWeightRole(
  op: string,
  input: number,
  shape: readonly number[],
  where = 'weight',
): WeightRole {
  if (shape.length !== 3)
    throw badShape(op, shape, where, `an ${op} weight is [directions, gates * hidden, inputs]`);
  return {
    op,
    input,
    channelAxis: 1,
    blockView: [shape[0]! * shape[1]!, shape[2]!],
    blockAxis: 1,
    depthwise: false,
    group: 1,
  };
}

/**
 * The role of an initializer a recurrent weight is made from by layout ops (see constant-chain):
 * one scale per index of `rowAxis`, which lands in whole gate rows. Blocks are cut in a 2-D
 * source along its other axis; a source of another rank has no block view (undefined blockAxis
 * is reported as -1).
 */
export function recurrentSourceRole(
  op: string,
  input: number,
  shape: readonly number[],
  rowAxis: number,
): WeightRole {
  const twoD = shape.length === 2;
  return {
    op,
    input,
    channelAxis: rowAxis,
    blockView: twoD ? shape : [shape[rowAxis]!, shapeSize(shape) / shape[rowAxis]!],
    blockAxis: twoD ? 1 - rowAxis : rowAxis === 0 ? 1 : -1,
    depthwise: false,
    group: 1,
  };
}

/** Attributes that change how a weight is laid out. */
export interface WeightAttributes {
  readonly group?: number;
  readonly transB?: number;
}

/**
 * The role of a weight of `shape` on an op, or undefined when qgrain does not quantize it as a
 * weight (e.g. a 1-D MatMul operand). Throws when the shape contradicts the op.
 */
export function weightRoleOf(
  op: string,
  shape: readonly number[],
  attributes: WeightAttributes = {},
  where = 'weight',
): WeightRole | undefined {
  const group = attributes.group ?? 1;
  const rank = shape.length;
  switch (op) {
    case 'Conv': {
      if (rank < 3) throw badShape(op, shape, where, 'a Conv weight is [O, I/group, k...]');
      return {
        op,
        input: 1,
        channelAxis: 0,
        blockView: [shape[0]!, shapeSize(shape.slice(1))],
        blockAxis: 1,
        depthwise: group > 1 && shape[1] === 1,
        group,
      };
    }
    case 'ConvTranspose': {
      if (rank < 3) throw badShape(op, shape, where, 'a ConvTranspose weight is [C, O/group, k...]');
      // Output channels live on axis 1 (per group); the reduction runs over input channels, axis 0.
      return {
        op,
        input: 1,
        channelAxis: 1,
        blockView: [shape[0]!, shapeSize(shape.slice(1))],
        blockAxis: 0,
        depthwise: group > 1 && shape[1] === 1,
        group,
      };
    }
    case 'Gemm': {
      if (rank !== 2) throw badShape(op, shape, where, 'a Gemm B is 2-D');
      const transposed = (attributes.transB ?? 0) !== 0;
      // B is [K, N], or [N, K] when transB: channels are N, blocks run along K.
      return {
        op,
        input: 1,
        channelAxis: transposed ? 0 : 1,
        blockView: shape,
        blockAxis: transposed ? 1 : 0,
        depthwise: false,
        group: 1,
      };
    }
    case 'MatMul': {
      if (rank < 2) return undefined;
      return {
        op,
        input: 1,
        channelAxis: rank - 1,
        blockView: shape,
        blockAxis: rank - 2,
        depthwise: false,
        group: 1,
      };
    }
    default:
      return undefined;
  }
}

function badShape(op: string, shape: readonly number[], where: string, expected: string): QgrainError {
  return new QgrainError(
    'shape-mismatch',
    `${where}: ${op} weight has shape ${formatShape(shape)}; ${expected}`,
  );
}
