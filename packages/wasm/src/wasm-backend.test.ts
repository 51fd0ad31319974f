import { jsBackend, perAxisLayout, perBlockLayout, perTensorLayout } from '@qgrain/tensor';
import { randomWithSpecials } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import { CHUNK_ELEMENTS, createWasmBackend, selectBackend } from './index.js';

// Enough calls that a per-call leak of even one page (64 KiB) would show many times over.
const REPEATED_CALLS = 10_000;

describe('wasm memory', () => {
  it('does not grow over 10,000 same-size calls', async () => {
    const backend = await createWasmBackend();
    const shape = [8, 1000];
    const x = randomWithSpecials(8000, 3);
    const layout = perAxisLayout(shape, 0);
    const scale = new Float32Array(8).fill(0.02);
    const zp = new Int32Array(8);
    const range = { storage: 'int8', qmin: -128, qmax: 127 } as const;
    const q = new Int8Array(8000);
    const out = new Float32Array(8);
    backend.quantize(x, layout, scale, zp, range, q);
    backend.absMax(x, layout, out);
    const before = backend.memoryBytes;
    for (let i = 0; i < REPEATED_CALLS; i++) {
      backend.quantize(x, layout, scale, zp, range, q);
      backend.absMax(x, layout, out);
    }
    expect(backend.memoryBytes).toBe(before);
  });

  it('grows for a tensor larger than a chunk only by what the groups need', async () => {
    const backend = await createWasmBackend();
    const x = randomWithSpecials(CHUNK_ELEMENTS * 8 + 5, 4);
    const out = new Float32Array(1);
    backend.absMax(x, perTensorLayout([x.length]), out);
    const expected = new Float32Array(1);
    jsBackend.absMax(x, perTensorLayout([x.length]), expected);
    expect(out).toEqual(expected);
    // Chunking keeps the footprint near three staging chunks, far below the 2 MiB tensor itself.
    expect(backend.memoryBytes).toBeLessThan(x.byteLength);
  });
});

describe('wasm-resident arrays', () => {
  it('computes in place and survives memory growth', async () => {
    const backend = await createWasmBackend();
    const n = 3 * CHUNK_ELEMENTS + 17;
    const source = randomWithSpecials(n, 9, 2 ** -4);
    const x = backend.allocateFloat32(n);
    x.array.set(source);
    const q = backend.allocateStorage('int4', n);
    const layout = perBlockLayout([n], 0, 32);
    const scale = new Float32Array(layout.groups).fill(2 ** -4);
    const zp = new Int32Array(layout.groups);
    const range = { storage: 'int4', qmin: -8, qmax: 7 } as const;
    // A big group array forces growth after the resident views were made.
    backend.quantize(x.array, layout, scale, zp, range, q.array);
    const expected = new Uint8Array(Math.ceil(n / 2));
    jsBackend.quantize(source, layout, scale, zp, range, expected);
    const got = q.array as Uint8Array;
    const firstDiff = got.findIndex((v, i) => v !== expected[i]);
    expect(firstDiff, `first differing byte ${firstDiff}: ${got[firstDiff]} vs ${expected[firstDiff]}`).toBe(
      -1,
    );
    expect(x.array).toEqual(source);
  });
});

describe('selectBackend', () => {
  it('returns the JS reference for "js" and wasm for "wasm"', async () => {
    expect((await selectBackend('js')).name).toBe('js');
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });

  it('falls back to JS with one warning when WebAssembly SIMD is missing', async () => {
    const validate = WebAssembly.validate;
    const warnings: string[] = [];
    WebAssembly.validate = () => false;
    try {
      const backend = await selectBackend('auto', { onWarning: (m) => warnings.push(m) });
      expect(backend).toBe(jsBackend);
      await expect(selectBackend('wasm')).rejects.toThrow(/SIMD/);
    } finally {
      WebAssembly.validate = validate;
    }
    expect(warnings).toHaveLength(1);
    expect((await selectBackend('auto', { onWarning: (m) => warnings.push(m) })).name).toBe('wasm');
  });
});
