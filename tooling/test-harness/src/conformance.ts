// The backend conformance suite: cases as data plus a runner with no test-framework or node:
// imports, so the same file runs under vitest and inside a browser bundle. Each case builds
// seeded inputs, runs one kernel on the backend under test and on jsBackend (the reference), and
// compares the outputs bit for bit (NaN equals NaN).
import {
  type Backend,
  type GroupLayout,
  type QuantRange,
  type QuantStorage,
  allocateQuantStorage,
  groupOf,
  jsBackend,
  perAxisLayout,
  perBlockLayout,
  perTensorLayout,
} from '@qgrain/tensor';
import { assertBitEqual } from './assertions.js';
import { SeededRandom, randomWithSpecials } from './random.js';

/** A group layout described as data. */
export type LayoutSpec =
  | { readonly kind: 'per-tensor'; readonly shape: readonly number[] }
  | { readonly kind: 'per-axis'; readonly shape: readonly number[]; readonly axis: number }
  | {
      readonly kind: 'per-block';
      readonly shape: readonly number[];
      readonly axis: number;
      readonly block: number;
    };

/**
 * How zero points are drawn: all 0, random in [qmin, qmax], from just below to far beyond 2^21
 * (the WASM float32 path's limit), just outside [qmin, qmax] (where a NaN's result, the zero
 * point, lies outside the clamp range), or 'mixed': groups inside and outside side by side, so
 * that a kernel's loop meets both kinds in one call.
 */
export type ZeroPointSpec = 'zero' | 'random' | 'far' | 'outside' | 'mixed';

/**
 * How scales are drawn: mixed positive magnitudes with exact ties, including 0/NaN/Inf/negative/
 * subnormal, or powers of two (where x / s equals x times an exact reciprocal) from 2^-149 to 2^127
 * mixed with their float32 neighbours (which are not).
 */
export type ScaleSpec = 'normal' | 'special' | 'pow2';

/**
 * Input data of the quantize-family kernels: random with specials and ties of 2^-4, or 'ties':
 * for each element's own group scale s, x = float32((k + 1/2) * s) and its float32 neighbours, so
 * quotients sit exactly on, or one or two ulps beside, a rounding tie. 'finite-ties' is the same
 * with finite specials only (zeros and quotients far beyond the range, but no NaN or infinity),
 * so that whole runs take the paths that only NaN or infinite quotients turn off.
 */
export type QuantDataSpec = 'random' | 'ties' | 'finite-ties';

/**
 * Start values of histogram counts: small integers and fractions, or 'edge' values where adding
 * n at once and adding 1 n times could differ (near 2^53, negative, fractional, NaN, infinite).
 */
export type CountSpec = 'small' | 'edge';

/** Data of histogram cases: random with specials, or 'relu': mostly exact zeros and bin edges. */
export type HistogramDataSpec = 'random' | 'relu';

/** One conformance case. */
export type ConformanceCase =
  | {
      readonly kernel: 'minMax' | 'absMax';
      readonly layout: LayoutSpec;
      readonly seed: number;
      readonly streamed?: boolean;
    }
  | {
      readonly kernel: 'histogram';
      readonly length: number;
      readonly seed: number;
      readonly lo: number;
      readonly hi: number;
      readonly bins: number;
      readonly counts?: CountSpec;
      readonly data?: HistogramDataSpec;
    }
  | {
      readonly kernel: 'quantize' | 'dequantize' | 'fakeQuant' | 'quantError';
      readonly layout: LayoutSpec;
      readonly range: QuantRange;
      readonly zeroPoint: ZeroPointSpec;
      readonly scale: ScaleSpec;
      readonly seed: number;
      readonly data?: QuantDataSpec;
    }
  | {
      readonly kernel: 'packInt4' | 'unpackInt4';
      readonly length: number;
      readonly signed: boolean;
      readonly seed: number;
    };

/** Outcome of one case. */
export interface ConformanceResult {
  readonly name: string;
  readonly passed: boolean;
  readonly message?: string;
}

// Larger than the WASM backend's 64K-element chunk (and not a multiple of it), so chunk edges,
// rows straddling chunks and tails are all exercised.
const LARGE = 200_003;
// A power-of-two scale: x / scale is exact, so ties k + 0.5 really reach the rounding step.
const TIE_SCALE = 2 ** -4;

/** The integer ranges every quantize kernel is checked with. */
export const CONFORMANCE_RANGES: readonly QuantRange[] = [
  { storage: 'int8', qmin: -128, qmax: 127 },
  { storage: 'int8', qmin: -127, qmax: 127 },
  { storage: 'uint8', qmin: 0, qmax: 255 },
  { storage: 'uint8', qmin: 0, qmax: 127 },
  { storage: 'int16', qmin: -32768, qmax: 32767 },
  { storage: 'uint16', qmin: 0, qmax: 65535 },
  { storage: 'int32', qmin: -2147483648, qmax: 2147483647 },
  { storage: 'int4', qmin: -8, qmax: 7 },
  { storage: 'uint4', qmin: 0, qmax: 15 },
];

/**
 * Ranges wider than their storage type (a typed-array store wraps them), or exactly filling it:
 * the WASM backend may only use saturating narrows when the range fits the storage.
 */
export const STORAGE_EDGE_RANGES: readonly QuantRange[] = [
  { storage: 'int8', qmin: -300, qmax: 300 },
  { storage: 'uint8', qmin: -5, qmax: 260 },
  { storage: 'uint8', qmin: -5, qmax: 250 },
  { storage: 'int8', qmin: -100, qmax: 200 },
  { storage: 'int8', qmin: -200, qmax: 100 },
  { storage: 'uint8', qmin: 0, qmax: 255 },
  { storage: 'int16', qmin: -40000, qmax: 40000 },
  { storage: 'int16', qmin: -40000, qmax: 30000 },
  { storage: 'uint16', qmin: -3, qmax: 70000 },
  { storage: 'uint16', qmin: -3, qmax: 65000 },
  { storage: 'int4', qmin: -8, qmax: 7 },
  { storage: 'int4', qmin: -128, qmax: 127 },
  { storage: 'int4', qmin: -129, qmax: 127 },
  { storage: 'uint4', qmin: -3, qmax: 100 },
];

/** Layouts: every kind, odd sizes, per-axis on first/middle/last axes, ragged blocks, large tensors. */
export const CONFORMANCE_LAYOUTS: readonly LayoutSpec[] = [
  { kind: 'per-tensor', shape: [1031] },
  { kind: 'per-tensor', shape: [3, 5, 7] },
  { kind: 'per-axis', shape: [17, 33], axis: 0 },
  { kind: 'per-axis', shape: [33, 17], axis: 1 },
  { kind: 'per-axis', shape: [4, 9, 5], axis: 1 },
  { kind: 'per-block', shape: [6, 100], axis: 1, block: 32 },
  { kind: 'per-block', shape: [70, 9], axis: 0, block: 16 },
  { kind: 'per-block', shape: [3, 50, 5], axis: 1, block: 8 },
  { kind: 'per-block', shape: [64, 50], axis: 1, block: 50 },
  { kind: 'per-block', shape: [12, 96], axis: 1, block: 32 },
  { kind: 'per-tensor', shape: [LARGE] },
  { kind: 'per-axis', shape: [7, 30001], axis: 0 },
  { kind: 'per-axis', shape: [1529, 131], axis: 1 },
  { kind: 'per-block', shape: [311, 1000], axis: 1, block: 64 },
  { kind: 'per-block', shape: [1000, 203], axis: 0, block: 32 },
  { kind: 'per-block', shape: [200, 768], axis: 1, block: 48 },
];

function buildCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  let seed = 1;
  for (const layout of CONFORMANCE_LAYOUTS) {
    cases.push({ kernel: 'minMax', layout, seed: seed++ });
    cases.push({ kernel: 'absMax', layout, seed: seed++ });
    cases.push({ kernel: 'minMax', layout, seed: seed++, streamed: true });
    cases.push({ kernel: 'absMax', layout, seed: seed++, streamed: true });
    for (const range of CONFORMANCE_RANGES) {
      const signed = range.qmin < 0;
      for (const kernel of ['quantize', 'dequantize', 'fakeQuant', 'quantError'] as const) {
        cases.push({
          kernel,
          layout,
          range,
          zeroPoint: signed ? 'zero' : 'random',
          scale: 'normal',
          seed: seed++,
        });
      }
    }
  }
  // Special scales, asymmetric signed types and zero points beyond the float32 fast path, on a
  // few layouts (these take the general path or hit NaN/Inf quotients).
  const small = CONFORMANCE_LAYOUTS.slice(0, 10);
  for (const layout of small) {
    for (const range of CONFORMANCE_RANGES) {
      for (const kernel of ['quantize', 'dequantize', 'fakeQuant', 'quantError'] as const) {
        cases.push({ kernel, layout, range, zeroPoint: 'random', scale: 'special', seed: seed++ });
        cases.push({ kernel, layout, range, zeroPoint: 'far', scale: 'normal', seed: seed++ });
      }
    }
  }
  // Fast paths of quantization: power-of-two scales, exact and near ties of each group's own scale,
  // zero points outside [qmin, qmax], ranges wider than (or filling) their storage; short and
  // long single-group runs, and per-axis/per-block layouts.
  const fastPathLayouts: readonly LayoutSpec[] = [
    { kind: 'per-tensor', shape: [1031] },
    { kind: 'per-axis', shape: [17, 33], axis: 0 },
    { kind: 'per-axis', shape: [33, 17], axis: 1 },
    { kind: 'per-block', shape: [6, 100], axis: 1, block: 32 },
    { kind: 'per-block', shape: [12, 96], axis: 1, block: 32 },
    { kind: 'per-axis', shape: [7, 30001], axis: 0 },
  ];
  for (const layout of fastPathLayouts) {
    for (const range of [...CONFORMANCE_RANGES, ...STORAGE_EDGE_RANGES]) {
      for (const kernel of ['quantize', 'fakeQuant', 'quantError'] as const) {
        for (const scale of ['normal', 'pow2'] as const) {
          const zeroPoint = range.qmin < 0 ? 'zero' : 'random';
          cases.push({ kernel, layout, range, zeroPoint, scale, seed: seed++, data: 'ties' });
          cases.push({ kernel, layout, range, zeroPoint, scale, seed: seed++, data: 'finite-ties' });
          cases.push({ kernel, layout, range, zeroPoint, scale: 'pow2', seed: seed++ });
          cases.push({ kernel, layout, range, zeroPoint: 'outside', scale, seed: seed++, data: 'ties' });
        }
      }
      cases.push({ kernel: 'dequantize', layout, range, zeroPoint: 'random', scale: 'pow2', seed: seed++ });
    }
  }
  for (const [lo, hi, bins] of [
    [-4, 4, 2048],
    [-4, 4, 7],
    [0, 10, 1],
    [1, 1, 16],
    [3, -3, 5],
    [-1e-3, 2.5e-3, 256],
    [Number.NEGATIVE_INFINITY, 4, 8],
  ] as const) {
    cases.push({ kernel: 'histogram', length: 1031, seed: seed++, lo, hi, bins });
  }
  cases.push({ kernel: 'histogram', length: LARGE, seed: seed++, lo: -6, hi: 6, bins: 2048 });
  // Lengths on both sides of the WASM backend's switch to sub-counters (4 x (bins + 1) elements),
  // awkward ranges, start counts where adding n at once could differ from adding 1 n times, and
  // ReLU-like data (long runs of one bin, values exactly on bin edges and on hi), and a call long
  // enough (relu: over 4 x 65535 zeros) that the WASM backend's u16 sub-counters must be folded
  // into the counts mid-call.
  for (const [length, lo, hi, bins] of [
    [8, 0, 1, 1],
    [9, 0, 1, 1],
    [35, -1, 1, 7],
    [36, -1, 1, 8],
    [1031, 0, 6, 64],
    [LARGE, 0, 6, 3],
    [LARGE, 0, 0, 9],
    [LARGE, 2, -2, 9],
    [LARGE, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 5],
    [LARGE, 0, Number.POSITIVE_INFINITY, 5],
    [LARGE, -(2 ** -140), 2 ** -140, 33],
    [LARGE, -1, 1e-30, 100_000],
    [600_001, -1, 1, 64],
  ] as const) {
    for (const counts of ['small', 'edge'] as const) {
      for (const data of ['random', 'relu'] as const) {
        cases.push({ kernel: 'histogram', length, seed: seed++, lo, hi, bins, counts, data });
      }
    }
  }
  for (const length of [0, 1, 2, 31, 32, 33, 1031, LARGE]) {
    for (const signed of [true, false]) {
      cases.push({ kernel: 'packInt4', length, signed, seed: seed++ });
      cases.push({ kernel: 'unpackInt4', length, signed, seed: seed++ });
    }
  }
  // Zero points inside and outside the range in one call, on layouts whose runs are blocks (short
  // and ragged ones, and chunked), where a kernel may walk many groups in one loop.
  const mixedLayouts: readonly LayoutSpec[] = [
    { kind: 'per-block', shape: [6, 100], axis: 1, block: 32 },
    { kind: 'per-block', shape: [64, 50], axis: 1, block: 50 },
    { kind: 'per-block', shape: [311, 1000], axis: 1, block: 64 },
    { kind: 'per-block', shape: [12, 96], axis: 1, block: 32 },
    { kind: 'per-axis', shape: [17, 33], axis: 0 },
  ];
  for (const layout of mixedLayouts) {
    for (const range of CONFORMANCE_RANGES) {
      for (const kernel of ['quantize', 'fakeQuant', 'quantError'] as const) {
        for (const scale of ['normal', 'pow2'] as const) {
          cases.push({ kernel, layout, range, zeroPoint: 'mixed', scale, seed: seed++, data: 'ties' });
        }
      }
    }
  }
  return cases;
}

/** Every conformance case. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = buildCases();

function layoutOf(spec: LayoutSpec): GroupLayout {
  switch (spec.kind) {
    case 'per-tensor':
      return perTensorLayout(spec.shape);
    case 'per-axis':
      return perAxisLayout(spec.shape, spec.axis);
    case 'per-block':
      return perBlockLayout(spec.shape, spec.axis, spec.block);
  }
}

function describeLayout(spec: LayoutSpec): string {
  const shape = `[${spec.shape.join(',')}]`;
  if (spec.kind === 'per-tensor') return `per-tensor${shape}`;
  if (spec.kind === 'per-axis') return `per-axis${shape}@${spec.axis}`;
  return `per-block${shape}@${spec.axis}/${spec.block}`;
}

/** A readable, unique-enough name of a case. */
export function conformanceCaseName(c: ConformanceCase): string {
  switch (c.kernel) {
    case 'minMax':
    case 'absMax':
      return `${c.kernel} ${describeLayout(c.layout)}${c.streamed ? ' streamed' : ''} #${c.seed}`;
    case 'histogram':
      return `histogram n=${c.length} [${c.lo}, ${c.hi}] bins=${c.bins}${c.counts === 'edge' ? ' edge-counts' : ''}${c.data === 'relu' ? ' relu' : ''} #${c.seed}`;
    case 'packInt4':
    case 'unpackInt4':
      return `${c.kernel} n=${c.length} ${c.signed ? 'signed' : 'unsigned'} #${c.seed}`;
    default:
      return `${c.kernel} ${c.range.storage}[${c.range.qmin},${c.range.qmax}] ${describeLayout(c.layout)} zp=${c.zeroPoint} scale=${c.scale}${c.data ? ` ${c.data}` : ''} #${c.seed}`;
  }
}

function elementCount(spec: LayoutSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

// Scales a quantizer could meet, including the awkward ones.
const SPECIAL_SCALES = [0, Number.NaN, Number.POSITIVE_INFINITY, -0.05, 2 ** -140, 1e-30, 3e38, TIE_SCALE];

// Exponents of power-of-two scales: 2^-149 and 2^-140 have no float32 reciprocal, 2^-127 is a
// subnormal scale that has one, 2^127's reciprocal is subnormal.
const POW2_EXPONENTS = [-149, -140, -127, -126, -60, -20, -7, -4, -1, 0, 1, 5, 20, 60, 126, 127];

function makeScales(groups: number, spec: ScaleSpec, rng: SeededRandom): Float32Array {
  const scale = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    if (spec === 'pow2') {
      const p = (rng.next() < 0.1 ? -1 : 1) * 2 ** rng.pick(POW2_EXPONENTS);
      // One in four is a neighbour of the power of two: close, but no exact reciprocal.
      const r = rng.next();
      scale[g] = r < 0.125 ? p * (1 + 2 ** -23) : r < 0.25 ? p * (1 - 2 ** -24) : p;
    } else if (spec === 'special' && rng.next() < 0.5) scale[g] = rng.pick(SPECIAL_SCALES);
    else scale[g] = rng.next() < 0.3 ? TIE_SCALE : 10 ** rng.uniform(-3, 0.5);
  }
  return scale;
}

const tieF32 = new Float32Array(1);
const tieU32 = new Uint32Array(tieF32.buffer);

// Exact and near ties of each element's group scale: x = float32((k + 1/2) * s) moved by -2..2
// float32 steps, with k over the range (and a little beyond), plus NaN, infinities, zeros and
// exact multiples k * s.
function makeTies(
  layout: GroupLayout,
  n: number,
  range: QuantRange,
  scale: Float32Array,
  rng: SeededRandom,
  finite = false,
): Float32Array {
  const x = new Float32Array(n);
  const span = Math.min(range.qmax - range.qmin, 4096);
  for (let i = 0; i < n; i++) {
    const s = scale[groupOf(layout, i)]!;
    const r = rng.next();
    if (r < 0.02) {
      x[i] = finite
        ? rng.pick([0, -0, 1e6 * s, -1e6 * s])
        : rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0]);
      continue;
    }
    const k = rng.int(-span - 2, span + 2);
    tieF32[0] = r < 0.1 ? k * s : (k + 0.5) * s;
    const step = rng.int(-2, 2);
    if (tieF32[0] !== 0 && Number.isFinite(tieF32[0]!)) tieU32[0] = tieU32[0]! + step;
    x[i] = tieF32[0]!;
  }
  return x;
}

function makeZeroPoints(
  groups: number,
  range: QuantRange,
  spec: ZeroPointSpec,
  rng: SeededRandom,
): Int32Array {
  const zp = new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    if (spec === 'random') zp[g] = rng.int(Math.max(range.qmin, -(2 ** 30)), Math.min(range.qmax, 2 ** 30));
    else if (spec === 'far') zp[g] = (rng.next() < 0.5 ? -1 : 1) * rng.int(2 ** 21 - 2, 2 ** 30);
    else if (spec === 'outside' || (spec === 'mixed' && rng.next() < 0.25))
      zp[g] = rng.next() < 0.5 ? range.qmax + rng.int(1, 300) : range.qmin - rng.int(1, 300);
    else if (spec === 'mixed') zp[g] = rng.int(range.qmin, range.qmax);
  }
  return zp;
}

// Stored integers covering the whole storage type (not only [qmin, qmax]), extremes included.
function makeStored(range: QuantRange, count: number, rng: SeededRandom): QuantStorage {
  const out = allocateQuantStorage(range, count);
  const bits = { int4: 8, uint4: 8, int8: 8, uint8: 8, int16: 16, uint16: 16, int32: 32 }[range.storage];
  for (let i = 0; i < out.length; i++) {
    const r = rng.next();
    out[i] = r < 0.05 ? (r < 0.025 ? -(2 ** (bits - 1)) : 2 ** bits - 1) : Math.floor(rng.next() * 2 ** bits);
  }
  return out;
}

// Initial accumulators: the documented start values, or (streamed) earlier results including
// -0, NaN and values the data will beat or not.
function makeAccumulator(groups: number, start: number, streamed: boolean, rng: SeededRandom): Float32Array {
  const out = new Float32Array(groups).fill(start);
  if (streamed)
    for (let g = 0; g < groups; g++) out[g] = rng.pick([start, -0, 0, Number.NaN, rng.normal(), 1e30, -1e30]);
  return out;
}

type Outputs = ArrayLike<number>[];

function runCase(c: ConformanceCase, backend: Backend): Outputs {
  const rng = new SeededRandom(c.seed * 7919);
  switch (c.kernel) {
    case 'minMax':
    case 'absMax': {
      const layout = layoutOf(c.layout);
      const x = randomWithSpecials(elementCount(c.layout), c.seed);
      if (c.kernel === 'absMax') {
        const out = makeAccumulator(layout.groups, 0, c.streamed === true, rng);
        backend.absMax(x, layout, out);
        return [out];
      }
      const min = makeAccumulator(layout.groups, Number.POSITIVE_INFINITY, c.streamed === true, rng);
      const max = makeAccumulator(layout.groups, Number.NEGATIVE_INFINITY, c.streamed === true, rng);
      backend.minMax(x, layout, min, max);
      return [min, max];
    }
    case 'histogram': {
      const x = randomWithSpecials(c.length, c.seed, 0.01);
      if (c.data === 'relu') {
        // Mostly exact zeros, some values exactly on bin edges or on hi, the rest left as drawn.
        const width = (c.hi - c.lo) / c.bins;
        for (let i = 0; i < x.length; i++) {
          const r = rng.next();
          if (r < 0.6) x[i] = 0;
          else if (r < 0.75) x[i] = c.lo + rng.int(0, c.bins) * width;
          else if (r < 0.8) x[i] = c.hi;
        }
      }
      // Fractional start counts: the kernel must add exactly as the reference does.
      const counts = new Float64Array(c.bins).map(() =>
        c.counts === 'edge'
          ? rng.pick([
              0,
              0,
              7,
              -3,
              -0,
              0.25,
              2 ** 52 - 0.5,
              2 ** 53 - 5,
              2 ** 53,
              -(2 ** 53),
              1e300,
              Number.NaN,
              Number.POSITIVE_INFINITY,
            ])
          : rng.next() < 0.5
            ? 0
            : rng.int(0, 9) + 0.25,
      );
      backend.histogram(x, c.lo, c.hi, counts);
      return [counts];
    }
    case 'packInt4': {
      const values = c.signed ? new Int8Array(c.length) : new Uint8Array(c.length);
      for (let i = 0; i < c.length; i++) values[i] = c.signed ? rng.int(-8, 7) : rng.int(0, 15);
      // One spare byte checks that nothing past ceil(n / 2) is written.
      const out = new Uint8Array(Math.ceil(c.length / 2) + 1).fill(0xa5);
      backend.packInt4(values, out);
      return [out];
    }
    case 'unpackInt4': {
      const packed = new Uint8Array(Math.ceil(c.length / 2)).map(() => rng.int(0, 255));
      const out = c.signed ? new Int8Array(c.length) : new Uint8Array(c.length);
      backend.unpackInt4(packed, out);
      return [out];
    }
    default: {
      const layout = layoutOf(c.layout);
      const n = elementCount(c.layout);
      const scale = makeScales(layout.groups, c.scale, rng);
      const zeroPoint = makeZeroPoints(layout.groups, c.range, c.zeroPoint, rng);
      if (c.kernel === 'dequantize') {
        const q = makeStored(c.range, n, rng);
        const out = new Float32Array(n);
        backend.dequantize(q, layout, scale, zeroPoint, c.range, out);
        return [out];
      }
      const x =
        c.data === 'ties' || c.data === 'finite-ties'
          ? makeTies(layout, n, c.range, scale, rng, c.data === 'finite-ties')
          : randomWithSpecials(n, c.seed, TIE_SCALE);
      if (c.kernel === 'quantize') {
        const out = allocateQuantStorage(c.range, n);
        backend.quantize(x, layout, scale, zeroPoint, c.range, out);
        return [out];
      }
      if (c.kernel === 'fakeQuant') {
        const out = new Float32Array(n);
        backend.fakeQuant(x, layout, scale, zeroPoint, c.range, out);
        return [out];
      }
      const sums = backend.quantError(x, layout, scale, zeroPoint, c.range);
      return [new Float64Array([sums.signal, sums.noise])];
    }
  }
}

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Case names to skip, each mapped to the reason (shown in the results). */
  readonly exclude?: Readonly<Record<string, string>>;
  /** Only cases whose name passes this filter run. */
  readonly filter?: (name: string) => boolean;
  /** The reference backend (defaults to jsBackend). */
  readonly reference?: Backend;
}

/** Runs every case on `backend` and on the reference, comparing outputs bit for bit. */
export function runConformance(backend: Backend, options: ConformanceOptions = {}): ConformanceResult[] {
  const reference = options.reference ?? jsBackend;
  const results: ConformanceResult[] = [];
  for (const c of CONFORMANCE_CASES) {
    const name = conformanceCaseName(c);
    if (options.filter && !options.filter(name)) continue;
    const reason = options.exclude?.[name];
    if (reason !== undefined) {
      results.push({ name, passed: true, message: `excluded: ${reason}` });
      continue;
    }
    try {
      const expected = runCase(c, reference);
      const actual = runCase(c, backend);
      for (const [k, e] of expected.entries()) assertBitEqual(actual[k]!, e, `${name} output ${k}`);
      results.push({ name, passed: true });
    } catch (error) {
      results.push({ name, passed: false, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return results;
}
