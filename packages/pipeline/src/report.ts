import type { ModelComparison } from './compare.js';
import type { QuantizeReport } from './quantize-model.js';

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

/** The document `qgrain quantize --report` writes. */
export interface QuantizationReportDocument {
  readonly format: 'qgrain-report/1';
  readonly input: string;
  readonly output: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly opset: { readonly from: number; readonly to: number };
  readonly size: { readonly before: number; readonly after: number; readonly ratio: number };
  readonly calibration: QuantizeReport['calibration'] | null;
  readonly holdout_batches: number;
  readonly model_output_sqnr_db: Readonly<Record<string, JsonNumber>>;
  readonly layers: readonly LayerRow[];
  readonly activations: QuantizeReport['activations'];
  readonly biases: QuantizeReport['biases'];
  readonly excluded: readonly string[];
  readonly warnings: readonly string[];
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
  holdoutBatches: number;
  warnings: readonly string[];
}): QuantizationReportDocument {
  const { report, comparison } = args;
  const layerSqnr = new Map(comparison?.layers.map((l) => [l.name, l.sqnrDb]) ?? []);
  const activations = new Map(report.activations.map((a) => [a.tensor, a]));
  const rows: LayerRow[] = [];
  for (const w of report.weights) {
    for (const node of w.nodes) {
      const input = report.nodeInputs[node];
      const a = input === undefined ? undefined : activations.get(input);
      const out = args.nodeOutputs.get(node);
      rows.push({
        node,
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
    size: { before: args.sizeBefore, after: args.sizeAfter, ratio: args.sizeAfter / args.sizeBefore },
    calibration: report.calibration ?? null,
    holdout_batches: args.holdoutBatches,
    model_output_sqnr_db: Object.fromEntries(
      comparison?.outputs.map((o) => [o.name, jsonNumber(o.sqnrDb)]) ?? [],
    ),
    layers: rows,
    activations: report.activations,
    biases: report.biases,
    excluded: report.excluded,
    warnings: [...args.warnings, ...report.notes],
  };
}
