import { type QuantSpec, formatQuantSpec, parseQuantSpec } from '@qgrain/granularity';
import { type Graph, type Model, type NodeProto, isDefaultDomain, readInt } from '@qgrain/onnx';
import type { ObserverClip } from '@qgrain/observers';
import { QgrainError } from '@qgrain/tensor';
import { type Saturation, readerSaturation } from './saturation.js';
import { WEIGHT_OPS, type WeightRole, weightRoleOf } from './weight-roles.js';

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
}

/** An activation to wrap in QuantizeLinear/DequantizeLinear. */
export interface ActivationPlan {
  readonly tensor: string;
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
 * them costs accuracy without buying integer kernels.
 */
export function planQuantization(model: Model, options: PlanOptions = {}): Plan {
  const graph = model.graph;
  const weightSpec = parseQuantSpec(options.weights ?? DEFAULT_WEIGHT_SCHEME);
  const activationSpec = parseQuantSpec(options.activations ?? DEFAULT_ACTIVATION_SCHEME);
  if (activationSpec.granularity.kind !== 'per-tensor') {
    throw new QgrainError(
      'invalid-spec',
      `static activations are quantized per tensor (got ${formatQuantSpec(activationSpec)}); per-token activations are the dynamic mode's`,
      { value: formatQuantSpec(activationSpec), option: 'activations' },
    );
  }
  const weights = new Map<string, { nodes: string[]; role: WeightRole; spec: QuantSpec }>();
  const activations = new Map<string, { for: string[] }>();
  const biases: BiasPlan[] = [];
  const excluded: string[] = [];
  const want = (tensor: string, node: NodeProto): void => {
    if (options.floatActivations?.includes(tensor)) return;
    const entry = activations.get(tensor) ?? { for: [] };
    if (!entry.for.includes(node.name)) entry.for.push(node.name);
    activations.set(tensor, entry);
  };

  for (const node of graph.topologicalOrder()) {
    const weightInput = WEIGHT_OPS[node.opType];
    if (weightInput === undefined || !isDefaultDomain(node)) continue;
    const weightName = node.input[weightInput];
    const init = weightName ? graph.initializer(weightName) : undefined;
    if (!weightName || !init || init.dtype === undefined || !['float32', 'float16'].includes(init.dtype))
      continue;
    if (matches(node, options.exclude) || (options.include && !matches(node, options.include))) {
      excluded.push(node.name);
      continue;
    }
    const role = weightRoleOf(
      node.opType,
      init.dims,
      { group: readInt(node, 'group', 1), transB: readInt(node, 'transB', 0) },
      `node '${node.name}' weight '${weightName}'`,
    );
    if (!role) continue;
    const override = options.overrides?.[weightName];
    const spec = typeof override === 'string' ? parseQuantSpec(override) : weightSpec;
    const existing = weights.get(weightName);
    if (existing) existing.nodes.push(node.name);
    else weights.set(weightName, { nodes: [node.name], role, spec });

    if (options.weightsOnly) continue;
    const input = node.input[0]!;
    if (!graph.initializer(input)) want(input, node);
    want(fusedOutput(graph, node), node);

    const biasIndex =
      node.opType === 'Gemm' ? 2 : node.opType === 'Conv' || node.opType === 'ConvTranspose' ? 2 : -1;
    const bias = biasIndex >= 0 ? node.input[biasIndex] : undefined;
    const biasInit = bias ? graph.initializer(bias) : undefined;
    if (bias && biasInit && biasInit.dims.length === 1 && node.opType !== 'ConvTranspose') {
      biases.push({ initializer: bias, node: node.name, input, weight: weightName });
    }
  }

  const activationPlans: ActivationPlan[] = [];
  for (const [tensor, entry] of activations) {
    const override = options.overrides?.[tensor];
    if (override !== undefined && typeof override !== 'string') {
      activationPlans.push({ tensor, spec: activationSpec, for: entry.for, fixed: override });
      continue;
    }
    const saturation = readerSaturation(graph, tensor);
    activationPlans.push({
      tensor,
      spec: override === undefined ? activationSpec : parseQuantSpec(override),
      for: entry.for,
      ...(saturation ? { saturation } : {}),
    });
  }
  return {
    weights: [...weights].map(([initializer, w]) => ({ initializer, ...w })),
    activations: activationPlans,
    biases,
    excluded,
  };
}

/**
 * The constant MatMul/Gemm weights that data-free modes (weight-only blocks, dynamic W8A8) work
 * on: the shared planner restricted to those ops, with no activation planned.
 */
export function planMatMulWeights(model: Model, weights: string, exclude?: readonly string[]): Plan {
  return planQuantization(model, {
    weights,
    weightsOnly: true,
    include: ['MatMul', 'Gemm'],
    ...(exclude ? { exclude } : {}),
  });
}

/** A row-major [rows, cols] matrix transposed to [cols, rows] (a copy). */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
