// The switchboard: one copy of the float model in which each tensor the advisor measures can be
// swapped for its quantized version by a boolean graph input. One onnxruntime session then
// measures any tensor alone (its switch on, every other off), or any set of them together,
// without a model build and a session per measurement. A switch is an If node: only the branch
// taken runs, so a run with one switch on costs about what the float model costs.
import {
  type Graph,
  type GraphProto,
  type Model,
  createGraph,
  makeUnshapedValueInfo,
  makeValueInfo,
  parseModel,
  serializeModel,
} from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';

/**
 * A weight to switch: its float values are swapped for `quantized` (dequantized, same shape). A
 * weight may have several switches, one per option, each with its own `key`.
 */
export interface WeightSwitch {
  readonly tensor: string;
  /** The switch's name in `Switchboard.switches` (default: the tensor's name). */
  readonly key?: string;
  readonly quantized: Float32Array;
}

/** An activation to switch: it goes through QuantizeLinear/DequantizeLinear with these numbers. */
export interface ActivationSwitch {
  readonly tensor: string;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly storage: 'uint8' | 'int8' | 'uint16' | 'int16';
}

/** The switchboard's bytes and the input name of each tensor's switch. */
export interface Switchboard {
  readonly bytes: Uint8Array;
  /** Switch key (a tensor's name, or a weight option's key) -> its boolean graph input. */
  readonly switches: ReadonlyMap<string, string>;
  /**
   * Switched activation -> the graph inputs that carry its scale and zero point, and the values
   * fed when a run names none (the switch's own).
   */
  readonly qparams: ReadonlyMap<string, ActivationQparamInputs>;
}

/** Where a switched activation's scale and zero point enter the switchboard. */
export interface ActivationQparamInputs {
  readonly scale: string;
  readonly zeroPoint: string;
  readonly storage: ActivationSwitch['storage'];
  readonly defaults: { readonly scale: number; readonly zeroPoint: number };
}

/** A branch graph that hands `from` (an outer-scope value) out as its one output. */
function passThrough(model: Model, from: string, label: string): GraphProto {
  const out = model.uniqueName(`${from}::${label}`);
  const graph = createGraph({
    graphName: model.uniqueName(`${from}::${label}_branch`),
    inputs: [],
    outputs: [],
    nodes: [{ opType: 'Identity', inputs: [from], outputs: [out] }],
  });
  graph.output = [makeUnshapedValueInfo(out, 'float32')];
  return graph;
}

/**
 * A branch graph that quantizes and dequantizes `a.tensor` with the scale and zero point of the
 * outer-scope values `qparams` names (graph inputs, so one session can try any range).
 */
function quantizeDequantize(model: Model, a: ActivationSwitch, qparams: ActivationQparamInputs): GraphProto {
  const q = model.uniqueName(`${a.tensor}::sw_q`);
  const out = model.uniqueName(`${a.tensor}::sw_dq`);
  const graph = createGraph({
    graphName: model.uniqueName(`${a.tensor}::sw_qdq_branch`),
    inputs: [],
    outputs: [],
    nodes: [
      { opType: 'QuantizeLinear', inputs: [a.tensor, qparams.scale, qparams.zeroPoint], outputs: [q] },
      { opType: 'DequantizeLinear', inputs: [q, qparams.scale, qparams.zeroPoint], outputs: [out] },
    ],
  });
  graph.output = [makeUnshapedValueInfo(out, 'float32')];
  return graph;
}

/** Index of the node producing `name` plus one (0 for graph inputs and initializers). */
function after(graph: Graph, name: string): number {
  const producer = graph.producer(name);
  return producer ? graph.nodes.indexOf(producer) + 1 : 0;
}

/**
 * Builds the switchboard of a (prepared, float) model for main-graph weights and activations. The
 * model itself is not changed: the switchboard is made on a copy. 16-bit activations need
 * QuantizeLinear-21, so the copy's opset is raised to `opset` when given.
 */
export function buildSwitchboard(
  model: Model,
  weights: readonly WeightSwitch[],
  activations: readonly ActivationSwitch[],
  /** Values of the model to make outputs of the switchboard too (untyped: any element type). */
  alsoOutputs: readonly string[] = [],
): Switchboard {
  const copy = parseModel(serializeModel(model), { source: model.source });
  const graph = copy.graph;
  const switches = new Map<string, string>();
  const flag = (key: string): string => {
    const name = copy.uniqueName(`qgrain_switch::${key}`);
    graph.proto.input.push(makeValueInfo({ name, dtype: 'bool', shape: [] }));
    switches.set(key, name);
    return name;
  };
  const swap = (tensor: string, then: GraphProto, index: number): void => {
    const switched = copy.uniqueName(`${tensor}::switched`);
    // Readers are rewired first, so that the If's own branches keep reading the original.
    if (graph.replaceUses(tensor, switched) === 0) return;
    graph.addNode(
      {
        opType: 'If',
        inputs: [flag(tensor)],
        outputs: [switched],
        attributes: { then_branch: then, else_branch: passThrough(copy, tensor, 'float') },
      },
      index,
    );
  };
  // A weight's switches form a chain of If nodes, each passing on the value before it unless its
  // own switch is on: the readers see the float weight, or the one option switched on.
  const chains = new Map<string, WeightSwitch[]>();
  for (const w of weights) chains.set(w.tensor, [...(chains.get(w.tensor) ?? []), w]);
  for (const [tensor, options] of chains) {
    const init = graph.initializer(tensor);
    if (init?.dtype !== 'float32') {
      throw new QgrainError('internal', `switchboard: '${tensor}' is not a float32 main-graph initializer`, {
        tensor,
      });
    }
    const switched = copy.uniqueName(`${tensor}::switched`);
    if (graph.replaceUses(tensor, switched) === 0) continue;
    let previous = tensor;
    options.forEach((w, k) => {
      const quantized = copy.uniqueName(`${tensor}::quantized`);
      graph.addInitializer(quantized, new Tensor('float32', init.dims, w.quantized));
      const out = k === options.length - 1 ? switched : copy.uniqueName(`${tensor}::option`);
      graph.addNode(
        {
          opType: 'If',
          inputs: [flag(w.key ?? tensor)],
          outputs: [out],
          attributes: {
            then_branch: passThrough(copy, quantized, 'quantized'),
            else_branch: passThrough(copy, previous, 'previous'),
          },
        },
        k,
      );
      previous = out;
    });
  }
  const qparams = new Map<string, ActivationQparamInputs>();
  const qparamInputs = (a: ActivationSwitch): ActivationQparamInputs => {
    const inputs: ActivationQparamInputs = {
      scale: copy.uniqueName(`qgrain_scale::${a.tensor}`),
      zeroPoint: copy.uniqueName(`qgrain_zero_point::${a.tensor}`),
      storage: a.storage,
      defaults: { scale: a.scale, zeroPoint: a.zeroPoint },
    };
    graph.proto.input.push(makeValueInfo({ name: inputs.scale, dtype: 'float32', shape: [] }));
    graph.proto.input.push(makeValueInfo({ name: inputs.zeroPoint, dtype: a.storage, shape: [] }));
    qparams.set(a.tensor, inputs);
    return inputs;
  };
  for (const a of activations) {
    const inputs = qparamInputs(a);
    if (graph.isOutput(a.tensor)) {
      // A model output's readers are outside the graph: the output itself becomes the switch.
      const source = copy.uniqueName(`${a.tensor}::float`);
      graph.producer(a.tensor)!.output = graph
        .producer(a.tensor)!
        .output.map((o) => (o === a.tensor ? source : o));
      graph.replaceUses(a.tensor, source);
      graph.addNode(
        {
          opType: 'If',
          inputs: [flag(a.tensor)],
          outputs: [a.tensor],
          attributes: {
            then_branch: quantizeDequantize(copy, { ...a, tensor: source }, inputs),
            else_branch: passThrough(copy, source, 'float'),
          },
        },
        after(graph, source),
      );
      continue;
    }
    swap(a.tensor, quantizeDequantize(copy, a, inputs), after(graph, a.tensor));
  }
  if (activations.some((a) => a.storage === 'uint16' || a.storage === 'int16')) {
    const opset = copy.proto.opsetImport.find((o) => (o.domain ?? '') === '');
    if (opset && Number(opset.version) < 21) opset.version = 21;
  }
  // Added last, so that they stay values of the float model (a switched tensor's readers read
  // its switch by now).
  for (const name of alsoOutputs)
    if (!graph.isOutput(name)) graph.proto.output.push(makeUnshapedValueInfo(name));
  return { bytes: serializeModel(copy), switches, qparams };
}

/**
 * Feeds that turn on exactly the switches of `on` (every other off), with each switched
 * activation's scale and zero point from `ranges`, or its own when `ranges` has none.
 */
export function switchFeeds(
  board: Switchboard,
  on: Iterable<string>,
  ranges: ReadonlyMap<string, { readonly scale: number; readonly zeroPoint: number }> = new Map(),
): Record<string, Tensor> {
  const set = new Set(on);
  const feeds: Record<string, Tensor> = {};
  for (const [tensor, input] of board.switches)
    feeds[input] = new Tensor('bool', [], Uint8Array.of(set.has(tensor) ? 1 : 0));
  for (const [tensor, q] of board.qparams) {
    const values = ranges.get(tensor) ?? q.defaults;
    feeds[q.scale] = new Tensor('float32', [], Float32Array.of(values.scale));
    const zp = Tensor.zeros(q.storage, []);
    (zp.data as Uint8Array | Int8Array | Uint16Array | Int16Array)[0] = values.zeroPoint;
    feeds[q.zeroPoint] = zp;
  }
  return feeds;
}
