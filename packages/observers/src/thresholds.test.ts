import { type Distribution, randomFloat32 } from '@qgrain/test-harness';
import { describe, expect, test } from 'vitest';
import { HistogramObserver } from './histogram-observer.js';
import {
  errorLowerBounds,
  expectedSquaredError,
  integratedSquaredError,
  mseThresholdBins,
} from './mse-threshold.js';

// Reference implementations, written straight from each method's published definition and
// deliberately slow. Percentile works on the sorted raw data (the definition of a percentile);
// entropy and MSE are defined on a histogram, so their references re-count the raw data into
// plain bins of the observer's final width and search every candidate the definition names.

const DISTRIBUTIONS: Distribution[] = ['normal', 'laplace', 'outliers'];

// Several batches with different spreads, so the observer's histogram has grown on the way.
function dataset(distribution: Distribution, seed: number): Float32Array[] {
  return [0.25, 1, 0.5, 2, 1].map((scale, k) => randomFloat32(20_000, seed + k, distribution, scale));
}

function concat(parts: Float32Array[]): Float32Array {
  return new Float32Array(parts.flatMap((p) => Array.from(p)));
}

function observe(o: HistogramObserver, parts: Float32Array[]): HistogramObserver {
  for (const p of parts) o.observe(p, [p.length]);
  return o;
}

// Nearest-rank percentile rank ceil(P / 100 * n) in exact integer arithmetic (P in 1/1000ths).
function exactRank(percentile: number, n: number): number {
  const milli = Math.round(percentile * 1000);
  return Math.max(1, Math.ceil((milli * n) / 100_000));
}

// The T of a symmetric range [-T, T] clamped to the data ([max(-T, min), min(T, max)]).
function symmetricThreshold(o: HistogramObserver): number {
  const range = o.range();
  return Math.max(-range.min[0]!, range.max[0]!);
}

function plainAbsHistogram(values: Float32Array, width: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(Math.floor(Math.abs(v) / width), bins - 1)]! += 1;
  return counts;
}

// TensorRT's pseudocode (GTC 2017): for i in 128..bins, P = bins[0..i-1] with the outliers added
// to bin i-1, Q = bins[0..i-1] quantized into 128 levels and expanded back over P's non-zero
// bins, minimise KL(P || Q); both smoothed first as MXNet's and ONNX Runtime's
// smooth_distribution (eps = 0.0001 on empty bins, taken evenly from the others). Candidates run
// to the full bin count, as in the pseudocode.
function smooth(d: number[]): number[] {
  const zeros = d.filter((v) => v === 0).length;
  const take = (1e-4 * zeros) / (d.length - zeros);
  return d.map((v) => (v === 0 ? 1e-4 : v - take));
}

function referenceEntropyBins(hist: number[], levels: number): number {
  let best = -1;
  let bestKl = Number.POSITIVE_INFINITY;
  for (let i = levels; i <= hist.length; i++) {
    const p = hist.slice(0, i);
    p[i - 1]! += hist.slice(i).reduce((a, b) => a + b, 0);
    const sliced = hist.slice(0, i);
    const q = new Array<number>(i).fill(0);
    const perLevel = Math.floor(i / levels);
    for (let level = 0; level < levels; level++) {
      const start = level * perLevel;
      const end = level === levels - 1 ? i : start + perLevel;
      const total = sliced.slice(start, end).reduce((a, b) => a + b, 0);
      const nonZero = p.slice(start, end).filter((c) => c > 0).length;
      for (let j = start; j < end; j++) q[j] = p[j]! > 0 && nonZero > 0 ? total / nonZero : 0;
    }
    if (q.every((v) => v === 0)) continue;
    const ps = smooth(p);
    const qs = smooth(q);
    const sumP = ps.reduce((a, b) => a + b, 0);
    const sumQ = qs.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) kl += (ps[j]! / sumP) * Math.log(ps[j]! / sumP / (qs[j]! / sumQ));
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return best;
}

// Expected squared error of fake-quantizing |x| (values uniform in each bin, sampled at many
// points per bin) with `steps` steps on [0, T], for every candidate T = i * width.
function referenceMseBins(hist: number[], width: number, steps: number, samplesPerBin: number): number {
  let best = -1;
  let bestError = Number.POSITIVE_INFINITY;
  for (let i = 1; i <= hist.length; i++) {
    const t = i * width;
    const step = t / steps;
    let error = 0;
    hist.forEach((count, j) => {
      if (count === 0) return;
      let binError = 0;
      for (let s = 0; s < samplesPerBin; s++) {
        const x = (j + (s + 0.5) / samplesPerBin) * width;
        const q = Math.min(Math.round(x / step), steps) * step;
        binError += (x - q) ** 2;
      }
      error += (count * binError) / samplesPerBin;
    });
    if (error < bestError) {
      bestError = error;
      best = i;
    }
  }
  return best;
}

describe.each(DISTRIBUTIONS)('thresholds on %s data agree with the references', (distribution) => {
  const parts = dataset(distribution, distribution.length * 1000);
  const all = concat(parts);
  const absMax = Math.max(...all.map(Math.abs));

  test.each([99.99, 99.999, 99])('symmetric percentile %s', (percentile) => {
    const o = observe(new HistogramObserver({ selection: 'percentile', percentile, symmetric: true }), parts);
    const width = o.histogramSnapshot().width;
    const sorted = Float64Array.from(all, Math.abs).sort();
    const expected = sorted[exactRank(percentile, sorted.length) - 1]!;
    // [-T, T] clamped to the data: symmetric qparams use max(-min, max), which is T.
    const t = symmetricThreshold(o);
    expect(t).toBeGreaterThanOrEqual(expected);
    expect(t).toBeLessThanOrEqual(expected + width);
  });

  test.each([99.99, 99])('two-tailed percentile %s', (percentile) => {
    const o = observe(new HistogramObserver({ selection: 'percentile', percentile }), parts);
    const width = o.histogramSnapshot().width;
    const sorted = Float64Array.from(all).sort();
    const upperRank = exactRank(100 - (100 - percentile) / 2, sorted.length);
    const hi = sorted[upperRank - 1]!;
    const lo = sorted[sorted.length - upperRank]!; // the mirror rank n + 1 - r, 0-based
    const range = o.range();
    expect(range.max[0]).toBeGreaterThanOrEqual(hi);
    expect(range.max[0]).toBeLessThanOrEqual(hi + width);
    expect(range.min[0]).toBeLessThanOrEqual(lo);
    expect(range.min[0]).toBeGreaterThanOrEqual(lo - width);
  });

  test('entropy (KL), within one bin', () => {
    const o = observe(new HistogramObserver({ selection: 'entropy', minCoverage: 0 }), parts);
    const { width, counts } = o.histogramSnapshot();
    const hist = plainAbsHistogram(all, width, counts.length);
    expect(hist).toEqual(Array.from(counts));
    const expected = Math.min(referenceEntropyBins(hist, 128) * width, absMax);
    expect(Math.abs(symmetricThreshold(o) - expected)).toBeLessThanOrEqual(width);
    // A threshold that clips something: the reference did not just return the whole range.
    if (distribution === 'outliers') expect(expected).toBeLessThan(absMax / 2);
  });

  test('MSE, within one bin', () => {
    // 512 bins keep the brute-force reference (bins^2 * samples) quick.
    const o = observe(
      new HistogramObserver({ selection: 'mse', minCoverage: 0, bins: 512, symmetric: true }),
      parts,
    );
    const { width, counts } = o.histogramSnapshot();
    const hist = plainAbsHistogram(all, width, counts.length);
    expect(hist).toEqual(Array.from(counts));
    const expected = Math.min(referenceMseBins(hist, width, 127, 64) * width, absMax);
    expect(Math.abs(symmetricThreshold(o) - expected)).toBeLessThanOrEqual(width);
    expect(expected).toBeLessThan(absMax);
  });
});

test('the closed-form error integral matches numeric integration', () => {
  const threshold = 1.3;
  const step = threshold / 7;
  for (const x of [0, 0.05, step / 2, 0.4, 1.2, threshold - step / 2, threshold, 1.9]) {
    const n = 200_000;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const t = ((k + 0.5) / n) * x;
      const q = Math.min(Math.round(t / step), 7) * step;
      sum += (t - q) ** 2;
    }
    expect(integratedSquaredError(x, threshold, step)).toBeCloseTo((sum * x) / n, 9);
  }
});

test('the MSE search over non-empty bins picks what a plain search over every bin of the definition picks', () => {
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  let sparse = 0;
  for (let trial = 0; trial < 40; trial++) {
    // Dense bulks, sparse tails, isolated spikes and runs of empty bins between them.
    const counts = Array.from({ length: 256 }, (_, j) => {
      if (j < 20) return Math.floor(1000 * Math.exp(-j / 5) * next());
      return next() < 0.1 ? Math.floor(1 + 5 * next()) : 0;
    });
    sparse += counts.filter((c) => c === 0).length;
    const width = 0.01 + next();
    const steps = trial % 2 === 0 ? 127 : 255;
    let used = counts.length;
    while (used > 0 && counts[used - 1] === 0) used--;
    let dense = used;
    let bestError = Number.POSITIVE_INFINITY;
    for (let i = 1; i <= used; i++) {
      // The definition, bin after bin: count * (F(upper edge) - F(lower edge)) / width.
      const threshold = i * width;
      let error = 0;
      for (let j = 0; j < used; j++) {
        const upper = integratedSquaredError((j + 1) * width, threshold, threshold / steps);
        const lower = integratedSquaredError(j * width, threshold, threshold / steps);
        if (counts[j] !== 0) error += (counts[j]! * (upper - lower)) / width;
      }
      if (error < bestError) {
        bestError = error;
        dense = i;
      }
    }
    expect(mseThresholdBins(counts, width, steps), `trial ${trial}`).toBe(dense);
  }
  // Most bins were empty, so the sparse walk was exercised.
  expect(sparse).toBeGreaterThan(40 * 128);
});

test('the bounded MSE search picks what trying every candidate picks, on 2048-bin activation shapes', () => {
  let seed = 11;
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return (seed + 0.5) / 2 ** 32;
  };
  const gaussian = () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  const shapes: Record<string, () => number> = {
    // |x| of a Gaussian bulk, with a rare outlier stretching the range.
    gaussian: () => (next() < 1e-4 ? 40 * next() : Math.abs(gaussian())),
    // A ReLU output: half the mass in the zero bin, an exponential tail.
    relu: () => (next() < 0.5 ? 0 : -Math.log(next())),
    // A sigmoid output: mass piled at both ends of [0, 1].
    sigmoid: () => 1 / (1 + Math.exp(-6 * gaussian())),
    // Few distinct values: isolated spikes, most bins empty.
    spikes: () => Math.floor(next() * 12) * 0.37,
  };
  for (const [name, draw] of Object.entries(shapes)) {
    const values = Array.from({ length: 50_000 }, draw);
    const width = Math.max(...values) / 2000;
    const counts = new Array<number>(2048).fill(0);
    for (const v of values) counts[Math.min(Math.floor(v / width), 2047)]!++;
    for (const steps of [127, 255]) {
      let used = counts.length;
      while (used > 0 && counts[used - 1] === 0) used--;
      let every = used;
      let least = Number.POSITIVE_INFINITY;
      for (let i = 1; i <= used; i++) {
        const error = expectedSquaredError(counts, used, width, i * width, steps);
        if (error < least) {
          least = error;
          every = i;
        }
      }
      expect(mseThresholdBins(counts, width, steps), `${name}, ${steps} steps`).toBe(every);
    }
  }
});

test('the MSE lower bound is the error itself when every count change is computed exactly', () => {
  // Five isolated spikes change the count at ten bin edges, fewer than the bound computes exactly,
  // so nothing is left to bound: bound and error agree for every candidate, clipping or not.
  const counts = new Array<number>(600).fill(0);
  for (const [bin, count] of [
    [0, 900],
    [37, 120],
    [150, 40],
    [333, 7],
    [599, 2],
  ] as const)
    counts[bin] = count;
  // The bound gives up 1e-12 * edges^3 * sum |count change| for rounding in its prefix sums.
  const margin = 1e-12 * 601 ** 3 * 2 * (900 + 120 + 40 + 7 + 2);
  for (const steps of [127, 255]) {
    const bounds = errorLowerBounds(counts, counts.length, steps);
    for (let i = 1; i <= counts.length; i++) {
      const error = expectedSquaredError(counts, counts.length, 1, i, steps);
      expect(bounds[i]!).toBeLessThanOrEqual(error);
      expect(error - bounds[i]!, `candidate ${i}`).toBeLessThan(margin + 1e-9 * error);
    }
  }
});
