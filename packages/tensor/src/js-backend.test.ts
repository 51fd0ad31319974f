import { describe, expect, it } from 'vitest';
import type { QuantRange } from './backend.js';
import { perAxisLayout, perTensorLayout } from './group-layout.js';
import { dequantizeValue, jsBackend, quantizeValue, roundHalfToEven } from './js-backend.js';

const INT8: QuantRange = { storage: 'int8', qmin: -128, qmax: 127 };
const INT4: QuantRange = { storage: 'int4', qmin: -8, qmax: 7 };

describe('reference kernels', () => {
  it('rounds half to even', () => {
    expect([0.5, 1.5, 2.5, -2.5, -0.5, 3.5, -3.5, 2.4999999].map(roundHalfToEven)).toEqual([
      0, 2, 2, -2, 0, 4, -4, 2,
    ]);
  });

  it('quantizes like QuantizeLinear: ties to even, saturation, zero point, NaN to the zero point', () => {
    expect(quantizeValue(0.5, 1, 0, -128, 127)).toBe(0);
    expect(quantizeValue(2.5, 1, 0, -128, 127)).toBe(2);
    expect(quantizeValue(1000, 1, 0, -128, 127)).toBe(127);
    expect(quantizeValue(-1000, 1, 0, -128, 127)).toBe(-128);
    expect(quantizeValue(Number.POSITIVE_INFINITY, 0.1, 3, 0, 255)).toBe(255);
    expect(quantizeValue(Number.NaN, 0.1, 3, 0, 255)).toBe(3);
    expect(quantizeValue(0.3, 0.1, -5, -128, 127)).toBe(-2);
    expect(dequantizeValue(-2, 0.1, -5)).toBe(Math.fround(3 * Math.fround(0.1)));
  });

  it('minMax ignores NaN, folds into what it is given and stores zero as +0', () => {
    const x = Float32Array.of(Number.NaN, -0, 3, -2, 0, 5, Number.NaN, -7);
    const layout = perAxisLayout([2, 4], 0);
    const min = new Float32Array(2).fill(Number.POSITIVE_INFINITY);
    const max = new Float32Array(2).fill(Number.NEGATIVE_INFINITY);
    jsBackend.minMax(x, layout, min, max);
    expect([...min]).toEqual([-2, -7]);
    expect([...max]).toEqual([3, 5]);
    jsBackend.minMax(Float32Array.of(-9, 0, 0, 0, 0, 0, 0, 10), layout, min, max);
    expect([...min]).toEqual([-9, -7]);
    expect([...max]).toEqual([3, 10]);
    const zeros = new Float32Array(1).fill(Number.POSITIVE_INFINITY);
    const zmax = new Float32Array(1).fill(Number.NEGATIVE_INFINITY);
    jsBackend.minMax(Float32Array.of(-0, -0), perTensorLayout([2]), zeros, zmax);
    expect(Object.is(zeros[0], 0)).toBe(true);
  });

  it('packs int4 results low nibble first and unpacks them back', () => {
    const x = Float32Array.of(1, -2, 7, -8, 3);
    const out = new Uint8Array(3);
    jsBackend.quantize(x, perTensorLayout([5]), Float32Array.of(1), Int32Array.of(0), INT4, out);
    expect([...out]).toEqual([0xe1, 0x87, 0x03]);
    const back = new Float32Array(5);
    jsBackend.dequantize(out, perTensorLayout([5]), Float32Array.of(1), Int32Array.of(0), INT4, back);
    expect([...back]).toEqual([1, -2, 7, -8, 3]);
  });

  it('histogram clamps to the edge bins and skips NaN', () => {
    const counts = new Float64Array(4);
    jsBackend.histogram(Float32Array.of(-5, 0, 0.99, 1, 2, 3.999, 4, 100, Number.NaN), 0, 4, counts);
    expect([...counts]).toEqual([3, 1, 1, 3]);
  });

  it('quantError sums signal and noise', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5);
    const { signal, noise } = jsBackend.quantError(
      x,
      perTensorLayout([5]),
      Float32Array.of(2),
      Int32Array.of(0),
      INT8,
    );
    expect(signal).toBe(55);
    // 1 -> 0 (tie to even), 3 -> 4, 5 -> 4: errors 1, 1, 1.
    expect(noise).toBe(3);
  });
});
