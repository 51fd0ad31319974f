import { type DType, QgrainError } from '@qgrain/tensor';

/** onnx.TensorProto.DataType codes (the ones with a fixed meaning since IR version 10). */
export const OnnxDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

const TO_DTYPE: Partial<Record<number, DType>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  16: 'bfloat16',
  21: 'uint4',
  22: 'int4',
};

const FROM_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  bfloat16: 16,
  uint4: 21,
  int4: 22,
};

// Bits per element of every fixed-width ONNX type, including those qgrain has no DType for
// (they are still copied, moved to external data and written back byte for byte).
const BITS: Partial<Record<number, number>> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
  17: 8,
  18: 8,
  19: 8,
  20: 8,
  21: 4,
  22: 4,
  23: 4,
};

/** The qgrain DType of an ONNX data type code, or undefined when qgrain has none (string, uint64, float8...). */
export function dtypeOfOnnx(code: number): DType | undefined {
  return TO_DTYPE[code];
}

/** The ONNX data type code of a DType. */
export function onnxOfDtype(dtype: DType): number {
  const code = FROM_DTYPE[dtype];
  if (code === undefined) throw new QgrainError('invalid-argument', `no ONNX data type for dtype '${dtype}'`);
  return code;
}

/** Bits per element of an ONNX data type, or undefined for variable-width types (string) and unknown codes. */
export function onnxElementBits(code: number): number | undefined {
  return BITS[code];
}

/** Bytes that `count` elements of ONNX type `code` occupy in raw_data (4-bit types packed two per byte). */
export function onnxByteLength(code: number, count: number): number | undefined {
  const bits = BITS[code];
  return bits === undefined ? undefined : Math.ceil((count * bits) / 8);
}

/** A readable name for an ONNX data type code, for error messages. */
export function onnxTypeName(code: number): string {
  const entry = Object.entries(OnnxDataType).find(([, v]) => v === code);
  return entry ? entry[0] : `data type ${code}`;
}
