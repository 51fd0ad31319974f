import { runConformance } from '@qgrain/test-harness/conformance';
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from './index.js';

// Cases the WASM backend skips, each with its reason. None today: every case must match jsBackend
// bit for bit.
const WASM_EXCLUSIONS: Record<string, string> = {};

describe('wasm backend conformance', async () => {
  const backend = await createWasmBackend();
  const results = runConformance(backend, { exclude: WASM_EXCLUSIONS });

  it('runs every kernel', () => {
    const kernels = new Set(results.map((r) => r.name.split(' ')[0]));
    expect([...kernels].sort()).toEqual(
      [
        'absMax',
        'dequantize',
        'fakeQuant',
        'histogram',
        'minMax',
        'packInt4',
        'quantError',
        'quantize',
        'unpackInt4',
      ].sort(),
    );
  });

  it('matches jsBackend bit for bit on every case', () => {
    const failures = results.filter((r) => !r.passed).map((r) => r.message);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(failures.length).toBe(0);
  });
});
