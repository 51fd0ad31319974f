import { SeededRandom, randomFloat32 } from '@qgrain/test-harness';
import { shapeSize } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { parseQuantSpec } from './quant-spec.js';
import { qparamsFromData, qparamsFromValues } from './qparams.js';
import { dequantize, quantize } from './quantize.js';

// Every in-range element must come back within half a scale step. The only slack is float32
// rounding: x / scale is rounded to float32 (|x / scale| <= 2^15 here, so at most 2^-9 of a step)
// and so is (q - zp) * scale (half an ulp of the result).
function roundingSlack(x: number, scale: number): number {
  return scale * 2 ** -9 + Math.abs(x) * 2 ** -23;
}

interface Scheme {
  readonly spec: string;
  readonly shape: readonly number[];
  readonly groups: number;
  readonly scaleShape: readonly number[];
}

const SCHEMES: Scheme[] = [
  { spec: 'per-tensor', shape: [64, 1, 3, 3], groups: 1, scaleShape: [] },
  { spec: 'per-tensor', shape: [256, 512], groups: 1, scaleShape: [] },
  { spec: 'per-axis:0', shape: [64, 1, 3, 3], groups: 64, scaleShape: [64] },
  { spec: 'per-axis:1', shape: [64, 1, 3, 3], groups: 1, scaleShape: [1] },
  { spec: 'per-axis:2', shape: [64, 1, 3, 3], groups: 3, scaleShape: [3] },
  { spec: 'per-axis:3', shape: [64, 1, 3, 3], groups: 3, scaleShape: [3] },
  { spec: 'per-channel', shape: [64, 1, 3, 3], groups: 64, scaleShape: [64] },
  { spec: 'per-axis:0', shape: [256, 512], groups: 256, scaleShape: [256] },
  { spec: 'per-axis:1', shape: [256, 512], groups: 512, scaleShape: [512] },
  { spec: 'per-row', shape: [256, 512], groups: 256, scaleShape: [256] },
  { spec: 'per-col', shape: [256, 512], groups: 512, scaleShape: [512] },
  { spec: 'per-token', shape: [2, 7, 64], groups: 14, scaleShape: [2, 7, 1] },
  { spec: 'per-block:16', shape: [4, 200], groups: 4 * 13, scaleShape: [4, 13] },
  { spec: 'per-block:32', shape: [4, 200], groups: 4 * 7, scaleShape: [4, 7] },
  { spec: 'per-block:64', shape: [4, 200], groups: 4 * 4, scaleShape: [4, 4] },
  { spec: 'per-block:128', shape: [4, 200], groups: 4 * 2, scaleShape: [4, 2] },
  { spec: 'per-block:32@0', shape: [100, 6], groups: 4 * 6, scaleShape: [4, 6] },
  { spec: 'per-block:16@1', shape: [3, 40, 5], groups: 3 * 3 * 5, scaleShape: [3, 3, 5] },
];

const TYPES = ['int8', 'uint8', 'int4', 'int16'] as const;
const TENSORS_PER_SCHEME = 200;

describe.each(TYPES)('%s schemes', (type) => {
  it.each(SCHEMES)(`${type}/$spec on $shape: groups, scale shape and error <= scale/2`, (scheme) => {
    const spec = parseQuantSpec(`${type}/${scheme.spec}`);
    const n = shapeSize(scheme.shape);
    const rng = new SeededRandom(n + scheme.groups);
    let checked = 0;
    for (let t = 0; t < TENSORS_PER_SCHEME; t++) {
      // Channels whose ranges differ by up to 1000x, as in real weights.
      const x = randomFloat32(n, 1000 * t + scheme.groups, t % 3 === 0 ? 'laplace' : 'normal');
      const channelScale = 10 ** rng.uniform(-3, 0);
      for (let i = 0; i < n; i++) x[i]! *= i % 7 === 0 ? channelScale : 1;
      if (t % 2 === 1) for (let i = 0; i < n; i++) x[i] = Math.fround(Math.abs(x[i]!) + 0.25);
      const qp = qparamsFromData(x, scheme.shape, spec);
      expect(qp.layout.groups).toBe(scheme.groups);
      expect(qp.scaleShape).toEqual(scheme.scaleShape);
      expect(qp.scale.length).toBe(scheme.groups);
      const back = dequantize(quantize(x, qp), qp);
      for (let i = 0; i < n; i++) {
        const g = groupIndex(qp, i);
        const s = qp.scale[g]!;
        const err = Math.abs(x[i]! - back[i]!);
        if (!(err <= s / 2 + roundingSlack(x[i]!, s))) {
          throw new Error(
            `tensor ${t}, element ${i} (group ${g}): |${x[i]} - ${back[i]}| = ${err} > scale/2 = ${s / 2}`,
          );
        }
        checked++;
      }
    }
    expect(checked).toBe(TENSORS_PER_SCHEME * n);
  });

  it(`${type}: out-of-range values saturate, all-zero groups get finite scales and exact zeros`, () => {
    const spec = parseQuantSpec(`${type}/per-axis:0`);
    const shape = [3, 50];
    const x = randomFloat32(150, 7);
    for (let i = 50; i < 100; i++) x[i] = 0; // group 1 is all zero
    const qp = qparamsFromData(x, shape, spec);
    expect(Number.isFinite(qp.scale[1]!)).toBe(true);
    expect(qp.scale[1]).toBeGreaterThan(0);
    const far = x.map((v, i) => (i < 50 ? v * 100 : v));
    const q = dequantize(quantize(far, qp), qp);
    const { qmin, qmax } = qp.range;
    for (let i = 0; i < 50; i++) {
      const expected =
        far[i]! > 0 ? (qmax - qp.zeroPoint[0]!) * qp.scale[0]! : (qmin - qp.zeroPoint[0]!) * qp.scale[0]!;
      if (Math.abs(far[i]!) > 2 * Math.max(...x.subarray(0, 50).map(Math.abs))) {
        expect(q[i]).toBeCloseTo(expected, 5);
      }
    }
    for (let i = 50; i < 100; i++) expect(q[i]).toBe(0);
  });
});

function groupIndex(qp: ReturnType<typeof qparamsFromData>, index: number): number {
  const { inner, dim, block, mode } = qp.layout;
  const i = index % inner;
  const rest = (index - i) / inner;
  const d = rest % dim;
  if (mode === 'shared') return Math.floor(d / block);
  const o = (rest - d) / dim;
  return (o * Math.ceil(dim / block) + Math.floor(d / block)) * inner + i;
}

describe('rounding half to even, in units of the scale', () => {
  it.each(['int8', 'int4'])('%s: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2, -1.5 -> -2', (type) => {
    for (const scale of [1, 0.25, 0.0078125]) {
      const spec = parseQuantSpec(`${type}/per-tensor`);
      const qp = qparamsFromValues([scale], [0], spec, [5]);
      const x = Float32Array.of(0.5, 1.5, 2.5, -2.5, -1.5).map((v) => v * scale);
      const q = quantize(x, qp);
      const values = type === 'int4' ? unpack(q as Uint8Array, 5) : [...q];
      expect(values).toEqual([0, 2, 2, -2, -2]);
    }
  });
});

function unpack(bytes: Uint8Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const nibble = i & 1 ? bytes[i >> 1]! >> 4 : bytes[i >> 1]! & 15;
    return nibble >= 8 ? nibble - 16 : nibble;
  });
}
