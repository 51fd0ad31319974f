// Bundled by browser.test.ts and run in headless Chromium: the browser builds of @qgrain/onnx and
// @qgrain/pipeline quantize a model with the WASM backend, from bytes to bytes, as a web page
// would. The test puts the input on globalThis.qgrainInput before this script runs.
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { quantizeModel } from '@qgrain/pipeline';
import { selectBackend } from '@qgrain/wasm';

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

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
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
  const { report } = await quantizeModel(model, { ranges: input.ranges, backend });
  return { model: toBase64(serializeModel(model)), backend: backend.name, weights: report.weights.length };
})();
