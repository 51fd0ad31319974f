// MSE range-selection bench: the bounded search in mseThresholdBins against trying every
// candidate threshold (expectedSquaredError for i = 1 .. last non-empty bin), on 2048-bin
// histograms of four activation shapes. Both pick the same threshold (checked here and in the
// tests); the figure is the time of the bounded search over the time of the plain one, measured
// in the same run, median of --runs N rounds (default 5). Runs against the built dist.
import { expectedSquaredError, mseThresholdBins } from '../dist/index.js';

const flag = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(flag('--runs') ?? 5);

let seed = 3;
const next = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed + 0.5) / 2 ** 32;
};
const gaussian = () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
const SHAPES = {
  gaussian: () => (next() < 1e-4 ? 40 * next() : Math.abs(gaussian())),
  relu: () => (next() < 0.5 ? 0 : -Math.log(next())),
  sigmoid: () => 1 / (1 + Math.exp(-6 * gaussian())),
  laplace: () => -Math.log(next()) * (next() < 0.001 ? 20 : 1),
};

/** 2048-bin histograms of |x|, eight per shape, each from 200k draws, for 127 and 255 steps. */
const cases = [];
for (const draw of Object.values(SHAPES)) {
  for (let k = 0; k < 8; k++) {
    const values = Array.from({ length: 200_000 }, draw);
    const width = values.reduce((a, b) => Math.max(a, b), 0) / 2048;
    const counts = new Float64Array(2048);
    for (const v of values) counts[Math.min(Math.floor(v / width), 2047)]++;
    cases.push({ counts, width, steps: k % 2 === 0 ? 127 : 255 });
  }
}

function plainSearch({ counts, width, steps }) {
  let used = counts.length;
  while (used > 0 && counts[used - 1] === 0) used--;
  let best = used;
  let least = Number.POSITIVE_INFINITY;
  for (let i = 1; i <= used; i++) {
    const error = expectedSquaredError(counts, used, width, i * width, steps);
    if (error < least) {
      least = error;
      best = i;
    }
  }
  return best;
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const plain = [];
const bounded = [];
for (let r = 0; r <= RUNS; r++) {
  let t = performance.now();
  const expected = cases.map(plainSearch);
  const plainMs = performance.now() - t;
  t = performance.now();
  const got = cases.map((c) => mseThresholdBins(c.counts, c.width, c.steps));
  const boundedMs = performance.now() - t;
  const differ = got.filter((g, k) => g !== expected[k]).length;
  if (differ > 0) throw new Error(`the bounded search picked another threshold on ${differ} histograms`);
  // Round 0 warms up the JIT and is not counted.
  if (r > 0) {
    plain.push(plainMs);
    bounded.push(boundedMs);
  }
}
console.log(
  `MSE threshold search on ${cases.length} histograms of 2048 bins, median of ${RUNS} runs: every candidate ${median(plain).toFixed(0)} ms, bounded ${median(bounded).toFixed(0)} ms -> ${(median(plain) / median(bounded)).toFixed(1)}x faster, same thresholds`,
);
