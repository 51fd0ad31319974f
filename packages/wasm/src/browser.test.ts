import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { BrowserConformance } from './browser-entry.js';

// Debian's chromium package; the test drives it rather than a downloaded browser build.
const CHROMIUM = '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const skip = process.env['QGRAIN_SKIP_BROWSER'] === '1';

describe.skipIf(skip)('conformance in headless Chromium (set QGRAIN_SKIP_BROWSER=1 to skip)', () => {
  it('matches jsBackend on every case in the browser', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} not found: install it with \`apt-get install -y chromium\`, or set QGRAIN_SKIP_BROWSER=1 to skip this test`,
      );
    }
    const bundle = await build({
      entryPoints: [join(here, 'browser-entry.ts')],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      alias: { '@qgrain/tensor': join(here, '../../tensor/src/index.ts') },
      logLevel: 'silent',
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.setContent('<!doctype html><title>qgrain conformance</title>');
      await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
      const outcome = await page.evaluate(
        () => (globalThis as { qgrainConformance?: Promise<BrowserConformance> }).qgrainConformance!,
      );
      expect(errors).toEqual([]);
      expect(outcome.results.length).toBeGreaterThan(1000);
      const kernels = new Set(outcome.results.map((r) => r.name.split(' ')[0]));
      expect(kernels.size).toBe(9);
      expect(outcome.results.filter((r) => !r.passed).slice(0, 10)).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
