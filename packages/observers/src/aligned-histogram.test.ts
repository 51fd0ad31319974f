import { SeededRandom, randomFloat32 } from '@qgrain/test-harness';
import { jsBackend } from '@qgrain/tensor';
import { describe, expect, test } from 'vitest';
import { AlignedHistogram, type HistogramMode } from './aligned-histogram.js';

function addBatch(h: AlignedHistogram, x: Float32Array): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  h.add(x, lo, hi, jsBackend);
}

// Batches whose spread grows and shrinks, so the window has to widen several times.
function batches(seed: number): Float32Array[] {
  const scales = [0.01, 0.3, 0.1, 5, 1, 40, 2];
  return scales.map((s, k) => {
    const x = randomFloat32(3000, seed + k, k % 2 ? 'laplace' : 'normal', s);
    if (k === 2) for (let i = 0; i < x.length; i++) x[i] = Math.abs(x[i]!) + 3; // one-sided batch
    return x;
  });
}

describe.each<HistogramMode>(['abs', 'signed'])('AlignedHistogram (%s)', (mode) => {
  const data = batches(mode === 'abs' ? 1 : 2);
  const all = new Float32Array(data.flatMap((b) => Array.from(b)));

  test('growing the window preserves every count and matches a direct count at the final width', () => {
    const h = new AlignedHistogram(256, mode);
    for (const b of data) addBatch(h, b);
    expect(h.total).toBe(all.length);
    // Count again in one plain loop at the final bin width and offset.
    const direct = new Float64Array(256);
    const w = h.width;
    const first = h.lowerEdge / w;
    for (const v of all) {
      const j = mode === 'abs' ? Math.floor(Math.abs(v) / w) : Math.floor(v / w) - first;
      direct[j]!++;
    }
    expect(Array.from(h.binCounts())).toEqual(Array.from(direct));
    // The width is the smallest power of two that holds the data.
    const absMax = Math.max(...all.map(Math.abs));
    expect(mode === 'abs' ? absMax < 256 * w && absMax >= 128 * w : true).toBe(true);
  });

  test('merging any split equals one pass, bin for bin', () => {
    const one = new AlignedHistogram(256, mode);
    for (const b of data) addBatch(one, b);
    const rng = new SeededRandom(9);
    for (let trial = 0; trial < 5; trial++) {
      const parts = [
        new AlignedHistogram(256, mode),
        new AlignedHistogram(256, mode),
        new AlignedHistogram(256, mode),
      ];
      for (const b of data) addBatch(parts[rng.int(0, 2)]!, b);
      const merged = new AlignedHistogram(256, mode);
      for (const p of parts) merged.merge(p);
      expect(merged.toJSON()).toEqual(one.toJSON());
    }
  });

  test('state size does not grow with the number of batches', () => {
    const few = new AlignedHistogram(128, mode);
    const many = new AlignedHistogram(128, mode);
    addBatch(few, all);
    for (let i = 0; i < all.length; i += 50) addBatch(many, all.subarray(i, i + 50));
    expect(many.toJSON()).toEqual(few.toJSON());
    expect(many.toJSON().counts.length).toBe(128);
  });
});

test('an all-zero histogram widens exactly when real data arrives', () => {
  const h = new AlignedHistogram(64, 'abs');
  addBatch(h, new Float32Array(5));
  expect(h.binCounts()[0]).toBe(5);
  addBatch(h, Float32Array.of(1, -1, 0.5));
  expect(h.total).toBe(8);
  expect(h.width).toBe(2 ** -5); // 1 < 64 * 2^-5 = 2, 1 >= 32 * 2^-5
  expect(h.binCounts()[0]).toBe(5);
});
