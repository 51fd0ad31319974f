import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32,
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from './float16.js';

describe('float16', () => {
  it('every one of the 65536 bit patterns survives f16 -> f32 -> f16 (NaN stays NaN)', () => {
    let nanCount = 0;
    for (let h = 0; h < 0x10000; h++) {
      const f = float16BitsToFloat32(h);
      const back = float32ToFloat16Bits(f);
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) {
        nanCount++;
        expect(Number.isNaN(f)).toBe(true);
        expect((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0).toBe(true);
      } else if (back !== h) {
        throw new Error(`pattern 0x${h.toString(16)} came back as 0x${back.toString(16)}`);
      }
    }
    expect(nanCount).toBe(2 * 1023);
  });

  it('decodes known values, subnormals and infinities', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16BitsToFloat32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(float16BitsToFloat32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
  });

  // Tie cases: the float32 value lies exactly halfway between two float16 neighbours.
  const f16Ties: Array<[string, number, number]> = [
    ['1 + 2^-11 (between 1 and 1+2^-10) -> 1 (even)', 1 + 2 ** -11, 0x3c00],
    ['1 + 3*2^-11 (between 1+2^-10 and 1+2^-9) -> 1+2^-9 (even)', 1 + 3 * 2 ** -11, 0x3c02],
    ['-(1 + 2^-11) -> -1', -(1 + 2 ** -11), 0xbc00],
    ['65520 (between 65504 and 2^16) -> +Inf (even is the carry)', 65520, 0x7c00],
    ['2^-25 (half the smallest subnormal) -> 0', 2 ** -25, 0x0000],
    ['3 * 2^-25 (between 1 and 2 subnormal units) -> 2 units', 3 * 2 ** -25, 0x0002],
    ['5 * 2^-25 (between 2 and 3 units) -> 2 units', 5 * 2 ** -25, 0x0002],
    [
      '2^-14 - 2^-25 (between largest subnormal and smallest normal) -> smallest normal',
      2 ** -14 - 2 ** -25,
      0x0400,
    ],
    ['2049 (between 2048 and 2050) -> 2048', 2049, 0x6800],
    ['2051 (between 2050 and 2052) -> 2052', 2051, 0x6802],
  ];
  it.each(f16Ties)('f32 -> f16 rounds ties to even: %s', (_label, value, expected) => {
    expect(Math.fround(value)).toBe(value);
    expect(float32ToFloat16Bits(value)).toBe(expected);
  });

  it('f32 -> f16 rounds non-ties to nearest and overflows to infinity', () => {
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
    expect(float32ToFloat16Bits(2 ** -26)).toBe(0);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float16ArrayToFloat32(Uint16Array.of(0x3c00, 0x3555))[1]).toBeCloseTo(1 / 3, 3);
  });
});

describe('bfloat16', () => {
  const bfTies: Array<[string, number, number]> = [
    ['1 + 2^-8 (between 1 and 1+2^-7) -> 1', 1 + 2 ** -8, 0x3f80],
    ['1 + 3*2^-8 -> 1 + 2^-6', 1 + 3 * 2 ** -8, 0x3f82],
    ['-(1 + 2^-8) -> -1', -(1 + 2 ** -8), 0xbf80],
    ['max float32 -> +Inf (halfway rounds up to even)', 3.4028234663852886e38, 0x7f80],
  ];
  it.each(bfTies)('f32 -> bf16 rounds ties to even: %s', (_label, value, expected) => {
    expect(float32ToBfloat16Bits(value)).toBe(expected);
  });

  it('keeps NaN a NaN and decodes exactly', () => {
    const nan = float32ToBfloat16Bits(Number.NaN);
    expect(Number.isNaN(bfloat16BitsToFloat32(nan))).toBe(true);
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xff80)).toBe(Number.NEGATIVE_INFINITY);
    for (let h = 0; h < 0x10000; h++) {
      const isNanPattern = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isNanPattern && float32ToBfloat16Bits(bfloat16BitsToFloat32(h)) !== h) {
        throw new Error(`bfloat16 pattern 0x${h.toString(16)} did not round-trip`);
      }
    }
  });
});
