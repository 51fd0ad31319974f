import { readFileSync } from 'node:fs';
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
import type { BrowserQuantizeInput, BrowserQuantizeOutput } from './browser-quantize-entry.js';
import type { FeedSource } from './calibrate.js';
import { quantizeModel } from './quantize-model.js';
import { nodeRunnerFactory } from './runner.js';

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
// sides, so any data will do.
const feeds: FeedSource = async function* () {
  for (let i = 0; i < 3; i++) {
    const n = 3 * 48 * 192;
    yield { x: new Tensor('float32', [1, 3, 48, 192], randomFloat32(n, 40 + i)) };
  }
};

describe.skipIf(SKIP_BROWSER)('quantizing in headless Chromium (set QGRAIN_SKIP_BROWSER=1 to skip)', () => {
  it('the browser builds quantize ppocr cls to the same bytes as Node, and onnxruntime runs them', async () => {
    const floatBytes = readFileSync(realModel('ppocr-cls').path);
    // Ranges measured once in Node, then the same quantization on both sides.
    const calibrated = parseModel(floatBytes);
    prepareModel(calibrated, { foldBatchNorm: true });
    const { report } = await quantizeModel(calibrated, {
      data: feeds,
      runner: nodeRunnerFactory(),
      method: 'minmax',
    });
    const ranges = Object.fromEntries(report.activations.map((a) => [a.tensor, { min: a.min, max: a.max }]));
    const inNode = parseModel(floatBytes);
    prepareModel(inNode, { foldBatchNorm: true });
    await quantizeModel(inNode, { ranges, backend: await createWasmBackend() });
    const nodeBytes = serializeModel(inNode);

    const input: BrowserQuantizeInput = { model: floatBytes.toString('base64'), ranges };
    const script = `globalThis.qgrainInput = ${JSON.stringify(input)};\n${await bundleForBrowser(
      join(here, 'browser-quantize-entry.ts'),
      ALIASES,
    )}`;
    const { value, errors } = await runInChromium<BrowserQuantizeOutput>(script, 'qgrainQuantized');
    expect(errors).toEqual([]);
    expect(value.backend).toBe('wasm');
    expect(value.weights).toBe(report.weights.length);
    const browserBytes = Buffer.from(value.model, 'base64');
    expect(browserBytes.length).toBeGreaterThan(100_000);
    expect(browserBytes.equals(Buffer.from(nodeBytes))).toBe(true);

    const session = await ort.InferenceSession.create(browserBytes);
    const x = new ort.Tensor('float32', randomFloat32(3 * 48 * 192, 99), [1, 3, 48, 192]);
    const y = (await session.run({ x }))[session.outputNames[0]!]!.data as Float32Array;
    expect(y.length).toBe(2);
    expect(y.every(Number.isFinite)).toBe(true);
    await session.release();
  });
});
