import { type DType, QgrainError, type Tensor, shapeSize } from '@qgrain/tensor';
import { dtypeOfOnnx, onnxByteLength, onnxTypeName } from './data-type.js';
import type { ExternalDataReader } from './external-data.js';
import type { TensorProto } from './proto-types.js';
import {
  type ExternalDataInfo,
  type TensorStorage,
  externalDataInfo,
  tensorDims,
  tensorFromBytes,
  tensorStorage,
  typedFieldsToBytes,
} from './tensor-proto.js';

/**
 * A weight of the model: its dtype, dims and where its bytes are. Nothing is copied when a model
 * is read: raw_data stays a view into the file's buffer, external data stays in its file until
 * `bytes()` or `toTensor()` is called.
 */
export class Initializer {
  /** The TensorProto this initializer describes (edits to it are what gets written). */
  readonly proto: TensorProto;
  private readonly external: ExternalDataReader | undefined;

  constructor(proto: TensorProto, external?: ExternalDataReader) {
    this.proto = proto;
    this.external = external;
  }

  /** The tensor's name (the value name nodes refer to). */
  get name(): string {
    return this.proto.name;
  }

  /** The ONNX data type code. */
  get dataType(): number {
    return this.proto.dataType;
  }

  /** The qgrain dtype, or undefined for ONNX types qgrain does not compute in (string, uint64, float8...). */
  get dtype(): DType | undefined {
    return dtypeOfOnnx(this.proto.dataType);
  }

  /** The tensor's dimensions. */
  get dims(): number[] {
    return tensorDims(this.proto);
  }

  /** Where the bytes are: inline raw_data, the typed fields (float_data...), or an external file. */
  get storage(): TensorStorage {
    return tensorStorage(this.proto);
  }

  /** The file, offset and length of external data (undefined unless storage is 'external'). */
  get externalData(): ExternalDataInfo | undefined {
    return this.storage === 'external' ? externalDataInfo(this.proto) : undefined;
  }

  /** Size of the data in bytes (undefined for strings). */
  get byteLength(): number | undefined {
    return onnxByteLength(this.proto.dataType, shapeSize(this.dims));
  }

  /**
   * The data as little-endian bytes in raw_data layout: a view into the model buffer for raw_data,
   * a fresh array for typed fields and external data.
   */
  bytes(): Uint8Array {
    return tensorProtoBytes(this.proto, this.external);
  }

  /** The data as a Tensor (a view of the bytes when they are aligned for the dtype). */
  toTensor(): Tensor {
    return tensorFromBytes(this.name, this.proto.dataType, this.dims, this.bytes());
  }
}

/** The raw_data-layout bytes of any TensorProto, reading external data through `external`. */
export function tensorProtoBytes(proto: TensorProto, external: ExternalDataReader | undefined): Uint8Array {
  switch (tensorStorage(proto)) {
    case 'raw':
      return proto.rawData;
    case 'typed':
      return typedFieldsToBytes(proto);
    case 'external': {
      if (!external) {
        throw new QgrainError(
          'io',
          `tensor '${proto.name}' (${onnxTypeName(proto.dataType)}) is stored in external data, but the model was parsed from bytes without a way to read it; use readModel(path) or pass externalData`,
        );
      }
      return external.read(externalDataInfo(proto), proto.name);
    }
  }
}
