// What a quantize run did, tensor by tensor: the one report type every mode returns (see
// quantize.ts), and what report.ts turns into the JSON document.
import type { Saturation } from '../plan/saturation.js';

/** The three ways qgrain quantizes a model. */
export type QuantizeMode = 'static' | 'weight-only' | 'dynamic';

/** The forms a block-quantized weight can take in the written model. */
export type WeightOnlyFormat = 'qdq' | 'matmulnbits';

/** One quantized weight in the report. */
export interface WeightReport {
  readonly name: string;
  readonly nodes: readonly string[];
  readonly op: string;
  readonly shape: readonly number[];
  readonly depthwise: boolean;
  readonly scheme: string;
  readonly sqnrDb: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Block weights only: stored bits per weight element (scales, zero points, MatMulNBits padding included). */
  readonly bitsPerWeight?: number;
  /** Block weights only: the form written, blocked DequantizeLinear or MatMulNBits. */
  readonly form?: WeightOnlyFormat;
  /** After a clip search: SQNR of round-to-nearest on the full range, beside `sqnrDb`. */
  readonly rtnSqnrDb?: number;
  /** Path of the graph holding the weight: `main`, or the If/Loop/Scan bodies leading to it. */
  readonly graph?: string;
  /** The graph path of each of `nodes`, in order, when any differs from `graph`. */
  readonly readerGraphs?: readonly string[];
  /** The layout ops (Slice, Concat, ...) between the weight and the op that reads it, if any. */
  readonly via?: readonly string[];
  /** What the weight was rewritten into when not a DequantizeLinear (e.g. DynamicQuantizeLSTM). */
  readonly kernel?: string;
}

/** One quantized activation in the report. */
export interface ActivationReport {
  readonly tensor: string;
  readonly scheme: string;
  readonly method: string;
  readonly min: number;
  readonly max: number;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly for: readonly string[];
  /** Where the tensor's readers saturate; calibration counted values beyond as the end itself. */
  readonly saturation?: Saturation;
}

/** One bias: int32 behind a DequantizeLinear, or kept float with the reason. */
export interface BiasReport {
  readonly name: string;
  readonly node: string;
  readonly quantized: boolean;
  readonly note?: string;
}

/** What a quantize run did, tensor by tensor, in every mode. */
export interface QuantizeReport {
  readonly mode: QuantizeMode;
  readonly opset: { readonly from: number; readonly to: number };
  readonly weights: readonly WeightReport[];
  readonly activations: readonly ActivationReport[];
  readonly biases: readonly BiasReport[];
  readonly excluded: readonly string[];
  /** The activation each quantized node reads as its data input (input 0), before Q/DQ renamed it. */
  readonly nodeInputs: Readonly<Record<string, string>>;
  readonly calibration:
    | { readonly method: string; readonly batches: number; readonly passes: number }
    | undefined;
  /** Dynamic mode: the activation scheme computed at run time. */
  readonly dynamic?: string;
  /** Weight-only block mode: what the stored weights cost in all. */
  readonly totals?: {
    readonly elements: number;
    readonly bytesBefore: number;
    readonly bytesAfter: number;
    readonly bitsPerWeight: number;
  };
  readonly notes: readonly string[];
}
