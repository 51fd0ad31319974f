import { perAxis } from '@qgrain/granularity';
import { SeededRandom, randomFloat32 } from '@qgrain/test-harness';
import { QgrainError } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import { describe, expect, test } from 'vitest';
import { HistogramObserver, type HistogramOptions } from './histogram-observer.js';
import { percentileThreshold } from './percentile-threshold.js';

// A Sigmoid output like a text detector's: most pixels are background (near 0), a tenth are
// confident text (near 1). Quantizing it to [0, 0.06] would erase every detection.
function sigmoidLike(count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const logit = rng.next() < 0.1 ? 5 + 2 * rng.normal() : -6 + 2 * rng.normal();
    out[i] = 1 / (1 + Math.exp(-logit));
  }
  return out;
}

/** One step of uint8 over [0, 1]. */
const UINT8_STEP = 1 / 255;

const SELECTIONS: HistogramOptions[] = [
  { selection: 'percentile', percentile: 99.99 },
  { selection: 'percentile', percentile: 99.99, symmetric: true },
  { selection: 'entropy' },
  { selection: 'entropy', minCoverage: 0 },
  { selection: 'mse' },
  { selection: 'mse', minCoverage: 0 },
];

describe('a bounded output keeps its top', () => {
  const parts = [0, 1, 2, 3].map((k) => sigmoidLike(50_000, 40 + k));
  const all = new Float32Array(parts.flatMap((p) => Array.from(p)));
  const top = Float64Array.from(all).sort()[Math.floor(all.length * 0.995)]!;

  test.each(SELECTIONS)('%o', (options) => {
    const o = new HistogramObserver(options);
    for (const p of parts) o.observe(p, [p.length]);
    const { min, max } = o.range();
    expect(top).toBeGreaterThan(0.99);
    // The confident values stay within one uint8 step (1/255 of [0, 1]) of the range's top, so
    // clipping moves them less than rounding would; and the range stays inside the data's [0, 1].
    expect(max[0]).toBeGreaterThanOrEqual(top - UINT8_STEP);
    expect(max[0]).toBeLessThanOrEqual(1);
    expect(min[0]).toBeGreaterThanOrEqual(0);
    expect(min[0]).toBeLessThan(1e-3);
  });
});

test('the coverage floor raises a threshold that entropy alone would set lower', () => {
  const x = randomFloat32(100_000, 3, 'outliers');
  const bare = new HistogramObserver({ selection: 'entropy', minCoverage: 0, symmetric: true });
  const guarded = new HistogramObserver({ selection: 'entropy', symmetric: true });
  bare.observe(x, [x.length]);
  guarded.observe(x, [x.length]);
  const { counts, width } = guarded.histogramSnapshot();
  const floor = percentileThreshold(counts, width, 99.9);
  const t = (o: HistogramObserver): number => Math.max(-o.range().min[0]!, o.range().max[0]!);
  expect(t(bare)).toBeLessThan(floor);
  expect(t(guarded)).toBe(Math.min(floor, Math.max(...x.map(Math.abs))));
});

describe.each(SELECTIONS)('merge and save/load for %o', (options) => {
  const parts = [0, 1, 2, 3, 4, 5].map((k) =>
    randomFloat32(5000, 70 + k, k % 2 ? 'laplace' : 'outliers', 0.5 + k),
  );

  test('two halves merged equal one pass', () => {
    const one = new HistogramObserver(options);
    for (const p of parts) one.observe(p, [p.length]);
    const a = new HistogramObserver(options);
    const b = new HistogramObserver(options);
    for (const [k, p] of parts.entries()) (k % 2 ? a : b).observe(p, [p.length]);
    a.merge(b);
    expect(a.toJSON()).toEqual(one.toJSON());
    expect(Array.from(a.range().min)).toEqual(Array.from(one.range().min));
    expect(Array.from(a.range().max)).toEqual(Array.from(one.range().max));
  });

  test('saved and loaded state continues exactly', () => {
    const first = new HistogramObserver(options);
    for (const p of parts.slice(0, 3)) first.observe(p, [p.length]);
    const resumed = HistogramObserver.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    for (const p of parts.slice(3)) resumed.observe(p, [p.length]);
    const straight = new HistogramObserver(options);
    for (const p of parts) straight.observe(p, [p.length]);
    expect(resumed.toJSON()).toEqual(straight.toJSON());
    expect(Array.from(resumed.range().max)).toEqual(Array.from(straight.range().max));
  });
});

describe('edge cases', () => {
  test.each(SELECTIONS)('all-zero data gives [0, 0] (%o)', (options) => {
    const o = new HistogramObserver(options);
    o.observe(new Float32Array(100), [10, 10]);
    expect([o.range().min[0], o.range().max[0]]).toEqual([0, 0]);
  });

  test.each(SELECTIONS)('a single value gives a range holding it (%o)', (options) => {
    const o = new HistogramObserver(options);
    o.observe(Float32Array.of(2.5), [1]);
    expect([o.range().min[0], o.range().max[0]]).toEqual([2.5, 2.5]);
  });

  test('NaN is skipped, infinities are skipped and counted, empty batches change nothing', () => {
    const clean = new HistogramObserver({ selection: 'mse' });
    const dirty = new HistogramObserver({ selection: 'mse' });
    const x = randomFloat32(1000, 5, 'normal');
    clean.observe(x, [x.length]);
    const withSpecials = new Float32Array([
      ...x,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
    ]);
    dirty.observe(withSpecials, [withSpecials.length]);
    dirty.observe(new Float32Array(0), [0, 3]);
    expect(dirty.nonFiniteCount).toBe(2);
    expect(dirty.batches).toBe(2);
    expect(dirty.histogramSnapshot()).toEqual(clean.histogramSnapshot());
    expect(dirty.range()).toEqual(clean.range());
  });

  test('an observer that saw nothing reports an empty range', () => {
    const o = new HistogramObserver({ selection: 'entropy' });
    o.observe(Float32Array.of(Number.NaN), [1]);
    expect([o.range().min[0], o.range().max[0]]).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
  });

  test('state stays the same size however many batches arrive', () => {
    const x = randomFloat32(20_000, 8, 'laplace');
    const once = new HistogramObserver({ selection: 'entropy' });
    once.observe(x, [x.length]);
    const often = new HistogramObserver({ selection: 'entropy' });
    for (let i = 0; i < x.length; i += 100) often.observe(x.subarray(i, i + 100), [100]);
    const size = (o: HistogramObserver): number => JSON.stringify(o.toJSON().state['histogram']).length;
    expect(size(often)).toBe(size(once));
  });

  test('clear errors for unsupported granularity, bad options and mismatched merges', () => {
    const code = (fn: () => void): string | undefined => {
      try {
        fn();
      } catch (e) {
        return QgrainError.isInstance(e) ? e.code : 'not a QgrainError';
      }
      return undefined;
    };
    expect(code(() => new HistogramObserver({ granularity: perAxis(0) }))).toBe('unsupported');
    expect(code(() => new HistogramObserver({ percentile: 0 }))).toBe('invalid-argument');
    expect(code(() => new HistogramObserver({ bins: 1 }))).toBe('invalid-argument');
    const a = new HistogramObserver({ selection: 'entropy' });
    expect(code(() => a.merge(new HistogramObserver({ selection: 'mse' })))).toBe('invalid-argument');
    expect(code(() => a.merge(new HistogramObserver({ selection: 'entropy', bins: 1024 })))).toBe(
      'invalid-argument',
    );
    expect(code(() => HistogramObserver.fromJSON({ format: 'something else' }))).toBe('invalid-argument');
  });
});

describe.each([...SELECTIONS, { selection: 'percentile', clip: { min: -1.5 } } as HistogramOptions])(
  'a batch larger than the part observed at a time, %o',
  (options) => {
    test.each(['js', 'wasm'] as const)(
      '%s backend: counts what a plain histogram of the (clipped) values counts, bin for bin',
      async (kind) => {
        // 700k values over three parts; the widest values come last, so the histogram grows while
        // the batch is counted.
        const values = randomFloat32(700_000, 91, 'laplace', 1);
        for (let i = 600_000; i < values.length; i += 997) values[i] = values[i]! * 40;
        const observer = new HistogramObserver({ ...options, backend: await selectBackend(kind) });
        observer.observe(values, [values.length]);
        const { mode, counts, width, lowerEdge, min, max } = observer.histogramSnapshot();
        // The extremes counted, of the clipped values (700k values: too many to spread into Math.min).
        const clipped = values.map((v) => Math.max(v, options.clip?.min ?? Number.NEGATIVE_INFINITY));
        expect([min, max]).toEqual([
          clipped.reduce((a, b) => Math.min(a, b)),
          clipped.reduce((a, b) => Math.max(a, b)),
        ]);
        const plain = new Array<number>(counts.length).fill(0);
        const low = options.clip?.min ?? Number.NEGATIVE_INFINITY;
        for (const raw of values) {
          const v = Math.max(raw, low);
          const bin = mode === 'abs' ? Math.floor(Math.abs(v) / width) : Math.floor((v - lowerEdge) / width);
          plain[Math.min(Math.max(bin, 0), counts.length - 1)]! += 1;
        }
        expect(Array.from(counts)).toEqual(plain);
        expect(observer.batches).toBe(1);
      },
    );
  },
);
