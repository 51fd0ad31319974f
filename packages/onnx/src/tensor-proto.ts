import { type DType, QgrainError, Tensor, formatShape, shapeSize, storageLength } from '@qgrain/tensor';
import { OnnxDataType, dtypeOfOnnx, onnxByteLength, onnxOfDtype, onnxTypeName } from './data-type.js';
import { onnxTypes } from './schema.js';
import { type TensorProto, int64ToBigInt, int64ToNumber } from './proto-types.js';

/** Where a TensorProto keeps its elements. */
export type TensorStorage = 'raw' | 'typed' | 'external';

/** A tensor's external_data entries: a file relative to the model's folder, and a byte range in it. */
export interface ExternalDataInfo {
  readonly location: string;
  readonly offset: number;
  /** Undefined means "to the end of the file". */
  readonly length: number | undefined;
}

/** ONNX's data_location value for tensors whose bytes live in another file. */
const DATA_LOCATION_EXTERNAL = 1;

/** External tensors start on page boundaries, in written data files and in the spill file alike. */
export const EXTERNAL_DATA_ALIGNMENT = 4096;

/** How a TensorProto stores its data. */
export function tensorStorage(proto: TensorProto): TensorStorage {
  if (proto.dataLocation === DATA_LOCATION_EXTERNAL) return 'external';
  return proto.rawData.length > 0 || typedFieldLength(proto) === 0 ? 'raw' : 'typed';
}

/** The dims of a TensorProto as numbers. */
export function tensorDims(proto: TensorProto): number[] {
  return proto.dims.map((d) => int64ToNumber(d, `dimension of tensor '${proto.name}'`));
}

/** The external_data entries of a tensor stored outside the model file. */
export function externalDataInfo(proto: TensorProto): ExternalDataInfo {
  let location: string | undefined;
  let offset = 0;
  let length: number | undefined;
  for (const { key, value } of proto.externalData) {
    if (key === 'location') location = value;
    else if (key === 'offset') offset = parseByteCount(value, proto.name, key);
    else if (key === 'length') length = parseByteCount(value, proto.name, key);
  }
  if (location === undefined || location === '') {
    throw new QgrainError(
      'invalid-model',
      `tensor '${proto.name}' is marked as external data but has no 'location' entry; re-export the model with its external data`,
    );
  }
  return { location, offset, length };
}

function parseByteCount(text: string, tensor: string, key: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new QgrainError(
      'invalid-model',
      `tensor '${tensor}' has external data ${key} '${text}', which is not a byte count`,
    );
  }
  return n;
}

function typedFieldLength(proto: TensorProto): number {
  return (
    proto.floatData.length +
    proto.int32Data.length +
    proto.int64Data.length +
    proto.doubleData.length +
    proto.uint64Data.length +
    proto.stringData.length
  );
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * The little-endian bytes of a tensor stored in the typed fields (float_data, int32_data, ...),
 * laid out exactly as raw_data would hold them. int32_data carries one element per entry for the
 * 8- and 16-bit types (float16/bfloat16 as their bit patterns) and one packed byte per entry for
 * the 4-bit types, as the ONNX spec says.
 */
export function typedFieldsToBytes(proto: TensorProto): Uint8Array {
  const code = proto.dataType;
  const count = shapeSize(tensorDims(proto));
  switch (code) {
    case OnnxDataType.FLOAT:
      return bytesOf(Float32Array.from(proto.floatData));
    case OnnxDataType.DOUBLE:
      return bytesOf(Float64Array.from(proto.doubleData));
    case OnnxDataType.INT32:
      return bytesOf(Int32Array.from(proto.int32Data));
    case OnnxDataType.INT64:
      return bytesOf(BigInt64Array.from(proto.int64Data, int64ToBigInt));
    case OnnxDataType.UINT32:
      return bytesOf(Uint32Array.from(proto.uint64Data, (v) => Number(int64ToBigInt(v) & 0xffffffffn)));
    case OnnxDataType.UINT64:
      return bytesOf(BigUint64Array.from(proto.uint64Data, (v) => BigInt.asUintN(64, int64ToBigInt(v))));
    case OnnxDataType.FLOAT16:
    case OnnxDataType.BFLOAT16:
    case OnnxDataType.UINT16:
      return bytesOf(Uint16Array.from(proto.int32Data));
    case OnnxDataType.INT16:
      return bytesOf(Int16Array.from(proto.int32Data));
    case OnnxDataType.INT8:
    case OnnxDataType.UINT8:
    case OnnxDataType.BOOL:
    case OnnxDataType.FLOAT8E4M3FN:
    case OnnxDataType.FLOAT8E4M3FNUZ:
    case OnnxDataType.FLOAT8E5M2:
    case OnnxDataType.FLOAT8E5M2FNUZ:
      return Uint8Array.from(proto.int32Data);
    case OnnxDataType.INT4:
    case OnnxDataType.UINT4:
    case OnnxDataType.FLOAT4E2M1: {
      const bytes = Uint8Array.from(proto.int32Data);
      const expected = Math.ceil(count / 2);
      return bytes.length === expected ? bytes : Uint8Array.from(proto.int32Data.slice(0, expected));
    }
    default:
      throw new QgrainError(
        'unsupported',
        `tensor '${proto.name}' of type ${onnxTypeName(code)} has no fixed-size byte layout; it can only be kept as it is`,
      );
  }
}

/**
 * A Tensor over `bytes` (little-endian, raw_data layout). The tensor's array is a view of the
 * same memory when the bytes are aligned for its element type, and a copy otherwise (protobuf
 * places raw_data at arbitrary offsets, and typed arrays need aligned views).
 */
export function tensorFromBytes(
  name: string,
  dataType: number,
  dims: readonly number[],
  bytes: Uint8Array,
): Tensor {
  const dtype = dtypeOfOnnx(dataType);
  if (dtype === undefined) {
    throw new QgrainError(
      'unsupported',
      `tensor '${name}' has type ${onnxTypeName(dataType)}, which qgrain cannot turn into a Tensor; leave it unquantized`,
    );
  }
  const count = shapeSize(dims);
  const expected = onnxByteLength(dataType, count)!;
  if (bytes.byteLength !== expected) {
    throw new QgrainError(
      'invalid-model',
      `tensor '${name}' (${dtype} ${formatShape(dims)}) needs ${expected} bytes of data but has ${bytes.byteLength}; the model is corrupt or truncated`,
    );
  }
  return new Tensor(dtype, dims, typedView(dtype, bytes, storageLength(dtype, count)) as Tensor['data']);
}

function typedView(dtype: DType, bytes: Uint8Array, length: number): ArrayBufferView {
  const source = bytes;
  const aligned = (width: number): Uint8Array =>
    source.byteOffset % width === 0 ? source : new Uint8Array(source);
  switch (dtype) {
    case 'float32': {
      const b = aligned(4);
      return new Float32Array(b.buffer, b.byteOffset, length);
    }
    case 'float64': {
      const b = aligned(8);
      return new Float64Array(b.buffer, b.byteOffset, length);
    }
    case 'int64': {
      const b = aligned(8);
      return new BigInt64Array(b.buffer, b.byteOffset, length);
    }
    case 'int32': {
      const b = aligned(4);
      return new Int32Array(b.buffer, b.byteOffset, length);
    }
    case 'uint32': {
      const b = aligned(4);
      return new Uint32Array(b.buffer, b.byteOffset, length);
    }
    case 'int16': {
      const b = aligned(2);
      return new Int16Array(b.buffer, b.byteOffset, length);
    }
    case 'float16':
    case 'bfloat16':
    case 'uint16': {
      const b = aligned(2);
      return new Uint16Array(b.buffer, b.byteOffset, length);
    }
    case 'int8':
      return new Int8Array(source.buffer, source.byteOffset, length);
    default:
      // uint8, bool, int4, uint4: bytes as they are.
      return new Uint8Array(source.buffer, source.byteOffset, length);
  }
}

/** A new TensorProto holding `tensor` in raw_data (a view of the tensor's memory, not a copy). */
export function makeTensorProto(name: string, tensor: Tensor): TensorProto {
  const data = tensor.data as ArrayBufferView;
  return onnxTypes.tensor.create({
    name,
    dims: [...tensor.shape],
    dataType: onnxOfDtype(tensor.dtype),
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }) as unknown as TensorProto;
}

/** The fields that hold a tensor's bytes inside the model. */
const INLINE_DATA_FIELDS = [
  'rawData',
  'floatData',
  'int32Data',
  'int64Data',
  'doubleData',
  'uint64Data',
] as const;

/**
 * Makes `tensor` a reference to `length` bytes at `offset` of the data file `location`, dropping
 * its inline bytes. Without own values the fields read as the message defaults (empty), as after
 * decoding.
 */
export function pointToExternalData(
  tensor: TensorProto,
  location: string,
  offset: number,
  length: number,
): void {
  for (const field of INLINE_DATA_FIELDS) delete (tensor as Partial<TensorProto>)[field];
  tensor.dataLocation = DATA_LOCATION_EXTERNAL;
  tensor.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(length) },
  ] as TensorProto['externalData'];
}
