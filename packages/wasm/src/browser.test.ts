import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SKIP_BROWSER, bundleForBrowser, runInChromium } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import type { BrowserConformance } from '../test/browser-entry.js';

const here = dirname(fileURLToPath(import.meta.url));

describe.skipIf(SKIP_BROWSER)('conformance in headless Chromium (set QGRAIN_SKIP_BROWSER=1 to skip)', () => {
  it('matches jsBackend on every case in the browser', async () => {
    const script = await bundleForBrowser(join(here, '../test/browser-entry.ts'), {
      '@qgrain/tensor': join(here, '../../tensor/src/index.ts'),
    });
    const { value: outcome, errors } = await runInChromium<BrowserConformance>(script, 'qgrainConformance');
    expect(errors).toEqual([]);
    expect(outcome.results.length).toBeGreaterThan(1000);
    const kernels = new Set(outcome.results.map((r) => r.name.split(' ')[0]));
    expect(kernels.size).toBe(9);
    expect(outcome.results.filter((r) => !r.passed).slice(0, 10)).toEqual([]);
  });
});
