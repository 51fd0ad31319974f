import type { Model } from '@qgrain/onnx';
import type { ModelComparison } from './compare.js';
import type { QuantizeReport } from './quantize-report.js';

/** A finite number, or "inf"/"-inf" (JSON has no infinities), or null when not measured. */
export type JsonNumber = number | 'inf' | '-inf' | null;

/** JSON-safe form of a measurement. */
export function jsonNumber(value: number | undefined): JsonNumber {
  if (value === undefined || Number.isNaN(value)) return null;
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return value;
}

/** One row of the quantization report: a quantized layer and what it cost. */
export interface LayerRow {
  readonly node: string;
  /** Path of the node's graph: `main`, or the If/Loop/Scan bodies leading to it. */
  readonly graph: string;
  readonly op: string;
  readonly weight: string;
  readonly shape: readonly number[];
  readonly depthwise: boolean;
  readonly scheme: string;
  readonly weight_sqnr_db: JsonNumber;
  readonly input: {
    readonly tensor: string;
    readonly scheme: string;
    readonly method: string;
    readonly min: number;
    readonly max: number;
  } | null;
  readonly output_sqnr_db: JsonNumber;
  readonly bytes_before: number;
  readonly bytes_after: number;
}

/** One quantized activation in the JSON document (snake_case, like every key of the document). */
export interface ActivationRow {
  readonly tensor: string;
  readonly scheme: string;
  readonly method: string;
  readonly min: number;
  readonly max: number;
  readonly scale: number;
  readonly zero_point: number;
  readonly for: readonly string[];
  readonly saturation?: { readonly min?: number; readonly max?: number; readonly by: string };
}

/** The JSON document of a quantize run (what the CLI's quantize report writes). */
export interface QuantizationReportDocument {
  readonly format: 'qgrain-report/1';
  readonly input: string;
  readonly output: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly opset: { readonly from: number; readonly to: number };
  readonly size: {
    readonly before: number;
    readonly after: number;
    readonly ratio: number;
    readonly breakdown: SizeBreakdown;
  };
  readonly calibration: QuantizeReport['calibration'] | null;
  /** The data the run read (calibration and held-back batches), or null when it read none. */
  readonly data: { readonly source: string; readonly random: boolean } | null;
  readonly holdout_batches: number;
  readonly model_output_sqnr_db: Readonly<Record<string, JsonNumber>>;
  readonly layers: readonly LayerRow[];
  readonly activations: readonly ActivationRow[];
  readonly biases: QuantizeReport['biases'];
  readonly excluded: readonly string[];
  readonly warnings: readonly string[];
  /** The data-free modes (weight-only, dynamic): what the stored weights cost, layer by layer. */
  readonly weight_storage?: WeightStorageSummary;
}

/** What the stored weights cost and how the file size compares with that, for the weight-only and dynamic modes. */
export interface WeightStorageSummary {
  readonly elements: number;
  readonly bytes_before: number;
  readonly bytes_after: number;
  readonly bits_per_weight: number;
  /** Per layer, in report order: stored bits per weight element (scales, zero points, padding included). */
  readonly layers: ReadonlyArray<{
    readonly weight: string;
    readonly form: string;
    readonly bits_per_weight: number;
  }>;
  /** The prepared float model's size with each quantized weight's float bytes replaced by its stored bytes. */
  readonly predicted_file_bytes: number;
  readonly file_bytes: number;
}

/**
 * Stored bytes per weight and the file size they predict: the prepared float model's size
 * (`preparedBytes`: what was quantized, Constant nodes lifted and BatchNorms folded) with each
 * weight's float bytes replaced by its stored bytes. What remains of `fileBytes` is the graph's own
 * overhead: the new nodes, names and tensor headers.
 */
export function weightStorageSummary(
  report: QuantizeReport,
  preparedBytes: number,
  fileBytes: number,
): WeightStorageSummary {
  const layers = report.weights.map((w) => {
    const elements = w.shape.reduce((a, b) => a * b, 1);
    return {
      weight: w.name,
      form: w.form ?? 'qdq',
      bits_per_weight: (w.bytesAfter * 8) / elements,
      elements,
    };
  });
  const elements = layers.reduce((a, l) => a + l.elements, 0);
  const before = report.weights.reduce((a, w) => a + w.bytesBefore, 0);
  const after = report.weights.reduce((a, w) => a + w.bytesAfter, 0);
  return {
    elements,
    bytes_before: before,
    bytes_after: after,
    bits_per_weight: elements > 0 ? (after * 8) / elements : 0,
    layers: layers.map(({ elements: _, ...l }) => l),
    predicted_file_bytes: preparedBytes - before + after,
    file_bytes: fileBytes,
  };
}

/** Where the bytes of a quantized model file go. */
export interface SizeBreakdown {
  /** Integers of quantized weights (DequantizeLinear, MatMulNBits and MatMulInteger inputs). */
  readonly quantized_weights: number;
  /** int32 biases behind DequantizeLinear. */
  readonly int32_biases: number;
  /** Scales and zero points of weights, biases and activations. */
  readonly scales_and_zero_points: number;
  /** Every other stored tensor: weights left float, shape and element-wise constants. */
  readonly other_constants: number;
  /** The rest of the file: nodes, names, tensor headers. */
  readonly graph: number;
}

/** Which inputs of a quantizing op hold integers (role 'q') and which hold scales or zero points. */
const QUANTIZED_INPUTS: Readonly<Record<string, { q: number; params: readonly number[] }>> = {
  DequantizeLinear: { q: 0, params: [1, 2] },
  QuantizeLinear: { q: -1, params: [1, 2] },
  MatMulNBits: { q: 1, params: [2, 3] },
  MatMulInteger: { q: 1, params: [3] },
};

/**
 * Splits the `fileBytes` of a written quantized model into its stored data by role and the graph
 * around it, so a size that stays high can be traced to its cause (a network of small depthwise
 * layers pays a scale and an int32 bias for every ~9 int8 weights).
 */
export function sizeBreakdown(model: Model, fileBytes: number): SizeBreakdown {
  const graph = model.graph;
  const role = new Map<string, 'weights' | 'biases' | 'params'>();
  for (const node of graph.nodes) {
    const inputs = QUANTIZED_INPUTS[node.opType];
    if (!inputs) continue;
    node.input.forEach((name, i) => {
      const init = name ? graph.initializer(name) : undefined;
      if (!init) return;
      if (i === inputs.q) role.set(name, init.dtype === 'int32' ? 'biases' : 'weights');
      else if (inputs.params.includes(i)) role.set(name, 'params');
    });
  }
  const sums = { weights: 0, biases: 0, params: 0, other: 0 };
  for (const init of graph.initializers()) {
    const bytes = init.byteLength ?? init.bytes().byteLength;
    sums[role.get(init.name) ?? 'other'] += bytes;
  }
  return {
    quantized_weights: sums.weights,
    int32_biases: sums.biases,
    scales_and_zero_points: sums.params,
    other_constants: sums.other,
    graph: fileBytes - sums.weights - sums.biases - sums.params - sums.other,
  };
}

/**
 * Joins what quantization did (weights, activations, biases) with what the held-back comparison
 * measured (output SQNR per layer and for the model) into one row per quantized layer, in the
 * order the layers run.
 */
export function buildReportDocument(args: {
  input: string;
  output: string;
  settings: Record<string, unknown>;
  report: QuantizeReport;
  comparison: ModelComparison | undefined;
  nodeOutputs: ReadonlyMap<string, string>;
  sizeBefore: number;
  sizeAfter: number;
  sizeBreakdown: SizeBreakdown;
  holdoutBatches: number;
  warnings: readonly string[];
  /** What the data was (a description and whether it was synthetic), when data was read. */
  data?: { readonly description: string; readonly random: boolean };
  /** Added to the document as `weight_storage` (the data-free modes). */
  weightStorage?: WeightStorageSummary;
}): QuantizationReportDocument {
  const { report, comparison } = args;
  const layerSqnr = new Map(comparison?.layers.map((l) => [l.name, l.sqnrDb]) ?? []);
  const activations = new Map(report.activations.map((a) => [a.tensor, a]));
  const rows: LayerRow[] = [];
  for (const w of report.weights) {
    for (const [k, node] of w.nodes.entries()) {
      const input = report.nodeInputs[node];
      const a = input === undefined ? undefined : activations.get(input);
      const out = args.nodeOutputs.get(node);
      rows.push({
        node,
        graph: w.readerGraphs?.[k] ?? w.graph ?? 'main',
        op: w.op,
        weight: w.name,
        shape: w.shape,
        depthwise: w.depthwise,
        scheme: w.scheme,
        weight_sqnr_db: jsonNumber(w.sqnrDb),
        input: a ? { tensor: a.tensor, scheme: a.scheme, method: a.method, min: a.min, max: a.max } : null,
        output_sqnr_db: jsonNumber(out === undefined ? undefined : layerSqnr.get(out)),
        bytes_before: w.bytesBefore,
        bytes_after: w.bytesAfter,
      });
    }
  }
  return {
    format: 'qgrain-report/1',
    input: args.input,
    output: args.output,
    settings: args.settings,
    opset: report.opset,
    size: {
      before: args.sizeBefore,
      after: args.sizeAfter,
      ratio: args.sizeAfter / args.sizeBefore,
      breakdown: args.sizeBreakdown,
    },
    calibration: report.calibration ?? null,
    data: args.data ? { source: args.data.description, random: args.data.random } : null,
    holdout_batches: args.holdoutBatches,
    model_output_sqnr_db: Object.fromEntries(
      comparison?.outputs.map((o) => [o.name, jsonNumber(o.sqnrDb)]) ?? [],
    ),
    layers: rows,
    activations: report.activations.map(({ zeroPoint, saturation, ...a }) => ({
      ...a,
      zero_point: zeroPoint,
      ...(saturation ? { saturation: { ...saturation } } : {}),
    })),
    biases: report.biases,
    excluded: report.excluded,
    warnings: [...args.warnings, ...report.notes],
    ...(args.weightStorage ? { weight_storage: args.weightStorage } : {}),
  };
}
