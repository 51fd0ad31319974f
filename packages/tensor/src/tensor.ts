import { type DType, type DTypeStorage, allocate, storageLength } from './dtype.js';
import { QgrainError } from './errors.js';
import { bfloat16ArrayToFloat32, float16ArrayToFloat32 } from './float16.js';
import { unpackInt4 } from './int4.js';
import { assertShape, formatShape, shapeSize } from './shape.js';

/** A shaped, contiguous (row-major) array of one dtype. */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeStorage[D];

  constructor(dtype: D, shape: readonly number[], data: DTypeStorage[D]) {
    assertShape(shape);
    const expected = storageLength(dtype, shapeSize(shape));
    if (data.length !== expected) {
      throw new QgrainError(
        'shape-mismatch',
        `a ${dtype} tensor of shape ${formatShape(shape)} needs ${expected} stored elements, got ${data.length}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    return new Tensor(dtype, shape, allocate(dtype, shapeSize(shape)));
  }

  /** Number of elements (not bytes, not stored array entries). */
  get size(): number {
    return shapeSize(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The same data seen with another shape of the same size. */
  reshape(shape: readonly number[]): Tensor<D> {
    if (shapeSize(shape) !== this.size) {
      throw new QgrainError(
        'shape-mismatch',
        `cannot reshape ${formatShape(this.shape)} (${this.size} elements) to ${formatShape(shape)}`,
      );
    }
    return new Tensor(this.dtype, shape, this.data);
  }

  /** Element values as float32 (a copy, except for a float32 tensor, whose data is returned as is). */
  toFloat32(): Float32Array {
    const data = this.data;
    switch (this.dtype) {
      case 'float32':
        return data as Float32Array;
      case 'float16':
        return float16ArrayToFloat32(data as Uint16Array);
      case 'bfloat16':
        return bfloat16ArrayToFloat32(data as Uint16Array);
      case 'int4':
      case 'uint4':
        return Float32Array.from(unpackInt4(data as Uint8Array, this.size, this.dtype === 'int4'));
      case 'int64':
        return Float32Array.from(data as BigInt64Array, (v) => Number(v));
      default:
        return Float32Array.from(data as ArrayLike<number>);
    }
  }
}
