import { type QuantSpec, formatQuantSpec, parseQuantSpec } from '@qgrain/granularity';
import { type Graph, type Model, type NodeProto, isDefaultDomain, readInt } from '@qgrain/onnx';
import type { ObserverClip } from '@qgrain/observers';
import { QgrainError } from '@qgrain/tensor';
import { traceConstant, rowAxisOfSource } from './constant-chain.js';
import { graphPath, initializerOwner, reachableByIfOutputs } from './graph-scope.js';
import { type Saturation, readerSaturation } from './saturation.js';
import {
  RECURRENT_GATES,
  RECURRENT_WEIGHT_INPUTS,
  WEIGHT_OPS,
  type WeightRole,
  recurrentSourceRole,
  recurrentWeightRole,
  weightRoleOf,
} from './weight-roles.js';

/** Ops after which onnxruntime folds the activation into the quantization of the op before. */
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** The weight default TensorRT and onnxruntime settled on: int8 symmetric per channel. */
export const DEFAULT_WEIGHT_SCHEME = 'int8/per-channel';
/** The activation default onnxruntime's static quantizer settled on: uint8 per tensor. */
export const DEFAULT_ACTIVATION_SCHEME = 'uint8/per-tensor';

/** A weight initializer to quantize. */
export interface WeightPlan {
  readonly initializer: string;
  /** Every node that reads it as a weight (a tied weight has several). */
  readonly nodes: readonly string[];
  readonly role: WeightRole;
  readonly spec: QuantSpec;
  /** Path of the graph that holds the initializer (`main`, or see graphPath). */
  readonly graph: string;
  /** The graph path of each of `nodes`, in order, when any is not `graph` itself. */
  readonly readerGraphs?: readonly string[];
  /** The layout ops between the initializer and its op's weight input, when it is not read directly. */
  readonly via?: readonly string[];
}

/** Why a weight a supported op reads is not in the plan. */
export type SkipReason = 'subgraph' | 'not-constant' | 'layout';

/** A node with a weight input whose weight the plan leaves float, and why. */
export interface SkippedWeight {
  readonly node: string;
  readonly op: string;
  /** Path of the node's graph. */
  readonly graph: string;
  readonly reason: SkipReason;
}

/** An activation to wrap in QuantizeLinear/DequantizeLinear. */
export interface ActivationPlan {
  readonly tensor: string;
  /** Path of the graph that defines the tensor (`main`, or an If branch: see graphPath). */
  readonly graph: string;
  readonly spec: QuantSpec;
  /** Why it is quantized: the nodes whose integer kernel needs it. */
  readonly for: readonly string[];
  /** An explicit scale/zero point from the user instead of calibration. */
  readonly fixed?: { readonly scale: number; readonly zeroPoint: number };
  /**
   * Where the tensor's readers saturate (a HardSwish reads everything below -3 as 0):
   * calibration observes values beyond as the end itself, so the range spends no steps on them.
   */
  readonly saturation?: Saturation;
}

/** A bias that becomes int32 once its node's input and weight scales are known. */
export interface BiasPlan {
  readonly initializer: string;
  readonly node: string;
  /** Path of the node's graph. */
  readonly graph: string;
  readonly input: string;
  readonly weight: string;
}

/** Tensor name -> what happens to it. */
export interface Plan {
  readonly weights: readonly WeightPlan[];
  readonly activations: readonly ActivationPlan[];
  readonly biases: readonly BiasPlan[];
  /** Nodes that stay float because the user excluded them. */
  readonly excluded: readonly string[];
  /** Nodes of supported ops whose weights stay float for another reason. */
  readonly skipped: readonly SkippedWeight[];
}

/** A per-tensor override: a scheme text, or an explicit scale and zero point. */
export type TensorOverride = string | { readonly scale: number; readonly zeroPoint: number };

/** What a plan is made from. */
export interface PlanOptions {
  readonly weights?: string;
  readonly activations?: string;
  /** Node names or op types that stay float. */
  readonly exclude?: readonly string[];
  /** Only these node names or op types are quantized (default: every supported node). */
  readonly include?: readonly string[];
  readonly overrides?: Readonly<Record<string, TensorOverride>>;
  /** Quantize weights only: no activation is quantized (the model computes in float). */
  readonly weightsOnly?: boolean;
  /** Activations to leave float even where an integer kernel would want them quantized. */
  readonly floatActivations?: readonly string[];
}

/**
 * What a histogram observer chooses a range for, from an activation's scheme: its integer bits
 * (one less with reduce-range) and whether the grid is symmetric. An int16 activation calibrated
 * as if it had 8 bits would be clipped far more than its 65535 steps call for.
 */
export function histogramTarget(spec: QuantSpec): { symmetric: boolean; bits: number } {
  return { symmetric: spec.symmetric, bits: spec.type.bits - (spec.reduceRange ? 1 : 0) };
}

/** What calibration observes an activation for: its histogram target and its readers' saturation. */
export interface ObserverTarget {
  readonly symmetric: boolean;
  readonly bits: number;
  readonly clip?: ObserverClip;
}

/** The `ObserverTarget` of each planned activation, looked up by tensor name (calibration's `observerFor`). */
export function observerTargets(activations: readonly ActivationPlan[]): (tensor: string) => ObserverTarget {
  const byTensor = new Map(activations.map((a) => [a.tensor, a]));
  return (tensor) => {
    const a = byTensor.get(tensor)!;
    const { min, max } = a.saturation ?? {};
    const clip = { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
    return { ...histogramTarget(a.spec), ...(a.saturation ? { clip } : {}) };
  };
}

function matches(node: NodeProto, list: readonly string[] | undefined): boolean {
  return list !== undefined && (list.includes(node.name) || list.includes(node.opType));
}

/** True when a node of `graph` holds a body that reads `name` from the outer scope. */
function readByBody(graph: Graph, name: string): boolean {
  return graph.nodes.some((n) => graph.subgraphs(n).some((sub) => sub.outerScopeReferences().has(name)));
}

/** The graph that defines `name` as `graph` sees it: `graph` itself or the enclosing one that does. */
function definingGraph(graph: Graph, name: string): Graph {
  for (let g: Graph | undefined = graph; g; g = g.parent) if (g.defines(name)) return g;
  return graph;
}

/** The value a node's output reaches through a single-consumer Relu/Clip, which onnxruntime fuses. */
function fusedOutput(graph: Graph, node: NodeProto): string {
  let tensor = node.output[0]!;
  for (;;) {
    const reader = graph.soleConsumer(tensor);
    if (!reader || !FUSED_ACTIVATIONS.has(reader.opType)) return tensor;
    tensor = reader.output[0]!;
  }
}

/**
 * Decides what to quantize. Weights of Conv/ConvTranspose/Gemm/MatMul are quantized per channel
 * on the axis each op needs; the activations quantized are exactly those onnxruntime's integer
 * kernels need to fuse (the input of each such node, and its output, after a fused Relu/Clip).
 * Element-wise chains between them (hard-swish, SE gates, residual adds) stay float: quantizing
 * them costs accuracy without buying integer kernels. Every graph is walked: weights inside
 * If/Loop/Scan bodies are planned for weight-only quantization, and LSTM/GRU/RNN weights (W and R,
 * read directly or through layout ops) in every mode, since neither needs a calibrated activation.
 * Static Conv/Gemm/MatMul nodes inside bodies are listed in `skipped`.
 */
export function planQuantization(model: Model, options: PlanOptions = {}): Plan {
  const weightSpec = parseQuantSpec(options.weights ?? DEFAULT_WEIGHT_SCHEME);
  const activationSpec = parseQuantSpec(options.activations ?? DEFAULT_ACTIVATION_SCHEME);
  if (activationSpec.granularity.kind !== 'per-tensor') {
    throw new QgrainError(
      'invalid-spec',
      `static activations are quantized per tensor (got ${formatQuantSpec(activationSpec)}); per-token activations are the dynamic mode's`,
      { value: formatQuantSpec(activationSpec), option: 'activations' },
    );
  }
  const weights = new Map<
    string,
    {
      nodes: string[];
      role: WeightRole;
      spec: QuantSpec;
      graph: string;
      readers: string[];
      via?: string[];
    }
  >();
  const activations = new Map<string, { for: string[]; graph: Graph }>();
  const biases: BiasPlan[] = [];
  const excluded: string[] = [];
  const skipped: SkippedWeight[] = [];
  const want = (tensor: string, node: NodeProto, reader: Graph): void => {
    if (options.floatActivations?.includes(tensor)) return;
    const home = definingGraph(reader, tensor);
    // Two shapes of Q/DQ that onnxruntime 1.30 cannot take stay float: a value a body reads from
    // the outer scope, and, inside a body, a value a Transpose reads (its transpose optimizer
    // aborts the whole process on that one, on silero VAD v4's LSTM input).
    if (readByBody(home, tensor)) return;
    if (home.parent && home.consumers(tensor).some((c) => c.opType === 'Transpose')) return;
    const entry = activations.get(tensor) ?? { for: [], graph: home };
    if (!entry.for.includes(node.name)) entry.for.push(node.name);
    activations.set(tensor, entry);
  };
  const addWeight = (
    name: string,
    node: NodeProto,
    role: WeightRole,
    owner: Graph,
    readerPath: string,
    via?: string[],
  ): void => {
    const override = options.overrides?.[name];
    const spec = typeof override === 'string' ? parseQuantSpec(override) : weightSpec;
    const existing = weights.get(name);
    if (existing) {
      if (!existing.nodes.includes(node.name)) {
        existing.nodes.push(node.name);
        existing.readers.push(readerPath);
      }
    } else {
      weights.set(name, {
        nodes: [node.name],
        role,
        spec,
        graph: graphPath(owner),
        readers: [readerPath],
        ...(via ? { via } : {}),
      });
    }
  };
  const isFloat = (dtype: string | undefined) => dtype === 'float32' || dtype === 'float16';

  for (const g of model.graphs()) {
    const path = graphPath(g);
    const inMain = g.parent === undefined;
    for (const node of g.topologicalOrder()) {
      if (!isDefaultDomain(node)) continue;
      const skip = (reason: SkipReason) =>
        skipped.push({ node: node.name, op: node.opType, graph: path, reason });
      if (RECURRENT_GATES[node.opType] !== undefined) {
        // Recurrent weights are dequantized for the float op: no activation is involved, so they
        // need no calibration and are planned in any graph, in every mode.
        if (matches(node, options.exclude) || (options.include && !matches(node, options.include))) {
          excluded.push(node.name);
          continue;
        }
        for (const input of RECURRENT_WEIGHT_INPUTS) {
          const name = node.input[input];
          if (!name) continue;
          const owner = initializerOwner(g, name);
          if (owner) {
            const init = owner.initializer(name)!;
            if (!isFloat(init.dtype)) continue;
            const role = recurrentWeightRole(
              node.opType,
              input,
              init.dims,
              `node '${node.name}' weight '${name}'`,
            );
            addWeight(name, node, role, owner, path);
            continue;
          }
          const chain = traceConstant(g, name);
          if (!chain) {
            skip('not-constant');
            continue;
          }
          for (const source of chain.sources) {
            const rowAxis = rowAxisOfSource(g, name, source);
            if (rowAxis === undefined) {
              skip('layout');
              continue;
            }
            const role = recurrentSourceRole(node.opType, input, source.dims, rowAxis);
            const via = [...new Set(chain.nodes.map((n) => n.node.opType))];
            addWeight(source.name, node, role, source.graph, path, via);
          }
        }
        continue;
      }
      const weightInput = WEIGHT_OPS[node.opType];
      if (weightInput === undefined) continue;
      const weightName = node.input[weightInput];
      const owner = weightName ? initializerOwner(g, weightName) : undefined;
      const init = owner && weightName ? owner.initializer(weightName) : undefined;
      if (!weightName || !owner || !init || !isFloat(init.dtype)) {
        skip('not-constant');
        continue;
      }
      if (matches(node, options.exclude) || (options.include && !matches(node, options.include))) {
        excluded.push(node.name);
        continue;
      }
      // A static node inside a body needs its activations calibrated. onnxruntime fetches values
      // of the main graph only; values of If branches reach it as extra If outputs (see
      // calibrate.ts), but a Loop or Scan body's values change from one iteration to the next.
      if (!inMain && !options.weightsOnly && !reachableByIfOutputs(g)) {
        skip('subgraph');
        continue;
      }
      const role = weightRoleOf(
        node.opType,
        init.dims,
        { group: readInt(node, 'group', 1), transB: readInt(node, 'transB', 0) },
        `node '${node.name}' weight '${weightName}'`,
      );
      if (!role) continue;
      addWeight(weightName, node, role, owner, path);

      if (options.weightsOnly) continue;
      const input = node.input[0]!;
      if (!g.initializer(input)) want(input, node, g);
      want(fusedOutput(g, node), node, g);

      const biasIndex =
        node.opType === 'Gemm' ? 2 : node.opType === 'Conv' || node.opType === 'ConvTranspose' ? 2 : -1;
      const bias = biasIndex >= 0 ? node.input[biasIndex] : undefined;
      const biasInit = bias ? g.initializer(bias) : undefined;
      if (bias && biasInit && biasInit.dims.length === 1 && node.opType !== 'ConvTranspose') {
        biases.push({ initializer: bias, node: node.name, graph: path, input, weight: weightName });
      }
    }
  }

  const activationPlans: ActivationPlan[] = [];
  for (const [tensor, entry] of activations) {
    const override = options.overrides?.[tensor];
    if (override !== undefined && typeof override !== 'string') {
      activationPlans.push({
        tensor,
        graph: graphPath(entry.graph),
        spec: activationSpec,
        for: entry.for,
        fixed: override,
      });
      continue;
    }
    const saturation = readerSaturation(entry.graph, tensor);
    activationPlans.push({
      graph: graphPath(entry.graph),
      tensor,
      spec: override === undefined ? activationSpec : parseQuantSpec(override),
      for: entry.for,
      ...(saturation ? { saturation } : {}),
    });
  }
  return {
    weights: [...weights].map(([initializer, { readers, ...w }]) => {
      const elsewhere = readers.some((r) => r !== w.graph);
      return { initializer, ...w, ...(elsewhere ? { readerGraphs: readers } : {}) };
    }),
    activations: activationPlans,
    biases,
    excluded,
    skipped,
  };
}

/**
 * The constant weights that data-free modes (weight-only blocks, dynamic W8A8) work on, in every
 * graph: the shared planner restricted to `ops` (default MatMul, Gemm and the recurrent ops),
 * with no activation planned.
 */
export function planMatMulWeights(
  model: Model,
  weights: string,
  exclude?: readonly string[],
  ops: readonly string[] = ['MatMul', 'Gemm', ...Object.keys(RECURRENT_GATES)],
): Plan {
  return planQuantization(model, {
    weights,
    weightsOnly: true,
    include: ops,
    ...(exclude ? { exclude } : {}),
  });
}

/** A row-major [rows, cols] matrix transposed to [cols, rows] (a copy). */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
