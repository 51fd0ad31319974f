import { QgrainError } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { formatQuantSpec, parseQuantSpec, quantRangeOf } from './quant-spec.js';
import { qparamsFromRanges } from './qparams.js';

describe('scheme text', () => {
  it.each([
    'int8/per-tensor',
    'int8/per-channel',
    'int8/per-axis:1',
    'int8/per-token',
    'int4/per-block:32',
    'uint8/per-tensor',
    'int4/per-block:64@0',
    'int8/per-row',
    'int8/per-col',
    'int8/per-tensor/asym',
    'uint8/per-tensor/sym',
    'int8/per-channel/narrow+reduce',
    'int4/per-block:32/f16-scale',
    'int6/per-axis:-1',
    'uint16/per-tensor',
  ])('%s parses and formats back to itself', (text) => {
    expect(formatQuantSpec(parseQuantSpec(text))).toBe(text);
  });

  it('fills defaults: signed symmetric, unsigned asymmetric', () => {
    expect(parseQuantSpec('int8/per-channel')).toMatchObject({
      type: { bits: 8, signed: true },
      granularity: { kind: 'per-axis', axis: 'channel' },
      symmetric: true,
      narrowRange: false,
      scaleType: 'float32',
    });
    expect(parseQuantSpec('uint8/per-tensor').symmetric).toBe(false);
    expect(parseQuantSpec('int4/per-block:32').granularity).toEqual({ kind: 'per-block', size: 32 });
  });

  it.each([
    ['int8', /expected <type>\/<granularity>/],
    ['int1/per-tensor', /2 to 16 bits/],
    ['int17/per-tensor', /2 to 16 bits/],
    ['float8/per-tensor', /invalid quantized type 'float8'/],
    ['int8/per-bock:32', /unknown granularity 'per-bock'/],
    ['int8/per-block:0', /at least 1/],
    ['int8/per-block:x', /block size 'x' is not an integer/],
    ['int8/per-axis', /unknown form/],
    ['int8/per-tensor/fast', /unknown option 'fast'/],
    ['uint8/per-tensor/narrow', /narrow range applies to signed types/],
    ['int8//per-tensor', /expected <type>\/<granularity>/],
  ])('rejects %s with a clear message', (text, message) => {
    try {
      parseQuantSpec(text);
      throw new Error('no error');
    } catch (error) {
      expect(QgrainError.isInstance(error)).toBe(true);
      expect((error as QgrainError).code).toBe('invalid-spec');
      expect((error as Error).message).toMatch(message);
    }
  });

  it('gives the integer ranges of narrow and reduced specs', () => {
    expect(quantRangeOf(parseQuantSpec('int8/per-tensor'))).toEqual({
      storage: 'int8',
      qmin: -128,
      qmax: 127,
    });
    expect(quantRangeOf(parseQuantSpec('int8/per-tensor/narrow'))).toEqual({
      storage: 'int8',
      qmin: -127,
      qmax: 127,
    });
    expect(quantRangeOf(parseQuantSpec('uint8/per-tensor/reduce'))).toEqual({
      storage: 'uint8',
      qmin: 0,
      qmax: 127,
    });
    expect(quantRangeOf(parseQuantSpec('int4/per-tensor'))).toEqual({ storage: 'int4', qmin: -8, qmax: 7 });
    expect(quantRangeOf(parseQuantSpec('uint3/per-tensor'))).toEqual({ storage: 'uint4', qmin: 0, qmax: 7 });
    expect(quantRangeOf(parseQuantSpec('int12/per-tensor'))).toEqual({
      storage: 'int16',
      qmin: -2048,
      qmax: 2047,
    });
  });
});

describe('qparams from ranges', () => {
  it('widens to contain zero and makes zero exactly representable', () => {
    const qp = qparamsFromRanges([0.5], [2.5], parseQuantSpec('uint8/per-tensor'), [4]);
    expect(qp.zeroPoint[0]).toBe(0);
    expect(qp.scale[0]).toBe(Math.fround(2.5 / 255));
    const neg = qparamsFromRanges([-1], [3], parseQuantSpec('uint8/per-tensor'), [4]);
    expect(neg.scale[0]).toBe(Math.fround(4 / 255));
    expect(neg.zeroPoint[0]).toBe(Math.round(1 / neg.scale[0]!));
  });

  it('gives symmetric int8 scale = absmax / 127 and zero point 0', () => {
    const qp = qparamsFromRanges([-3, -1], [2, 0.5], parseQuantSpec('int8/per-axis:0'), [2, 8]);
    expect([...qp.scale]).toEqual([Math.fround(3 / 127), Math.fround(1 / 127)]);
    expect([...qp.zeroPoint]).toEqual([0, 0]);
  });

  it('refuses a non-finite range, naming the tensor and the group', () => {
    expect(() =>
      qparamsFromRanges([0, 0], [1, Number.POSITIVE_INFINITY], parseQuantSpec('int8/per-axis:0'), [2, 3], {
        name: 'conv1.weight',
      }),
    ).toThrow(/tensor 'conv1.weight': group 1 has the range \[0, Infinity\]/);
  });

  it('treats an empty group (min > max) as zero and keeps float16 scales representable', () => {
    const qp = qparamsFromRanges(
      [Number.POSITIVE_INFINITY],
      [Number.NEGATIVE_INFINITY],
      parseQuantSpec('int8/per-tensor'),
      [3],
    );
    expect(qp.scale[0]).toBe(1);
    const tiny = qparamsFromRanges([-1e-12], [1e-12], parseQuantSpec('int4/per-tensor/f16-scale'), [3]);
    expect(tiny.scale[0]).toBe(2 ** -24);
  });
});
