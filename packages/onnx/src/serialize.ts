import type { ExternalDataReader } from './external-data.js';
import { tensorProtoBytes } from './initializer.js';
import type { Model } from './model.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from './proto-types.js';
import { onnxTypes } from './schema.js';
import { tensorStorage } from './tensor-proto.js';

/**
 * Decides how one tensor is written: returns the TensorProto to write in its place (the same
 * object when nothing changes). `isInitializer` is true for graph initializers of any graph.
 */
export type TensorPlacement = (tensor: TensorProto, isInitializer: boolean) => TensorProto;

/** A copy of a decoded message that keeps its prototype (field defaults) and hidden $unknowns. */
export function cloneMessage<T extends object>(message: T): T {
  const copy = Object.create(Object.getPrototypeOf(message)) as T;
  Object.defineProperties(copy, Object.getOwnPropertyDescriptors(message));
  return copy;
}

/**
 * A ModelProto to write: `proto` with every tensor passed through `place`. The input is not
 * modified; only messages on the path to a replaced tensor are copied (shallowly).
 */
export function placeTensors(proto: ModelProto, place: TensorPlacement): ModelProto {
  const out = cloneMessage(proto);
  if (proto.graph) out.graph = placeInGraph(proto.graph, place);
  out.functions = proto.functions.map((f) => {
    const copy = cloneMessage(f);
    copy.node = f.node.map((n) => placeInNode(n, place));
    return copy;
  });
  out.trainingInfo = proto.trainingInfo.map((t) => {
    const copy = cloneMessage(t);
    if (t.initialization) copy.initialization = placeInGraph(t.initialization, place);
    if (t.algorithm) copy.algorithm = placeInGraph(t.algorithm, place);
    return copy;
  });
  return out;
}

function placeInGraph(graph: GraphProto, place: TensorPlacement): GraphProto {
  const copy = cloneMessage(graph);
  copy.initializer = graph.initializer.map((t) => place(t, true));
  copy.sparseInitializer = graph.sparseInitializer.map((s) => {
    if (!s.values && !s.indices) return s;
    const sparse = cloneMessage(s);
    if (s.values) sparse.values = place(s.values, false);
    if (s.indices) sparse.indices = place(s.indices, false);
    return sparse;
  });
  copy.node = graph.node.map((n) => placeInNode(n, place));
  return copy;
}

function placeInNode(node: NodeProto, place: TensorPlacement): NodeProto {
  const holds = node.attribute.some(
    (a) =>
      a.t ||
      a.tensors.length > 0 ||
      a.sparseTensor ||
      a.sparseTensors.length > 0 ||
      a.g ||
      a.graphs.length > 0,
  );
  if (!holds) return node;
  const copy = cloneMessage(node);
  copy.attribute = node.attribute.map((a) => placeInAttribute(a, place));
  return copy;
}

function placeInAttribute(attribute: AttributeProto, place: TensorPlacement): AttributeProto {
  const copy = cloneMessage(attribute);
  if (attribute.t) copy.t = place(attribute.t, false);
  if (attribute.tensors.length > 0) copy.tensors = attribute.tensors.map((t) => place(t, false));
  if (attribute.g) copy.g = placeInGraph(attribute.g, place);
  if (attribute.graphs.length > 0) copy.graphs = attribute.graphs.map((g) => placeInGraph(g, place));
  const sparse = (s: NonNullable<AttributeProto['sparseTensor']>): typeof s => {
    const c = cloneMessage(s);
    if (s.values) c.values = place(s.values, false);
    if (s.indices) c.indices = place(s.indices, false);
    return c;
  };
  if (attribute.sparseTensor) copy.sparseTensor = sparse(attribute.sparseTensor);
  if (attribute.sparseTensors.length > 0) copy.sparseTensors = attribute.sparseTensors.map(sparse);
  return copy;
}

/** `tensor` with its data moved inline into raw_data (for tensors read from external data). */
export function inlineTensor(tensor: TensorProto, external: ExternalDataReader | undefined): TensorProto {
  if (tensorStorage(tensor) !== 'external') return tensor;
  const copy = cloneMessage(tensor);
  copy.rawData = tensorProtoBytes(tensor, external);
  copy.externalData = [];
  delete (copy as Partial<TensorProto>).dataLocation;
  return copy;
}

/**
 * The model as .onnx bytes, every tensor inline (external data is read and embedded). The same
 * model always gives the same bytes: fields are written in field-number order.
 */
export function serializeModel(model: Model): Uint8Array {
  const proto = placeTensors(model.proto, (t) => inlineTensor(t, model.externalData));
  return encodeModelProto(proto);
}

/** Encodes a ModelProto as it is. */
export function encodeModelProto(proto: ModelProto): Uint8Array {
  return onnxTypes.model.encode(proto as unknown as Record<string, unknown>).finish();
}
