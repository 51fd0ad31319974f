import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import {
  SKIP_BROWSER,
  bundleForBrowser,
  randomFloat32,
  realModel,
  runInChromium,
} from '@qgrain/test-harness';
import { createWasmBackend } from '@qgrain/wasm';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { BrowserCalibrateInput, BrowserCalibrateOutput } from '../test/browser-calibrate-entry.js';
import type { BrowserQuantizeInput, BrowserQuantizeOutput } from '../test/browser-quantize-entry.js';
import type { FeedSource } from './calibrate/calibrate.js';
import { quantize } from './quantize.js';
import { nodeRunnerFactory } from './runner/runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '../..');

// The code under test, by its browser entries: a browser bundle must not reach Node's modules.
const ALIASES = {
  '@qgrain/onnx': join(packages, 'onnx/src/browser.ts'),
  '@qgrain/pipeline': join(packages, 'pipeline/src/browser.ts'),
  '@qgrain/tensor': join(packages, 'tensor/src/index.ts'),
  '@qgrain/granularity': join(packages, 'granularity/src/index.ts'),
  '@qgrain/observers': join(packages, 'observers/src/index.ts'),
  '@qgrain/wasm': join(packages, 'wasm/src/index.ts'),
};

// Seeded 48x192 crops for the direction classifier: the ranges only have to be the same on both
// sides, so any data will do. The calibrating page draws the same ones from the same seeds.
const SHAPE = [1, 3, 48, 192];
const SIZE = 3 * 48 * 192;
const SEEDS = [40, 41, 42];
const feeds: FeedSource = async function* () {
  for (const seed of SEEDS) yield { x: new Tensor('float32', SHAPE, randomFloat32(SIZE, seed)) };
};

// The classifier a page wrote runs in onnxruntime-node and gives finite scores.
async function expectRunsInNode(bytes: Uint8Array): Promise<void> {
  const session = await ort.InferenceSession.create(bytes);
  const x = new ort.Tensor('float32', randomFloat32(SIZE, 99), SHAPE);
  const y = (await session.run({ x }))[session.outputNames[0]!]!.data as Float32Array;
  expect(y.length).toBe(2);
  expect(y.every(Number.isFinite)).toBe(true);
  await session.release();
}

// ppocr cls quantized in Node, calibrated on the seeded feeds with onnxruntime-node.
async function quantizedInNode(floatBytes: Uint8Array, method: string) {
  const model = parseModel(floatBytes);
  prepareModel(model, { foldBatchNorm: true });
  return quantize(model, { data: feeds, runner: nodeRunnerFactory(), method });
}

describe.skipIf(SKIP_BROWSER)('quantizing in headless Chromium (set QGRAIN_SKIP_BROWSER=1 to skip)', () => {
  it('the browser builds quantize ppocr cls to the same bytes as Node, and onnxruntime runs them', async () => {
    const floatBytes = readFileSync(realModel('ppocr-cls').path);
    // Ranges measured once in Node, then the same quantization on both sides.
    const { report } = await quantizedInNode(floatBytes, 'minmax');
    const ranges = Object.fromEntries(report.activations.map((a) => [a.tensor, { min: a.min, max: a.max }]));
    const inNode = parseModel(floatBytes);
    prepareModel(inNode, { foldBatchNorm: true });
    await quantize(inNode, { ranges, backend: await createWasmBackend() });
    const nodeBytes = serializeModel(inNode);

    const input: BrowserQuantizeInput = { model: floatBytes.toString('base64'), ranges };
    const script = `globalThis.qgrainInput = ${JSON.stringify(input)};\n${await bundleForBrowser(
      join(here, '../test/browser-quantize-entry.ts'),
      ALIASES,
    )}`;
    const { value, errors } = await runInChromium<BrowserQuantizeOutput>(script, 'qgrainQuantized');
    expect(errors).toEqual([]);
    expect(value.backend).toBe('wasm');
    expect(value.weights).toBe(report.weights.length);
    const browserBytes = Buffer.from(value.model, 'base64');
    expect(browserBytes.length).toBeGreaterThan(100_000);
    expect(browserBytes.equals(Buffer.from(nodeBytes))).toBe(true);
    await expectRunsInNode(browserBytes);
  });

  // minmax reduces in the graph (two scalars a batch); mse fetches whole tensors into histograms.
  // Both runtimes compute in float32 with different kernels: extremes agree to ~1e-6 of the
  // range, while the MSE search over 2048 bins can move a few bins (measured: 0.8% of the range).
  it.each([
    ['minmax', 1e-4],
    ['mse', 0.03],
  ] as const)(
    'calibrates ppocr cls (%s) with onnxruntime-web in the page: ranges match onnxruntime-node within %s of the range',
    async (method, share) => {
      const floatBytes = readFileSync(realModel('ppocr-cls').path);
      const { report } = await quantizedInNode(floatBytes, method);

      // onnxruntime-web fetches its .wasm at run time; the page gets it from node_modules.
      const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
      const origin = 'http://qgrain.test';
      const input: BrowserCalibrateInput = {
        model: floatBytes.toString('base64'),
        wasmPaths: `${origin}/ort/`,
        shape: SHAPE,
        seeds: SEEDS,
        method,
      };
      const script = `globalThis.qgrainCalibrateInput = ${JSON.stringify(input)};\n${await bundleForBrowser(
        join(here, '../test/browser-calibrate-entry.ts'),
        ALIASES,
      )}`;
      const served: string[] = [];
      const { value, errors } = await runInChromium<BrowserCalibrateOutput>(
        script,
        'qgrainCalibrated',
        (page) =>
          page.route(`${origin}/ort/**`, async (route) => {
            const file = new URL(route.request().url()).pathname.split('/').pop()!;
            served.push(file);
            const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
            await route.fulfill({
              body: readFileSync(join(ortDist, file)),
              headers: { 'content-type': type, 'access-control-allow-origin': '*' },
            });
          }),
      );
      expect(errors).toEqual([]);
      expect(served.some((f) => f.endsWith('.wasm'))).toBe(true);
      // Same activations, and ranges equal up to the two runtimes' float differences.
      expect(Object.keys(value.ranges).sort()).toEqual(report.activations.map((a) => a.tensor).sort());
      for (const a of report.activations) {
        const r = value.ranges[a.tensor]!;
        const tolerance = share * Math.max(Math.abs(a.min), Math.abs(a.max), 1e-6);
        expect(Math.abs(r.min - a.min), `${a.tensor} min`).toBeLessThanOrEqual(tolerance);
        expect(Math.abs(r.max - a.max), `${a.tensor} max`).toBeLessThanOrEqual(tolerance);
      }
      await expectRunsInNode(Buffer.from(value.model, 'base64'));
    },
  );
});
