import { QgrainError } from '@qgrain/tensor';

// TypeScript shapes of the decoded ONNX messages (see schema.ts). Decoded objects are protobufjs
// message instances: absent proto2 fields read as their defaults through the prototype, and a
// field is written back only when it is an own property. int64 fields decode to `Long` so that
// values above 2^53 (INT64_MAX in Slice ends, for example) survive a round trip unchanged.

/** The 64-bit integer object protobufjs decodes int64 fields to (long.js compatible). */
export interface Long {
  low: number;
  high: number;
  unsigned: boolean;
}

/** An int64 as protobufjs gives it (Long) or as we create it (number). */
export type Int64 = Long | number;

/** Unknown fields kept verbatim by the decoder and written back by the encoder. */
export interface KeepsUnknownFields {
  $unknowns?: Uint8Array[];
}

/** onnx.StringStringEntryProto. */
export interface StringStringEntryProto extends KeepsUnknownFields {
  key: string;
  value: string;
}

/** onnx.OperatorSetIdProto: the domain '' (or 'ai.onnx') is the default operator set. */
export interface OperatorSetIdProto extends KeepsUnknownFields {
  domain: string;
  version: Int64;
}

/** onnx.TensorProto. */
export interface TensorProto extends KeepsUnknownFields {
  dims: Int64[];
  dataType: number;
  segment?: { begin: Int64; end: Int64 };
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name: string;
  rawData: Uint8Array;
  doubleData: number[];
  uint64Data: Int64[];
  docString: string;
  externalData: StringStringEntryProto[];
  dataLocation: number;
  metadataProps: StringStringEntryProto[];
}

/** onnx.SparseTensorProto (kept as it is; qgrain does not rewrite sparse tensors). */
export interface SparseTensorProto extends KeepsUnknownFields {
  values?: TensorProto;
  indices?: TensorProto;
  dims: Int64[];
}

/** onnx.TensorShapeProto.Dimension: a fixed size, a symbolic name, or unknown. */
export interface TensorShapeDimension extends KeepsUnknownFields {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}

/** onnx.TypeProto (tensor, sequence, map, optional, sparse tensor or opaque). */
export interface TypeProto extends KeepsUnknownFields {
  tensorType?: { elemType: number; shape?: { dim: TensorShapeDimension[] } };
  sparseTensorType?: { elemType: number; shape?: { dim: TensorShapeDimension[] } };
  sequenceType?: { elemType?: TypeProto };
  mapType?: { keyType: number; valueType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  opaqueType?: { domain: string; name: string };
  denotation?: string;
}

/** onnx.ValueInfoProto: a named value with its type. */
export interface ValueInfoProto extends KeepsUnknownFields {
  name: string;
  type?: TypeProto;
  docString: string;
  metadataProps: StringStringEntryProto[];
}

/** onnx.AttributeProto.AttributeType codes. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** onnx.AttributeProto. */
export interface AttributeProto extends KeepsUnknownFields {
  name: string;
  refAttrName: string;
  docString: string;
  type: number;
  f: number;
  i: Int64;
  s: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  sparseTensors: SparseTensorProto[];
  typeProtos: TypeProto[];
}

/** onnx.NodeProto. */
export interface NodeProto extends KeepsUnknownFields {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  overload: string;
  attribute: AttributeProto[];
  docString: string;
  metadataProps: StringStringEntryProto[];
}

/** onnx.GraphProto. */
export interface GraphProto extends KeepsUnknownFields {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  sparseInitializer: SparseTensorProto[];
  docString: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  quantizationAnnotation: unknown[];
  metadataProps: StringStringEntryProto[];
}

/** onnx.FunctionProto (model-local functions are kept as they are). */
export interface FunctionProto extends KeepsUnknownFields {
  name: string;
  domain: string;
  overload: string;
  input: string[];
  output: string[];
  attribute: string[];
  attributeProto: AttributeProto[];
  node: NodeProto[];
  valueInfo: ValueInfoProto[];
  opsetImport: OperatorSetIdProto[];
  docString: string;
  metadataProps: StringStringEntryProto[];
}

/** onnx.TrainingInfoProto (kept as it is). */
export interface TrainingInfoProto extends KeepsUnknownFields {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initializationBinding: StringStringEntryProto[];
  updateBinding: StringStringEntryProto[];
}

/** onnx.ModelProto. */
export interface ModelProto extends KeepsUnknownFields {
  irVersion: Int64;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: Int64;
  docString: string;
  graph?: GraphProto;
  opsetImport: OperatorSetIdProto[];
  metadataProps: StringStringEntryProto[];
  trainingInfo: TrainingInfoProto[];
  functions: FunctionProto[];
}

const TWO_32 = 4294967296n;

/** An int64 field as a bigint (exact for every value). */
export function int64ToBigInt(value: Int64): bigint {
  if (typeof value === 'number') return BigInt(value);
  const bits = (BigInt(value.high >>> 0) * TWO_32) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

/**
 * An int64 field as a JS number. Throws rather than rounding when the value is not exactly
 * representable, so a shape or index never silently changes.
 */
export function int64ToNumber(value: Int64, what = 'int64 value'): number {
  if (typeof value === 'number') return value;
  const big = int64ToBigInt(value);
  const n = Number(big);
  if (!Number.isSafeInteger(n)) {
    // Every int64 we read comes from a model file, so a value no JS number holds is a bad model.
    throw new QgrainError(
      'invalid-model',
      `${what} ${big} is beyond 2^53, which no real model needs; the model is corrupt, re-export it`,
      { value: big.toString() },
    );
  }
  return n;
}

/** A bigint as a Long that protobufjs writes exactly (two's complement, 64 bits). */
export function bigIntToInt64(value: bigint, unsigned = false): Long {
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned };
}

/** True for a node of the default ONNX domain ('' or its long name 'ai.onnx'). */
export function isDefaultDomain(node: Pick<NodeProto, 'domain'>): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}
