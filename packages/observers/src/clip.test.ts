import { perAxis } from '@qgrain/granularity';
import { randomFloat32 } from '@qgrain/test-harness';
import { QgrainError } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import { describe, expect, test } from 'vitest';
import { type CreateObserverOptions, createObserver, observerFromJSON } from './create-observer.js';
import { HistogramObserver } from './histogram-observer.js';
import type { Observer, ObserverClip } from './observer.js';

// Batches like a convolution output that feeds a HardSwish: most values in a few units of zero,
// a long tail on both sides, and the later batches wider than the first (the histogram regrows).
function batches(): Float32Array[] {
  return [1, 2, 6].map((scale, k) => {
    const x = randomFloat32(20_000, 300 + k, 'laplace', scale);
    for (let i = 0; i < x.length; i += 97) x[i] = x[i]! * 8; // outliers
    return x;
  });
}

function clipped(x: Float32Array, clip: ObserverClip): Float32Array {
  const lo = clip.min ?? Number.NEGATIVE_INFINITY;
  const hi = clip.max ?? Number.POSITIVE_INFINITY;
  return x.map((v) => Math.min(Math.max(v, lo), hi));
}

function feed(observer: Observer, data: Float32Array[]): Observer {
  for (const x of data) observer.observe(x, [x.length]);
  return observer;
}

const METHODS = ['minmax', 'moving-average', 'percentile:99.9', 'entropy', 'mse'] as const;
const CLIPS: ObserverClip[] = [{ min: -3 }, { max: 2.5 }, { min: -2.9990234, max: 7.1 }, { min: 0.37 }];
const SHAPES: Array<Pick<CreateObserverOptions, 'symmetric'>> = [{ symmetric: false }, { symmetric: true }];

describe.each(METHODS)('%s with clip ends', (method) => {
  test.each(CLIPS.flatMap((clip) => SHAPES.map((shape) => [clip, shape] as const)))(
    'observes the data as if clipped first: %o %o',
    (clip, shape) => {
      const data = batches();
      const withClip = feed(createObserver(method, { ...shape, clip }), data);
      const preClipped = feed(
        createObserver(method, shape),
        data.map((x) => clipped(x, clip)),
      );
      expect(withClip.range()).toEqual(preClipped.range());
      if (withClip instanceof HistogramObserver) {
        // Bin for bin: values beyond an end are counted in the bin that holds the end.
        expect(withClip.histogramSnapshot()).toEqual((preClipped as HistogramObserver).histogramSnapshot());
      }
      const { min, max } = withClip.range();
      if (clip.min !== undefined) expect(min[0]).toBeGreaterThanOrEqual(Math.fround(clip.min));
      if (clip.max !== undefined) expect(max[0]).toBeLessThanOrEqual(Math.fround(clip.max));
    },
  );

  test('the WASM backend counts what the JS one counts', async () => {
    const wasm = await selectBackend('wasm');
    expect(wasm.name).toBe('wasm');
    for (const clip of CLIPS) {
      const data = batches();
      const a = feed(createObserver(method, { clip, backend: wasm }), data);
      const b = feed(createObserver(method, { clip }), data);
      expect(a.range()).toEqual(b.range());
      if (a instanceof HistogramObserver)
        expect(a.histogramSnapshot()).toEqual((b as HistogramObserver).histogramSnapshot());
    }
  });

  test('saved and merged state keeps its clip', () => {
    const clip = { min: -3 };
    const [a, b, c] = batches() as [Float32Array, Float32Array, Float32Array];
    const whole = feed(createObserver(method, { clip }), [a, b, c]);
    const resumed = observerFromJSON(
      JSON.parse(JSON.stringify(feed(createObserver(method, { clip }), [a]).toJSON())),
    );
    expect(resumed.config.clip).toEqual(clip);
    feed(resumed, [b, c]);
    expect(resumed.range()).toEqual(whole.range());
    if (method !== 'moving-average') {
      const left = feed(createObserver(method, { clip }), [a, b]);
      left.merge(feed(createObserver(method, { clip }), [c]));
      expect(left.range()).toEqual(whole.range());
    }
    // Observers that clip differently saw different data: they do not merge.
    expect(() => whole.merge(createObserver(method, { clip: { min: -6 } }))).toThrow(QgrainError);
    expect(() => whole.merge(createObserver(method))).toThrow(QgrainError);
  });
});

test('per-axis min-max clips every channel', () => {
  const x = Float32Array.of(-9, 1, 4, -1, 0.5, 12);
  const o = createObserver('minmax', { granularity: perAxis(0), clip: { min: -3, max: 10 } });
  o.observe(x, [2, 3]);
  expect(o.range()).toEqual({ min: Float32Array.of(-3, -1), max: Float32Array.of(4, 10) });
});

test('clip ends are checked', () => {
  expect(() => createObserver('mse', { clip: { min: 2, max: 1 } })).toThrow(/clip min 2 is above clip max 1/);
  expect(() => createObserver('minmax', { clip: { min: Number.NaN } })).toThrow(/finite/);
  // No end set: the same observer as without clip, saved without one.
  expect(createObserver('minmax', { clip: {} }).toJSON().config).toEqual(
    createObserver('minmax').toJSON().config,
  );
});
