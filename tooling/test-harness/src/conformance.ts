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

/** How zero points are drawn: all 0, random in [qmin, qmax], or from just below to far beyond 2^21 (the WASM float32 path's limit). */
export type ZeroPointSpec = 'zero' | 'random' | 'far';

/** How scales are drawn: mixed positive magnitudes with exact ties, or including 0/NaN/Inf/negative/subnormal. */
export type ScaleSpec = 'normal' | 'special';

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
    }
  | {
      readonly kernel: 'quantize' | 'dequantize' | 'fakeQuant' | 'quantError';
      readonly layout: LayoutSpec;
      readonly range: QuantRange;
      readonly zeroPoint: ZeroPointSpec;
      readonly scale: ScaleSpec;
      readonly seed: number;
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
  { kind: 'per-tensor', shape: [LARGE] },
  { kind: 'per-axis', shape: [7, 30001], axis: 0 },
  { kind: 'per-axis', shape: [1529, 131], axis: 1 },
  { kind: 'per-block', shape: [311, 1000], axis: 1, block: 64 },
  { kind: 'per-block', shape: [1000, 203], axis: 0, block: 32 },
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
  const small = CONFORMANCE_LAYOUTS.slice(0, 9);
  for (const layout of small) {
    for (const range of CONFORMANCE_RANGES) {
      for (const kernel of ['quantize', 'dequantize', 'fakeQuant', 'quantError'] as const) {
        cases.push({ kernel, layout, range, zeroPoint: 'random', scale: 'special', seed: seed++ });
        cases.push({ kernel, layout, range, zeroPoint: 'far', scale: 'normal', seed: seed++ });
      }
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
  for (const length of [0, 1, 2, 31, 32, 33, 1031, LARGE]) {
    for (const signed of [true, false]) {
      cases.push({ kernel: 'packInt4', length, signed, seed: seed++ });
      cases.push({ kernel: 'unpackInt4', length, signed, seed: seed++ });
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
      return `histogram n=${c.length} [${c.lo}, ${c.hi}] bins=${c.bins} #${c.seed}`;
    case 'packInt4':
    case 'unpackInt4':
      return `${c.kernel} n=${c.length} ${c.signed ? 'signed' : 'unsigned'} #${c.seed}`;
    default:
      return `${c.kernel} ${c.range.storage}[${c.range.qmin},${c.range.qmax}] ${describeLayout(c.layout)} zp=${c.zeroPoint} scale=${c.scale} #${c.seed}`;
  }
}

function elementCount(spec: LayoutSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

// Scales a quantizer could meet, including the awkward ones.
const SPECIAL_SCALES = [0, Number.NaN, Number.POSITIVE_INFINITY, -0.05, 2 ** -140, 1e-30, 3e38, TIE_SCALE];

function makeScales(groups: number, spec: ScaleSpec, rng: SeededRandom): Float32Array {
  const scale = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    if (spec === 'special' && rng.next() < 0.5) scale[g] = rng.pick(SPECIAL_SCALES);
    else scale[g] = rng.next() < 0.3 ? TIE_SCALE : 10 ** rng.uniform(-3, 0.5);
  }
  return scale;
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
      // Fractional start counts: the kernel must add exactly as the reference does.
      const counts = new Float64Array(c.bins).map(() => (rng.next() < 0.5 ? 0 : rng.int(0, 9) + 0.25));
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
      const x = randomWithSpecials(n, c.seed, TIE_SCALE);
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
