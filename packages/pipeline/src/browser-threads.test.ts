import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { SKIP_BROWSER, bundleForBrowser, launchChromium, realModel } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import type { BrowserThreadsOutput } from '../test/browser-threads-entry.js';
import { quantize } from './quantize.js';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '../..');
const ALIASES = {
  '@qgrain/onnx': join(packages, 'onnx/src/browser.ts'),
  '@qgrain/pipeline': join(packages, 'pipeline/src/browser.ts'),
  '@qgrain/tensor': join(packages, 'tensor/src/index.ts'),
  '@qgrain/granularity': join(packages, 'granularity/src/index.ts'),
  '@qgrain/observers': join(packages, 'observers/src/index.ts'),
  '@qgrain/wasm': join(packages, 'wasm/src/index.ts'),
};
const ORIGIN = 'http://qgrain.test';

describe.skipIf(SKIP_BROWSER)('weights quantized on Web Workers in headless Chromium', () => {
  it('PP-OCRv4 rec, weight-only int4 blocks: two Web Workers write the bytes of one thread, and of Node', async () => {
    const modelBytes = readFileSync(realModel('ppocr-v4-rec').path);
    const script = await bundleForBrowser(join(here, '../test/browser-threads-entry.ts'), ALIASES, 'esm');
    const files: Record<string, { body: string | Buffer; type: string }> = {
      '/': { body: '<!doctype html><script type="module" src="/entry.js"></script>', type: 'text/html' },
      '/entry.js': { body: script, type: 'text/javascript' },
      '/model.onnx': { body: modelBytes, type: 'application/octet-stream' },
    };
    const requested: string[] = [];
    const browser = await launchChromium();
    let value: BrowserThreadsOutput;
    const errors: string[] = [];
    try {
      const context = await browser.newContext();
      // The workers fetch /entry.js too: routing the context serves them as well as the page.
      await context.route(`${ORIGIN}/**`, async (route) => {
        const path = new URL(route.request().url()).pathname;
        requested.push(path);
        const file = files[path];
        if (!file) return route.fulfill({ status: 404 });
        return route.fulfill({ body: file.body, headers: { 'content-type': file.type } });
      });
      const page = await context.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction(() => 'qgrainThreaded' in globalThis);
      value = (await page.evaluate(
        () => (globalThis as { qgrainThreaded?: unknown }).qgrainThreaded,
      )) as BrowserThreadsOutput;
    } finally {
      await browser.close();
    }
    expect(errors).toEqual([]);
    expect(value.weights).toBe(9);
    expect(value.workers).toBe(2);
    expect(requested.filter((p) => p === '/entry.js').length).toBeGreaterThanOrEqual(2);
    expect(value.two).toBe(value.one);
    const inNode = parseModel(modelBytes);
    prepareModel(inNode, { foldBatchNorm: true });
    await quantize(inNode, { mode: 'weight-only' });
    expect(Buffer.from(value.two, 'base64').equals(Buffer.from(serializeModel(inNode)))).toBe(true);
  });
});
