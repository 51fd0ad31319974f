import { maxAbsError, sqnrFromSums } from '@qgrain/granularity';
import { type Model, OnnxDataType, elementTypes } from '@qgrain/onnx';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import type { FeedSource } from '../calibrate/calibrate.js';
import { type TensorPassOptions, runTensorPasses } from './tensor-passes.js';

/**
 * SQNR below which a layer is flagged as where accuracy falls: 20 dB means the noise power is 1%
 * of the signal's. A round engineering bound, not a law: on PP-OCRv4 (bench/ and eval/) healthy
 * int8 layers measure well above it, and per-tensor int8 weights push depthwise layers below it.
 */
export const DEFAULT_SQNR_THRESHOLD_DB = 20;

/** Agreement of one tensor between the float and the quantized model, over all compared samples. */
export interface TensorComparison {
  readonly name: string;
  /** Producing op in the float model (for layer-wise rows). */
  readonly op: string;
  readonly node: string;
  readonly sqnrDb: number;
  readonly cosine: number;
  readonly maxAbsError: number;
  readonly elements: number;
}

/** What `compareModels` measured. */
export interface ModelComparison {
  readonly samples: number;
  readonly outputs: readonly TensorComparison[];
  /** Every intermediate both models share, in the float model's graph order (with `layerwise`). */
  readonly layers: readonly TensorComparison[];
  /** The first layer whose SQNR is under the threshold, if any. */
  readonly firstBelowThreshold: TensorComparison | undefined;
  readonly thresholdDb: number;
}

/** Options of `compareModels`. */
export interface CompareOptions extends TensorPassOptions {
  readonly layerwise?: boolean;
  /** With `layerwise`, compare only these intermediate tensors (default: every shared one). */
  readonly tensors?: readonly string[];
  readonly thresholdDb?: number;
}

/** Element types whose values carry quantization error; they are compared in float32. */
const FLOAT_TYPES: ReadonlySet<number> = new Set([
  OnnxDataType.FLOAT,
  OnnxDataType.FLOAT16,
  OnnxDataType.BFLOAT16,
]);

class Accumulator {
  signal = 0;
  noise = 0;
  dot = 0;
  normB = 0;
  maxAbs = 0;
  elements = 0;

  add(a: Float32Array, b: Float32Array): void {
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      const e = x - y;
      this.signal += x * x;
      this.noise += e * e;
      this.dot += x * y;
      this.normB += y * y;
    }
    this.maxAbs = Math.max(this.maxAbs, maxAbsError(a, b));
    this.elements += a.length;
  }

  cosine(): number {
    if (this.signal === 0 && this.normB === 0) return 1;
    if (this.signal === 0 || this.normB === 0) return 0;
    return this.dot / Math.sqrt(this.signal * this.normB);
  }
}

function floatData(t: Tensor | undefined, name: string, which: string): Float32Array {
  if (!t) throw new QgrainError('internal', `${which} model returned no value for '${name}'`);
  return t.dtype === 'float32' ? (t.data as Float32Array) : t.toFloat32();
}

/**
 * Runs a float model and its quantized version on the same feeds and measures how far the
 * quantized outputs (and, with `layerwise`, every intermediate tensor both models name the same
 * way) are from the float ones: SQNR, cosine similarity, max abs error. Intermediates are fetched
 * in groups that fit the memory budget (runTensorPasses), so large models take several passes
 * over the data.
 */
export async function compareModels(
  float: Model,
  quantized: Model,
  feeds: FeedSource,
  options: CompareOptions,
): Promise<ModelComparison> {
  const threshold = options.thresholdDb ?? DEFAULT_SQNR_THRESHOLD_DB;
  const outputs = float.graph.outputNames();
  const missing = outputs.filter((o) => !quantized.graph.isOutput(o));
  if (missing.length > 0) {
    throw new QgrainError(
      'invalid-argument',
      `the quantized model has no output '${missing[0]}' of the float model; compare a model with its own quantized version`,
    );
  }
  const quantValues = new Set(quantized.graph.nodes.flatMap((n) => n.output));
  const layers: { name: string; op: string; node: string }[] = [];
  // Only float tensors carry quantization error; shapes and indices are left out.
  const types = options.layerwise ? elementTypes(float.graph) : new Map<string, number>();
  if (options.layerwise) {
    for (const node of float.graph.topologicalOrder()) {
      for (const out of node.output) {
        if (out === '' || !quantValues.has(out) || outputs.includes(out)) continue;
        if (options.tensors && !options.tensors.includes(out)) continue;
        if (!FLOAT_TYPES.has(types.get(out) ?? 0)) continue;
        layers.push({ name: out, op: node.opType, node: node.name });
      }
    }
  }
  const stats = new Map<string, Accumulator>();
  for (const name of [...outputs, ...layers.map((l) => l.name)]) stats.set(name, new Accumulator());

  const samples = await runTensorPasses(
    [float, quantized],
    outputs,
    layers.map((l) => l.name),
    feeds,
    options,
    ([a, b], names) => {
      for (const name of names)
        stats.get(name)!.add(floatData(a![name], name, 'float'), floatData(b![name], name, 'quantized'));
    },
  );
  const row = (name: string, op: string, node: string): TensorComparison => {
    const s = stats.get(name)!;
    return {
      name,
      op,
      node,
      sqnrDb: sqnrFromSums(s.signal, s.noise),
      cosine: s.cosine(),
      maxAbsError: s.maxAbs,
      elements: s.elements,
    };
  };
  const outputRows = outputs.map((o) => {
    const producer = float.graph.producer(o);
    return row(o, producer?.opType ?? '', producer?.name ?? '');
  });
  const layerRows = layers.map((l) => row(l.name, l.op, l.node));
  return {
    samples,
    outputs: outputRows,
    layers: layerRows,
    firstBelowThreshold: layerRows.find((l) => l.sqnrDb < threshold),
    thresholdDb: threshold,
  };
}
