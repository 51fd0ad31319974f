// The built site, served on localhost by this test, driven in Debian's headless chromium: the
// Granularity Explorer opens the bundled model, shows the numbers `qgrain inspect` prints,
// quantizes in its worker, and the file it offers runs in onnxruntime-node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createModel, parseModel, serializeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { SKIP_BROWSER, launchChromium, randomFloat32, realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SiteServer, serveSite } from './serve.js';

/** The screenshot the home page shows. */
export const SCREENSHOT = resolve(import.meta.dirname, '../pages/public/screenshots/explorer.png');

interface InspectJson {
  weights: { name: string; sqnr_db: Record<string, number | string | null>; bytes: Record<string, number> }[];
}

/** `qgrain inspect --json` on the bundled model, with the built CLI, as a user runs it. */
function inspectJson(model: string): InspectJson {
  const cli = join(dirname(createRequire(import.meta.url).resolve('qgrain/package.json')), 'dist/cli.js');
  return JSON.parse(execFileSync(process.execPath, [cli, 'inspect', '--json', model], { encoding: 'utf8' }));
}

describe.skipIf(SKIP_BROWSER)(
  'the Granularity Explorer in headless chromium (QGRAIN_SKIP_BROWSER=1 skips)',
  () => {
    let server: SiteServer;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      server = await serveSite();
      browser = await launchChromium();
      const context = await browser.newContext({
        acceptDownloads: true,
        viewport: { width: 1280, height: 900 },
      });
      page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`HTTP ${response.status()} ${response.url()}`);
      });
      await page.goto(`${server.origin}/explorer.html`);
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    it('opens the bundled model and shows the SQNR qgrain inspect --json gives for the same file', async () => {
      await page.waitForSelector('[data-testid=survey] tbody tr', { timeout: 60_000 });
      const expected = inspectJson(realModel('ppocr-cls').path);
      // The weight per-tensor int8 treats worst in this model: the one the explorer plots first.
      const known = 'conv2d_38.w_0_bn_folded';
      const row = page.locator(`tr[data-weight="${known}"]`);
      const weight = expected.weights.find((w) => w.name === known)!;
      for (const scheme of ['int8/per-tensor', 'int8/per-channel']) {
        const cell = row.locator(`td[data-scheme="${scheme}"]`);
        const value = weight.sqnr_db[scheme] as number;
        expect(Number(await cell.getAttribute('data-sqnr')), `${known} ${scheme}`).toBe(value);
        expect((await cell.textContent())?.trim()).toBe(value.toFixed(1));
      }
      // And every other number of the table.
      const shown = await page.$$eval('tr[data-weight]', (rows) =>
        rows.map((r) => ({
          name: r.getAttribute('data-weight'),
          sqnr: Object.fromEntries(
            Array.from(r.querySelectorAll('td[data-sqnr]')).map((td) => [
              td.getAttribute('data-scheme'),
              td.getAttribute('data-sqnr'),
            ]),
          ),
        })),
      );
      expect(shown.map((r) => r.name)).toEqual(expected.weights.map((w) => w.name));
      for (const [i, w] of expected.weights.entries()) {
        expect(shown[i]!.sqnr).toEqual(
          Object.fromEntries(Object.entries(w.sqnr_db).map(([s, v]) => [s, String(v)])),
        );
      }
      await page.waitForSelector('[data-testid=plot] rect');
      expect(await page.locator('[data-testid=plot] rect').count()).toBe(104);
    });

    it('saves the screenshot the home page shows', async () => {
      // The site's fixed bars would cover the top of the element once it is scrolled into view.
      const shot = await page.locator('.explorer').screenshot({
        animations: 'disabled',
        style: '.VPNav, .VPLocalNav { visibility: hidden !important; }',
      });
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      // Rewritten only when the page looks different, so a test run leaves the tree clean.
      let old: Buffer | undefined;
      try {
        old = readFileSync(SCREENSHOT);
      } catch {}
      if (!old?.equals(shot)) writeFileSync(SCREENSHOT, shot);
      expect(shot.length).toBeGreaterThan(10_000);
    });

    it('quantizes in the worker, and the downloaded model loads and runs in onnxruntime-node', async () => {
      await page.click('[data-testid=quantize]');
      await page.waitForSelector('[data-testid=result], [data-testid=error]', { timeout: 120_000 });
      expect(await page.locator('[data-testid=error]').count()).toBe(0);
      const sqnr = Number(await page.locator('[data-testid=output-sqnr]').getAttribute('data-value'));
      expect(sqnr).toBeGreaterThan(10);

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('[data-testid=download]'),
      ]);
      expect(download.suggestedFilename()).toBe('ch_ppocr_mobile_v2.0_cls_infer-int8.onnx');
      const bytes = readFileSync(await download.path());
      const ops = new Set(parseModel(bytes).graph.nodes.map((n) => n.opType));
      expect(ops).toContain('QuantizeLinear');
      expect(ops).toContain('DequantizeLinear');
      const session = await ort.InferenceSession.create(bytes);
      const x = new ort.Tensor('float32', randomFloat32(3 * 48 * 192, 5), [1, 3, 48, 192]);
      const y = (await session.run({ x }))[session.outputNames[0]!]!.data as Float32Array;
      expect(y.length).toBe(2);
      expect(y.every(Number.isFinite)).toBe(true);
      await session.release();
    });

    it('logged no console errors, page errors or failed requests', () => {
      expect(problems).toEqual([]);
    });

    // On a page of its own: a runtime may log the failure to the console as well, and that is
    // not the page's fault.
    it('shows on the page why a file cannot be opened or quantized', async () => {
      const errorPage = await browser.newPage();
      await errorPage.goto(`${server.origin}/explorer.html`);
      await errorPage.waitForSelector('[data-testid=survey] tbody tr', { timeout: 60_000 });
      const error = errorPage.locator('[data-testid=error]');
      await errorPage.setInputFiles('[data-testid=file]', {
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('not a model'),
      });
      await expect.poll(() => error.textContent()).toContain('is not an .onnx file');
      await errorPage.setInputFiles('[data-testid=file]', {
        name: 'broken.onnx',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from('this is text, not protobuf'),
      });
      await expect.poll(() => error.textContent()).toContain('not a valid ONNX model');

      // A MatMul the explorer can survey, followed by an operator no runtime knows.
      const model = createModel({
        opset: 13,
        domains: { 'com.example': 1 },
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2] }],
        initializers: { w: new Tensor('float32', [4, 2], Float32Array.of(1, -1, 0.5, 2, -0.25, 0, 1, 1)) },
        nodes: [
          { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['m'], name: 'matmul' },
          { opType: 'Frobnicate', domain: 'com.example', inputs: ['m'], outputs: ['y'], name: 'frob' },
        ],
      });
      await errorPage.setInputFiles('[data-testid=file]', {
        name: 'custom-op.onnx',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from(serializeModel(model)),
      });
      await errorPage.waitForSelector('tr[data-weight="w"]');
      await errorPage.click('[data-testid=quantize]');
      await expect.poll(() => error.textContent(), { timeout: 60_000 }).toContain('Frobnicate');
      await errorPage.close();
    });
  },
);
