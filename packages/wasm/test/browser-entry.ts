// Bundled by browser.test.ts and run in headless Chromium: the conformance suite against the WASM
// backend, with results published on globalThis for the test to read.
import { type ConformanceResult, runConformance } from '@qgrain/test-harness/conformance';
import { createWasmBackend } from '../src/index.js';

/** Where the page leaves its results. */
export interface BrowserConformance {
  readonly simd: boolean;
  readonly results: ConformanceResult[];
}

(globalThis as { qgrainConformance?: Promise<BrowserConformance> }).qgrainConformance = (async () => {
  const backend = await createWasmBackend();
  return { simd: true, results: runConformance(backend) };
})();
