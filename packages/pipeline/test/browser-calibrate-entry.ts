// Bundled by browser.test.ts and run in headless Chromium: calibrates and quantizes a model in the
// page, with onnxruntime-web (WebAssembly, one thread) running the model through ortRunner. The
// test puts the input on globalThis.qgrainCalibrateInput and serves onnxruntime-web's .wasm files.
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { type FeedSource, ortRunner, quantize } from '@qgrain/pipeline';
import { Tensor } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import * as ort from 'onnxruntime-web';
import { randomFloat32 } from '@qgrain/test-harness/random';
import { fromBase64, toBase64 } from './browser-entry-base64.js';

/** What the test hands the page. */
export interface BrowserCalibrateInput {
  readonly model: string;
  /** Where the page fetches onnxruntime-web's .wasm files from. */
  readonly wasmPaths: string;
  readonly shape: readonly number[];
  readonly seeds: readonly number[];
  readonly method: string;
}

/** What the page hands back. */
export interface BrowserCalibrateOutput {
  readonly ranges: Record<string, { min: number; max: number }>;
  /** The quantized model, base64. */
  readonly model: string;
}

const scope = globalThis as {
  qgrainCalibrateInput?: BrowserCalibrateInput;
  qgrainCalibrated?: Promise<BrowserCalibrateOutput>;
};
scope.qgrainCalibrated = (async () => {
  const input = scope.qgrainCalibrateInput!;
  ort.env.wasm.wasmPaths = input.wasmPaths;
  ort.env.wasm.numThreads = 1;
  const model = parseModel(fromBase64(input.model));
  prepareModel(model, { foldBatchNorm: true });
  const size = input.shape.reduce((a, b) => a * b, 1);
  const feeds: FeedSource = async function* () {
    for (const seed of input.seeds)
      yield { x: new Tensor('float32', input.shape, randomFloat32(size, seed)) };
  };
  const { report } = await quantize(model, {
    data: feeds,
    runner: (bytes) => ortRunner(ort, bytes),
    method: input.method,
    backend: await selectBackend('wasm'),
  });
  const ranges = Object.fromEntries(report.activations.map((a) => [a.tensor, { min: a.min, max: a.max }]));
  return { ranges, model: toBase64(serializeModel(model)) };
})();
