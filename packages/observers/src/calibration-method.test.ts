import { perAxis, qparamsFromRanges, quantSpec } from '@qgrain/granularity';
import { randomFloat32 } from '@qgrain/test-harness';
import { QgrainError } from '@qgrain/tensor';
import { describe, expect, test } from 'vitest';
import { formatCalibrationMethod, parseCalibrationMethod } from './calibration-method.js';
import { createObserver, observerFromJSON } from './create-observer.js';
import { qparamsFromObserver } from './observer-qparams.js';

describe('parseCalibrationMethod', () => {
  test.each([
    ['minmax', { kind: 'minmax' }],
    ['moving-average', { kind: 'moving-average', averagingConstant: 0.01 }],
    ['moving-average:0.05', { kind: 'moving-average', averagingConstant: 0.05 }],
    ['percentile', { kind: 'percentile', percentile: 99.999 }],
    ['percentile:99.99', { kind: 'percentile', percentile: 99.99 }],
    ['entropy', { kind: 'entropy' }],
    ['mse', { kind: 'mse' }],
  ])('%s', (text, expected) => {
    const method = parseCalibrationMethod(text);
    expect(method).toEqual(expected);
    expect(parseCalibrationMethod(formatCalibrationMethod(method))).toEqual(method);
  });

  test.each([
    'max',
    'percentile:',
    'percentile:101',
    'percentile:abc',
    'moving-average:0',
    'entropy:3',
    'mse:1:2',
  ])('rejects %s with an invalid-spec error naming the forms', (text) => {
    try {
      parseCalibrationMethod(text);
      expect.unreachable();
    } catch (e) {
      expect(QgrainError.isInstance(e) && e.code).toBe('invalid-spec');
      expect((e as Error).message).toContain('percentile[:P]');
    }
  });
});

describe('createObserver and observerFromJSON', () => {
  const x = randomFloat32(4 * 8, 11, 'laplace');

  test.each(['minmax', 'moving-average:0.2', 'percentile:99.9', 'entropy', 'mse'])(
    '%s round-trips',
    (method) => {
      const o = createObserver(method, { name: 'act' });
      o.observe(x, [4, 8]);
      expect(o.method).toBe(formatCalibrationMethod(parseCalibrationMethod(method)));
      const back = observerFromJSON(JSON.parse(JSON.stringify(o.toJSON())));
      expect(back.kind).toBe(o.kind);
      expect(back.method).toBe(o.method);
      expect(back.range()).toEqual(o.range());
    },
  );

  test('qparamsFromObserver equals qparamsFromRanges on the observed range', () => {
    const o = createObserver('minmax', { granularity: perAxis(1) });
    o.observe(x, [4, 8]);
    const spec = quantSpec('int8', 'per-axis:1');
    const viaObserver = qparamsFromObserver(o, spec);
    const direct = qparamsFromRanges(o.range().min, o.range().max, spec, [4, 8]);
    expect(Array.from(viaObserver.scale)).toEqual(Array.from(direct.scale));
    expect(Array.from(viaObserver.zeroPoint)).toEqual(Array.from(direct.zeroPoint));
    expect(viaObserver.scaleShape).toEqual([8]);
  });

  test('qparamsFromObserver needs a shape, and group counts must agree', () => {
    const spec = quantSpec('uint8', 'per-tensor');
    expect(() => qparamsFromObserver(createObserver('entropy'), spec)).toThrow(/has seen no batch/);
    const o = createObserver('minmax', { granularity: perAxis(1) });
    o.observe(x, [4, 8]);
    expect(() => qparamsFromObserver(o, spec)).toThrow(/1 groups, but 8 minima/);
  });
});
