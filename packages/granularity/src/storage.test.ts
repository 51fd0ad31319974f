import { describe, expect, it } from 'vitest';
import { cosineSimilarity, maxAbsError, meanSquaredError, sqnr } from './metrics.js';
import { parseQuantSpec } from './quant-spec.js';
import { storageCost } from './storage.js';

describe('storage cost of a [1024, 1024] float32 weight', () => {
  const shape = [1024, 1024];
  it.each([
    ['int8/per-tensor', 8 + 32 / 1024 ** 2],
    ['int8/per-channel', 8 + 32 / 1024],
    ['uint8/per-tensor', 8 + 40 / 1024 ** 2],
    ['int4/per-block:32', 5],
    ['int4/per-block:32/f16-scale', 4.5],
    ['uint4/per-block:32/f16-scale', 4.625],
    ['int4/per-block:128', 4.25],
  ])('%s costs %f bits per element', (text, bits) => {
    const cost = storageCost(shape, parseQuantSpec(text));
    expect(cost.bitsPerElement).toBeCloseTo(bits, 12);
    expect(cost.totalBits).toBe(cost.valueBits + cost.scaleBits + cost.zeroPointBits);
  });
});

describe('error metrics', () => {
  it('computes SQNR, MSE, cosine and max error', () => {
    const ref = [1, 2, 3, 4];
    const test = [1, 2, 3, 5];
    expect(meanSquaredError(ref, test)).toBe(0.25);
    expect(sqnr(ref, test)).toBeCloseTo(10 * Math.log10(30), 12);
    expect(sqnr(ref, ref)).toBe(Number.POSITIVE_INFINITY);
    expect(maxAbsError(ref, test)).toBe(1);
    expect(cosineSimilarity(ref, ref)).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(() => sqnr([1], [1, 2])).toThrow(/1 and 2 elements/);
  });
});
