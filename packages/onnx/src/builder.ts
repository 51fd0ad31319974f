import type { DType, Tensor } from '@qgrain/tensor';
import { onnxOfDtype } from './data-type.js';
import type { NodeInit } from './graph.js';
import { Model } from './model.js';
import type { GraphProto, ModelProto, ValueInfoProto } from './proto-types.js';
import { onnxTypes } from './schema.js';

/** A graph input or output: name, dtype and shape (a string names a symbolic dimension). */
export interface ValueInit {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly (number | string)[];
}

/** What `createModel` builds a model from. */
export interface ModelInit {
  /** The ONNX operator set version (default domain). */
  readonly opset: number;
  readonly inputs: readonly ValueInit[];
  readonly outputs: readonly ValueInit[];
  readonly nodes: readonly NodeInit[];
  readonly initializers?: Readonly<Record<string, Tensor>>;
  /** Extra operator sets, e.g. `{ 'com.microsoft': 1 }`. */
  readonly domains?: Readonly<Record<string, number>>;
  readonly graphName?: string;
}

/** IR version written for models built here: 8 is what ONNX 1.10+ and every onnxruntime since 1.10 read. */
const IR_VERSION = 8;

/** A ValueInfoProto for a tensor value. */
export function makeValueInfo(value: ValueInit): ValueInfoProto {
  return onnxTypes.valueInfo.create({
    name: value.name,
    type: {
      tensorType: {
        elemType: onnxOfDtype(value.dtype),
        shape: { dim: value.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }) as unknown as ValueInfoProto;
}

/**
 * A ValueInfoProto with no shape, and with no type either unless `dtype` is given: a value whose
 * type and shape onnxruntime infers from the node that makes it. A declared type is only as good
 * as the guess behind it (an int64 ConstantOfShape declared float makes onnxruntime refuse the
 * whole model), and shapes may depend on the batch. A subgraph's output keeps its type (`dtype`),
 * which the If's other branch must match; a graph input needs one.
 */
export function makeUnshapedValueInfo(name: string, dtype?: DType): ValueInfoProto {
  const info = makeValueInfo({ name, dtype: dtype ?? 'float32', shape: [] });
  if (dtype) delete (info.type!.tensorType as { shape?: unknown }).shape;
  else delete (info as { type?: unknown }).type;
  return info;
}

/**
 * A model built from scratch (for tests and examples): one graph, its nodes in the order given.
 * Initializer tensors are referenced, not copied.
 */
export function createModel(init: ModelInit): Model {
  const graph = onnxTypes.graph.fromObject({
    name: init.graphName ?? 'main',
    input: init.inputs.map(makeValueInfo),
    output: init.outputs.map(makeValueInfo),
  }) as unknown as GraphProto;
  const opsetImport = [
    { domain: '', version: init.opset },
    ...Object.entries(init.domains ?? {}).map(([domain, version]) => ({ domain, version })),
  ];
  const proto = onnxTypes.model.fromObject({
    irVersion: IR_VERSION,
    producerName: 'qgrain',
    opsetImport,
  }) as unknown as ModelProto;
  proto.graph = graph;
  const model = new Model(proto, { source: 'built model' });
  for (const [name, tensor] of Object.entries(init.initializers ?? {}))
    model.graph.addInitializer(name, tensor);
  for (const node of init.nodes) model.graph.addNode(node);
  return model;
}

/** A subgraph (If branch, Loop body) to pass as a GRAPH attribute of a node built with createModel. */
export function createGraph(init: Omit<ModelInit, 'opset' | 'domains'>): GraphProto {
  const model = createModel({ ...init, opset: 1 });
  return model.graph.proto;
}
