import { QgrainError, Tensor } from '@qgrain/tensor';
import { getAttribute, readFloat, readInt, readInts } from './attributes.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import { type NodeProto, isDefaultDomain } from './proto-types.js';

/**
 * Operators of the default domain whose meaning or signature changes between an old opset and the
 * target, with the opset where the change happens. Each has a rewrite below; any other operator
 * in this list without a rewrite makes the upgrade refuse rather than guess.
 */
const BREAKING_CHANGES: Readonly<Record<string, number>> = {
  Clip: 11, // min/max attributes became inputs
  Slice: 10, // starts/ends/axes attributes became inputs
  Squeeze: 13, // axes attribute became an input
  Unsqueeze: 13,
  Softmax: 13, // was "flatten to 2-D at axis"; now one axis
  LogSoftmax: 13,
  Hardmax: 13,
  Split: 13, // split attribute became an input
  ReduceSum: 13, // axes attribute became an input
  Pad: 11, // pads/value attributes became inputs
  Upsample: 10, // deprecated
  Dropout: 12, // ratio became an input (inference: dropped by prepare anyway)
  TopK: 10, // k became an input
  Resize: 11, // roi input added
  ReduceMean: 18, // axes attribute became an input (also ReduceMax/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare)
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
  ReduceL1: 18,
  ReduceL2: 18,
  ReduceLogSum: 18,
  ReduceLogSumExp: 18,
  ReduceSumSquare: 18,
};

/** What an upgrade changed, for reports. */
export interface OpsetUpgrade {
  readonly from: number;
  readonly to: number;
  /** Nodes rewritten, by op type. */
  readonly rewritten: Readonly<Record<string, number>>;
}

type Rewrite = (graph: Graph, node: NodeProto) => void;

function int64Input(graph: Graph, base: string, values: readonly number[]): string {
  const name = graph.model.uniqueName(base);
  graph.addInitializer(
    name,
    new Tensor(
      'int64',
      [values.length],
      BigInt64Array.from(values, (v) => BigInt(v)),
    ),
  );
  return name;
}

function floatScalar(graph: Graph, base: string, value: number): string {
  const name = graph.model.uniqueName(base);
  graph.addInitializer(name, new Tensor('float32', [], Float32Array.of(value)));
  return name;
}

function dropAttributes(node: NodeProto, names: readonly string[]): void {
  node.attribute = node.attribute.filter((a) => !names.includes(a.name));
}

const REWRITES: Readonly<Record<string, Rewrite>> = {
  Clip(graph, node) {
    if (node.input.length > 1) return;
    const lo = readFloat(node, 'min', -3.4028234663852886e38);
    const hi = readFloat(node, 'max', 3.4028234663852886e38);
    node.input.push(floatScalar(graph, `${node.name}_min`, lo), floatScalar(graph, `${node.name}_max`, hi));
    dropAttributes(node, ['min', 'max']);
  },
  Slice(graph, node) {
    if (node.input.length > 1) return;
    const starts = readInts(node, 'starts', []);
    const ends = readInts(node, 'ends', []);
    const axes = readInts(
      node,
      'axes',
      starts.map((_, i) => i),
    );
    node.input.push(
      int64Input(graph, `${node.name}_starts`, starts),
      int64Input(graph, `${node.name}_ends`, ends),
      int64Input(graph, `${node.name}_axes`, axes),
    );
    dropAttributes(node, ['starts', 'ends', 'axes']);
  },
  Squeeze: axesToInput,
  Unsqueeze: axesToInput,
  ReduceSum: axesToInput,
  // Opset 18 moved the axes of the rest of the Reduce family from an attribute to input 1, with
  // the same meaning (absent axes still reduce over every axis), so the same rewrite applies.
  ReduceMean: axesToInput,
  ReduceMax: axesToInput,
  ReduceMin: axesToInput,
  ReduceProd: axesToInput,
  ReduceL1: axesToInput,
  ReduceL2: axesToInput,
  ReduceLogSum: axesToInput,
  ReduceLogSumExp: axesToInput,
  ReduceSumSquare: axesToInput,
  Softmax: flattenedSoftmax,
  LogSoftmax: flattenedSoftmax,
  Hardmax: flattenedSoftmax,
};

/** The data input a rewrite builds on; a node without one is a broken model, not a bug here. */
function dataInput(node: NodeProto): string {
  const x = node.input[0];
  if (x === undefined || x === '') {
    throw new QgrainError(
      'invalid-model',
      `node '${node.name}' (${node.opType}) has no data input; the model is corrupt, re-export it`,
      { node: node.name },
    );
  }
  return x;
}

function axesToInput(graph: Graph, node: NodeProto): void {
  if (!getAttribute(node, 'axes')) return;
  dataInput(node);
  node.input[1] = int64Input(graph, `${node.name}_axes`, readInts(node, 'axes', []));
  dropAttributes(node, ['axes']);
}

/**
 * Before opset 13, Softmax(axis=a) flattened its input to 2-D at `a` and normalised each row; from
 * 13 on it normalises along `a` alone. The two agree only when `a` is the last axis, which the
 * graph does not tell without shape inference, so the old meaning is rebuilt exactly:
 * Flatten(a) -> Softmax(axis=1) -> Reshape(back to the input's shape).
 */
function flattenedSoftmax(graph: Graph, node: NodeProto): void {
  const axis = readInt(node, 'axis', 1);
  if (axis === -1) return;
  const model = graph.model;
  const x = dataInput(node);
  const y = node.output[0]!;
  const at = graph.nodes.indexOf(node);
  const shape = model.uniqueName(`${node.name}_input_shape`);
  const flat = model.uniqueName(`${node.name}_flat`);
  const flatOut = model.uniqueName(`${node.name}_flat_out`);
  graph.addNode({ opType: 'Shape', inputs: [x], outputs: [shape] }, at);
  graph.addNode({ opType: 'Flatten', inputs: [x], outputs: [flat], attributes: { axis } }, at + 1);
  node.input[0] = flat;
  node.output[0] = flatOut;
  dropAttributes(node, ['axis']);
  // Softmax-13's default axis is -1, which on the 2-D flattened tensor is axis 1. The node now
  // sits at at + 2, after Shape and Flatten.
  graph.addNode({ opType: 'Reshape', inputs: [flatOut, shape], outputs: [y] }, at + 3);
}

/**
 * Raises the default operator set of a model to `target`, rewriting the nodes whose signature or
 * meaning changed on the way (Clip, Slice, Squeeze/Unsqueeze, the Reduce family, Softmax family) in every
 * graph. Refuses, naming the node, when an operator changes in a way qgrain does not rewrite. The
 * IR version is raised to what the opset needs.
 */
export function upgradeOpset(model: Model, target: number): OpsetUpgrade {
  const from = model.opsetVersion() ?? target;
  const rewritten: Record<string, number> = {};
  if (from >= target) return { from, to: from, rewritten };
  for (const graph of model.graphs()) {
    for (const node of [...graph.nodes]) {
      if (!isDefaultDomain(node)) continue;
      const changesAt = BREAKING_CHANGES[node.opType];
      if (changesAt === undefined || from >= changesAt || target < changesAt) continue;
      const rewrite = REWRITES[node.opType];
      if (!rewrite) {
        throw new QgrainError(
          'unsupported',
          `${model.source}: node '${node.name}' (${node.opType}) changes meaning between opset ${from} and ${target}, and qgrain cannot rewrite it; export the model at opset ${target} or later`,
          { file: model.source, node: node.name, value: node.opType },
        );
      }
      rewrite(graph, node);
      rewritten[node.opType] = (rewritten[node.opType] ?? 0) + 1;
    }
  }
  model.raiseOpset(target);
  const ir = minimumIrVersion(target);
  if (Number(model.proto.irVersion) < ir) model.proto.irVersion = ir;
  return { from, to: target, rewritten };
}

/** The IR version an opset needs (from the ONNX versioning table). */
export function minimumIrVersion(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 12) return 7;
  if (opset === 11) return 6;
  if (opset === 10) return 5;
  if (opset === 9) return 4;
  return 3;
}
