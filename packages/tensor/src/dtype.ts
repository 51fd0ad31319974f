import { QgrainError } from './errors.js';
import { int4ByteLength } from './int4.js';

/** Element types qgrain reads, computes in, or stores. Names follow ONNX's TensorProto types. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int4'
  | 'uint4'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'bool';

/** The typed array that holds each dtype. float16/bfloat16 keep bit patterns; int4/uint4 are packed bytes. */
export interface DTypeStorage {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int4: Uint8Array;
  uint4: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** Any array that stores tensor elements. */
export type TensorData = DTypeStorage[DType];

/** Facts about a dtype: width, integer range, and how its data is stored. */
export interface DTypeInfo {
  readonly dtype: DType;
  /** Bits per element (4 for the packed types). */
  readonly bits: number;
  readonly isFloat: boolean;
  readonly isInteger: boolean;
  readonly signed: boolean;
  /** Smallest and largest integer value; undefined for floats and int64. */
  readonly min?: number;
  readonly max?: number;
}

const INFO: Record<DType, DTypeInfo> = {
  float32: { dtype: 'float32', bits: 32, isFloat: true, isInteger: false, signed: true },
  float64: { dtype: 'float64', bits: 64, isFloat: true, isInteger: false, signed: true },
  float16: { dtype: 'float16', bits: 16, isFloat: true, isInteger: false, signed: true },
  bfloat16: { dtype: 'bfloat16', bits: 16, isFloat: true, isInteger: false, signed: true },
  int4: { dtype: 'int4', bits: 4, isFloat: false, isInteger: true, signed: true, min: -8, max: 7 },
  uint4: { dtype: 'uint4', bits: 4, isFloat: false, isInteger: true, signed: false, min: 0, max: 15 },
  int8: { dtype: 'int8', bits: 8, isFloat: false, isInteger: true, signed: true, min: -128, max: 127 },
  uint8: { dtype: 'uint8', bits: 8, isFloat: false, isInteger: true, signed: false, min: 0, max: 255 },
  int16: { dtype: 'int16', bits: 16, isFloat: false, isInteger: true, signed: true, min: -32768, max: 32767 },
  uint16: { dtype: 'uint16', bits: 16, isFloat: false, isInteger: true, signed: false, min: 0, max: 65535 },
  int32: {
    dtype: 'int32',
    bits: 32,
    isFloat: false,
    isInteger: true,
    signed: true,
    min: -2147483648,
    max: 2147483647,
  },
  uint32: {
    dtype: 'uint32',
    bits: 32,
    isFloat: false,
    isInteger: true,
    signed: false,
    min: 0,
    max: 4294967295,
  },
  int64: { dtype: 'int64', bits: 64, isFloat: false, isInteger: true, signed: true },
  bool: { dtype: 'bool', bits: 8, isFloat: false, isInteger: false, signed: false, min: 0, max: 1 },
};

/** Every dtype name, in a fixed order. */
export const DTYPES: readonly DType[] = Object.keys(INFO) as DType[];

/** True when `name` is a dtype qgrain knows. */
export function isDType(name: string): name is DType {
  return Object.hasOwn(INFO, name);
}

/** Width, range and kind of a dtype. */
export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = INFO[dtype];
  if (!info)
    throw new QgrainError(
      'invalid-argument',
      `unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`,
    );
  return info;
}

/** Number of storage elements (array length) that hold `count` elements of `dtype`. */
export function storageLength(dtype: DType, count: number): number {
  return dtype === 'int4' || dtype === 'uint4' ? int4ByteLength(count) : count;
}

/** Allocates zeroed storage for `count` elements of `dtype`. */
export function allocate<D extends DType>(dtype: D, count: number): DTypeStorage[D] {
  const length = storageLength(dtype, count);
  switch (dtype) {
    case 'float32':
      return new Float32Array(length) as DTypeStorage[D];
    case 'float64':
      return new Float64Array(length) as DTypeStorage[D];
    case 'float16':
    case 'bfloat16':
    case 'uint16':
      return new Uint16Array(length) as DTypeStorage[D];
    case 'int4':
    case 'uint4':
    case 'uint8':
    case 'bool':
      return new Uint8Array(length) as DTypeStorage[D];
    case 'int8':
      return new Int8Array(length) as DTypeStorage[D];
    case 'int16':
      return new Int16Array(length) as DTypeStorage[D];
    case 'int32':
      return new Int32Array(length) as DTypeStorage[D];
    case 'uint32':
      return new Uint32Array(length) as DTypeStorage[D];
    case 'int64':
      return new BigInt64Array(length) as DTypeStorage[D];
    default:
      throw new QgrainError('invalid-argument', `unknown dtype '${String(dtype)}'`);
  }
}
