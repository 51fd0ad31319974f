// Bundled by browser.test.ts and run in headless Chromium: the browser builds of @qgrain/onnx and
// @qgrain/pipeline quantize a model with the WASM backend, from bytes to bytes, as a web page
// would. The test puts the input on globalThis.qgrainInput before this script runs.
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { quantize } from '@qgrain/pipeline';
import { selectBackend } from '@qgrain/wasm';
import { fromBase64, toBase64 } from './browser-entry-base64.js';

/** What the test hands the page. */
export interface BrowserQuantizeInput {
  readonly model: string;
  readonly ranges: Record<string, { min: number; max: number }>;
}

/** What the page hands back. */
export interface BrowserQuantizeOutput {
  readonly model: string;
  readonly backend: string;
  readonly weights: number;
}

const scope = globalThis as {
  qgrainInput?: BrowserQuantizeInput;
  qgrainQuantized?: Promise<BrowserQuantizeOutput>;
};
scope.qgrainQuantized = (async () => {
  const input = scope.qgrainInput!;
  const model = parseModel(fromBase64(input.model));
  prepareModel(model, { foldBatchNorm: true });
  const backend = await selectBackend('wasm');
  const { report } = await quantize(model, { ranges: input.ranges, backend });
  return { model: toBase64(serializeModel(model)), backend: backend.name, weights: report.weights.length };
})();
