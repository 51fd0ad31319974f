import { QgrainError } from '@qgrain/tensor';
import { nodeSubgraphs } from './attributes.js';
import { OnnxDataType, onnxByteLength, onnxTypeName } from './data-type.js';
import type { GraphProto, Int64, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto-types.js';
import { int64ToBigInt } from './proto-types.js';

// Every size a model file declares is checked here, once, while the model is read, so that the
// passes after it (folds, the weight survey, quantization) can allocate from dims without
// re-checking them. A forged size must fail here with the tensor named, never as a huge
// allocation or an internal error later on.

/**
 * The most elements one tensor may declare. V8 typed arrays hold at most 2^32 elements on 64-bit
 * Node (buffer.constants.MAX_LENGTH), so a larger tensor could never be made into an array.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 32;

/**
 * The highest rank a tensor or a declared shape may have. ONNX sets no limit; numpy's is 64
 * (NPY_MAXDIMS since 2.0) and no real model comes near it.
 */
export const MAX_TENSOR_RANK = 64;

// Subgraph nesting needs no limit of its own: protobufjs refuses messages nested more than 100
// deep (Reader.recursionLimit, protoc's default), and each subgraph level is three messages, so
// the recursive walks of every pass stay far below the JS call stack.

/** Where a tensor sits, for messages: 'initializer', "attribute 'value' of node 'c1'"... */
type Place = string;

function invalid(file: string, tensor: string, place: Place, what: string, value?: unknown): QgrainError {
  return new QgrainError(
    'invalid-model',
    `${file}: tensor '${tensor}' (${place}) ${what}; the model is corrupt or was forged, re-export or re-download it`,
    { file, tensor, value },
  );
}

/**
 * The element count of `dims`, checked: each dim a non-negative integer below 2^53, the rank and
 * the product within the limits above. Stops multiplying once the limit is passed, so a forged
 * dim of 2^62 costs nothing.
 */
function checkedCount(file: string, tensor: string, place: Place, dims: readonly Int64[]): number {
  if (dims.length > MAX_TENSOR_RANK) {
    throw invalid(file, tensor, place, `has rank ${dims.length}, more than ${MAX_TENSOR_RANK}`, dims.length);
  }
  const values = dims.map((d) => int64ToBigInt(d));
  for (const d of values) {
    if (d < 0n) throw invalid(file, tensor, place, `has a negative dimension ${d}`, d.toString());
  }
  if (values.includes(0n)) return 0;
  let count = 1n;
  for (const d of values) {
    count *= d;
    if (count > BigInt(MAX_TENSOR_ELEMENTS)) {
      throw invalid(
        file,
        tensor,
        place,
        `declares dims [${values.join(', ')}], more than ${MAX_TENSOR_ELEMENTS} elements`,
        values.map(String),
      );
    }
  }
  return Number(count);
}

/** How many entries the typed field of `dataType` must hold for `count` elements (ONNX spec). */
function typedEntries(
  dataType: number,
  count: number,
): { field: keyof TensorProto; entries: number } | undefined {
  switch (dataType) {
    case OnnxDataType.FLOAT:
      return { field: 'floatData', entries: count };
    case OnnxDataType.COMPLEX64:
      return { field: 'floatData', entries: 2 * count };
    case OnnxDataType.DOUBLE:
      return { field: 'doubleData', entries: count };
    case OnnxDataType.COMPLEX128:
      return { field: 'doubleData', entries: 2 * count };
    case OnnxDataType.INT64:
      return { field: 'int64Data', entries: count };
    case OnnxDataType.UINT32:
    case OnnxDataType.UINT64:
      return { field: 'uint64Data', entries: count };
    case OnnxDataType.STRING:
      return { field: 'stringData', entries: count };
    case OnnxDataType.INT4:
    case OnnxDataType.UINT4:
    case OnnxDataType.FLOAT4E2M1:
      return { field: 'int32Data', entries: Math.ceil(count / 2) };
    case OnnxDataType.UINT8:
    case OnnxDataType.INT8:
    case OnnxDataType.UINT16:
    case OnnxDataType.INT16:
    case OnnxDataType.INT32:
    case OnnxDataType.BOOL:
    case OnnxDataType.FLOAT16:
    case OnnxDataType.BFLOAT16:
    case OnnxDataType.FLOAT8E4M3FN:
    case OnnxDataType.FLOAT8E4M3FNUZ:
    case OnnxDataType.FLOAT8E5M2:
    case OnnxDataType.FLOAT8E5M2FNUZ:
      return { field: 'int32Data', entries: count };
    default:
      return undefined;
  }
}

const TYPED_FIELDS = [
  'floatData',
  'int32Data',
  'stringData',
  'int64Data',
  'doubleData',
  'uint64Data',
] as const;

/** Checks one TensorProto's declared dims against the bytes (or entries) that back them. */
function checkTensor(file: string, t: TensorProto, place: Place): void {
  const name = t.name;
  const count = checkedCount(file, name, place, t.dims);
  // Stored outside the file: the byte range is checked against the data file by the external
  // data reader (which knows the file's size); here only the declared length.
  if (t.dataLocation === 1) {
    const bytes = onnxByteLength(t.dataType, count);
    const entry = t.externalData.find((e) => e.key === 'length');
    if (bytes !== undefined && entry && /^\d+$/.test(entry.value) && Number(entry.value) !== bytes) {
      throw invalid(
        file,
        name,
        place,
        `is ${onnxTypeName(t.dataType)} with ${count} elements (${bytes} bytes) but its external data length is ${entry.value}`,
        entry.value,
      );
    }
    return;
  }
  const used = TYPED_FIELDS.filter((f) => (t[f] as unknown[]).length > 0);
  if (t.rawData.length > 0 || used.length === 0) {
    // raw_data (or no data at all, which is only right for an empty tensor).
    const bytes = onnxByteLength(t.dataType, count);
    if (bytes === undefined) {
      if (t.dataType === OnnxDataType.STRING && count > 0) {
        throw invalid(
          file,
          name,
          place,
          `is a string tensor of ${count} elements with no string_data`,
          count,
        );
      }
      if (t.dataType !== OnnxDataType.STRING && count > 0) {
        throw invalid(
          file,
          name,
          place,
          `has data type ${t.dataType}, which ONNX does not define`,
          t.dataType,
        );
      }
      return;
    }
    if (t.rawData.length !== bytes) {
      throw invalid(
        file,
        name,
        place,
        `declares ${onnxTypeName(t.dataType)} dims [${t.dims.map((d) => int64ToBigInt(d)).join(', ')}] (${bytes} bytes) but holds ${t.rawData.length} bytes of data`,
        t.rawData.length,
      );
    }
    if (used.length > 0) {
      throw invalid(file, name, place, `holds its data twice, in raw_data and in ${used.join(', ')}`);
    }
    return;
  }
  const expected = typedEntries(t.dataType, count);
  if (!expected) {
    throw invalid(file, name, place, `has data type ${t.dataType}, which ONNX does not define`, t.dataType);
  }
  if (used.length !== 1 || used[0] !== expected.field) {
    throw invalid(
      file,
      name,
      place,
      `is ${onnxTypeName(t.dataType)} but keeps its data in ${used.join(', ')} instead of ${expected.field}`,
    );
  }
  const entries = (t[expected.field] as unknown[]).length;
  if (entries !== expected.entries) {
    throw invalid(
      file,
      name,
      place,
      `declares ${count} elements but ${expected.field} has ${entries} entries (${expected.entries} expected)`,
      entries,
    );
  }
}

/** Checks the declared shape of a graph input, output or value_info entry. */
function checkValueInfo(file: string, graph: string, v: ValueInfoProto, role: string): void {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  if (dims.length > MAX_TENSOR_RANK) {
    throw new QgrainError(
      'invalid-model',
      `${file}: ${role} '${v.name}' of graph '${graph}' declares rank ${dims.length}, more than ${MAX_TENSOR_RANK}; the model is corrupt, re-export it`,
      { file, tensor: v.name, value: dims.length },
    );
  }
  for (const d of dims) {
    if (!Object.hasOwn(d, 'dimValue')) continue;
    const value = int64ToBigInt(d.dimValue!);
    // -1 is how some exporters write "unknown"; anything beyond 2^53 cannot be a real size.
    if (value < -1n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new QgrainError(
        'invalid-model',
        `${file}: ${role} '${v.name}' of graph '${graph}' declares dimension ${value}, which is not a size; the model is corrupt, re-export it`,
        { file, tensor: v.name, value: value.toString() },
      );
    }
  }
}

function checkNode(file: string, n: NodeProto): void {
  // Every operator produces at least one value; the rewriting passes rewire node.output[0], and
  // a node without outputs would have them write an undefined name into the graph.
  if (n.output.length === 0) {
    throw new QgrainError(
      'invalid-model',
      `${file}: node '${n.name}' (${n.opType}) has no outputs; the model is corrupt, re-export it`,
      { file, node: n.name },
    );
  }
  const where = (attr: string) => `attribute '${attr}' of node '${n.name}' (${n.opType})`;
  for (const a of n.attribute) {
    if (a.t) checkTensor(file, a.t, where(a.name));
    for (const t of a.tensors) checkTensor(file, t, where(a.name));
    for (const s of [a.sparseTensor, ...a.sparseTensors]) {
      if (!s) continue;
      checkedCount(file, s.values?.name ?? '', `sparse ${where(a.name)}`, s.dims);
      if (s.values) checkTensor(file, s.values, `values of sparse ${where(a.name)}`);
      if (s.indices) checkTensor(file, s.indices, `indices of sparse ${where(a.name)}`);
    }
  }
  for (const { graph } of nodeSubgraphs(n)) checkGraph(file, graph);
}

function checkGraph(file: string, g: GraphProto): void {
  for (const t of g.initializer) checkTensor(file, t, `initializer of graph '${g.name}'`);
  for (const s of g.sparseInitializer) {
    checkedCount(file, s.values?.name ?? '', `sparse initializer of graph '${g.name}'`, s.dims);
    if (s.values) checkTensor(file, s.values, `values of a sparse initializer of graph '${g.name}'`);
    if (s.indices) checkTensor(file, s.indices, `indices of a sparse initializer of graph '${g.name}'`);
  }
  for (const v of g.input) checkValueInfo(file, g.name, v, 'input');
  for (const v of g.output) checkValueInfo(file, g.name, v, 'output');
  for (const v of g.valueInfo) checkValueInfo(file, g.name, v, 'value');
  for (const n of g.node) checkNode(file, n);
}

/**
 * Checks every size the model declares against the bytes that back it and against the limits
 * above: tensor dims (negative, beyond 2^53, product too large), element counts against
 * raw_data or the typed fields, declared external data lengths, attribute tensors, sparse
 * tensors and declared shapes. Throws QgrainError('invalid-model') naming the
 * file and the tensor. External data byte ranges are checked by the external data reader.
 */
export function checkModelBounds(proto: ModelProto, file: string): void {
  if (proto.graph) checkGraph(file, proto.graph);
  for (const f of proto.functions) for (const n of f.node) checkNode(file, n);
  for (const t of proto.trainingInfo) {
    if (t.initialization) checkGraph(file, t.initialization);
    if (t.algorithm) checkGraph(file, t.algorithm);
  }
}
