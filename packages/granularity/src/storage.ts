import { formatShape, QgrainError, shapeSize } from '@qgrain/tensor';
import { type AxisContext, layoutOf, resolveGranularity } from './granularity.js';
import type { QuantSpec } from './quant-spec.js';
import { storageBitsOf } from './quant-type.js';

/** What a quantized tensor costs to store. */
export interface StorageCost {
  readonly elements: number;
  readonly groups: number;
  /** Bits of the quantized values, packed (4-bit types two per byte). */
  readonly valueBits: number;
  /** Bits of the scales (float32 or float16 each). */
  readonly scaleBits: number;
  /** Bits of the zero points; none when they are all 0 (signed symmetric), as ONNX lets them be omitted. */
  readonly zeroPointBits: number;
  readonly totalBits: number;
  readonly bitsPerElement: number;
  readonly bytes: number;
}

/**
 * Storage cost of a tensor of `shape` quantized with `spec`, scales and zero points included:
 * e.g. int8/per-tensor is ~8 bits per element, int4/per-block:32 is 4 + 32/32 = 5 with float32
 * scales and 4 + 16/32 = 4.5 with float16 scales.
 */
export function storageCost(
  shape: readonly number[],
  spec: QuantSpec,
  context: AxisContext = {},
): StorageCost {
  const elements = shapeSize(shape);
  if (elements === 0) {
    throw new QgrainError(
      'invalid-argument',
      `storage cost of an empty tensor ${formatShape(shape)} is undefined`,
    );
  }
  const { groups } = layoutOf(resolveGranularity(spec.granularity, shape, context), shape);
  const elementBits = storageBitsOf(spec.type);
  const valueBits = elementBits * elements;
  const scaleBits = groups * (spec.scaleType === 'float16' ? 16 : 32);
  const zeroPointBits = spec.symmetric && spec.type.signed ? 0 : groups * elementBits;
  const totalBits = valueBits + scaleBits + zeroPointBits;
  return {
    elements,
    groups,
    valueBits,
    scaleBits,
    zeroPointBits,
    totalBits,
    bitsPerElement: totalBits / elements,
    bytes: Math.ceil(valueBits / 8) + scaleBits / 8 + Math.ceil(zeroPointBits / 8),
  };
}
