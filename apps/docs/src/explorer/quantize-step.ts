// Quantizing in the worker: calibrate with onnxruntime-web on seeded sample inputs, quantize with
// the WASM kernels, then run float and quantized on a held-back sample and compare their outputs.
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import {
  type DataSource,
  type Runner,
  bindDataSource,
  feedSourceFromData,
  modelInputSpecs,
  ortRunner,
  quantize,
  randomSource,
} from '@qgrain/pipeline';
import type { Backend, Tensor } from '@qgrain/tensor';
import { outputSqnrDb } from './output-sqnr.js';
import { CALIBRATION_SAMPLES, type QuantizedModel } from './protocol.js';
/** Seeds of the calibration data and of the held-back sample the outputs are compared on. */
export const CALIBRATION_SEED = 7;
export const SAMPLE_SEED = 1234;

/** What {@link quantizeInWorker} needs. */
export interface QuantizeStepOptions {
  readonly original: Uint8Array;
  readonly dims: Readonly<Record<string, number>>;
  readonly method: string;
  readonly backend: Backend;
  readonly onProgress: (step: string, done: number, total: number) => void;
}

async function firstSample(source: DataSource): Promise<Record<string, Tensor>> {
  for await (const sample of source.samples()) return sample;
  throw new Error('the sample source is empty');
}

async function runOutputs(runner: Runner, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const outputs = await runner.run(feeds);
  const parts = Object.values(outputs).map((t) => Float32Array.from(t.data as ArrayLike<number>));
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Calibrates, quantizes and compares; returns the quantized model's bytes. */
export async function quantizeInWorker(options: QuantizeStepOptions): Promise<QuantizedModel> {
  const started = performance.now();
  const { onProgress } = options;
  onProgress('loading onnxruntime-web', 0, 1);
  // Loaded on first use, so the page's first load does not pay for it. The bundler emits its .wasm
  // beside the worker and the module finds it there. One thread: a page is not cross-origin isolated.
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = 1;
  const runnerFactory = (bytes: Uint8Array) => ortRunner(ort, bytes);

  const model = parseModel(options.original);
  prepareModel(model, { foldBatchNorm: true });
  const inputs = modelInputSpecs(model);
  // Inputs of the image models this page is for are normalised to about [-1, 1].
  const sampleData = (seed: number, count: number) =>
    bindDataSource(randomSource({ inputs, count, seed, low: -1, high: 1, dims: options.dims }), inputs, {
      batchSize: 1,
    });
  const floatBytes = serializeModel(model);

  const { report } = await quantize(model, {
    data: feedSourceFromData(sampleData(CALIBRATION_SEED, CALIBRATION_SAMPLES)),
    runner: runnerFactory,
    method: options.method,
    backend: options.backend,
    onProgress: ({ stage, done, total }) => onProgress(stage, done, total),
  });
  const quantized = serializeModel(model);

  onProgress('running float and quantized', 0, 2);
  const sample = await firstSample(sampleData(SAMPLE_SEED, 1));
  const floatRunner = await runnerFactory(floatBytes);
  const floatOutput = await runOutputs(floatRunner, sample);
  await floatRunner.release();
  onProgress('running float and quantized', 1, 2);
  const quantRunner = await runnerFactory(quantized);
  const quantizedOutput = await runOutputs(quantRunner, sample);
  await quantRunner.release();
  onProgress('running float and quantized', 2, 2);

  const bytes = quantized.buffer.slice(quantized.byteOffset, quantized.byteOffset + quantized.byteLength);
  return {
    bytes: bytes as ArrayBuffer,
    floatBytes: options.original.byteLength,
    weights: report.weights.length,
    activations: report.activations.length,
    method: options.method,
    calibrationSamples: CALIBRATION_SAMPLES,
    outputSqnrDb: outputSqnrDb(floatOutput, quantizedOutput),
    sampleShape: Object.fromEntries(Object.entries(sample).map(([name, t]) => [name, [...t.shape]])),
    floatOutput: [...floatOutput.slice(0, 8)],
    quantizedOutput: [...quantizedOutput.slice(0, 8)],
    milliseconds: performance.now() - started,
  };
}
