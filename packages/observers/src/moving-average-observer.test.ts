import { perAxis } from '@qgrain/granularity';
import { randomFloat32 } from '@qgrain/test-harness';
import { describe, expect, test } from 'vitest';
import { MovingAverageMinMaxObserver } from './moving-average-observer.js';

function relativeClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(rtol * Math.abs(expected[i]!) + 1e-30);
  }
}

describe('MovingAverageMinMaxObserver', () => {
  const batches = Array.from({ length: 9 }, (_, k) => randomFloat32(4 * 3, 500 + k, 'normal', 1 + (k % 3)));

  test('first batch sets the range, then min += c * (batchMin - min)', () => {
    const o = new MovingAverageMinMaxObserver({ averagingConstant: 0.25 });
    o.observe(Float32Array.of(-1, 2), [2]);
    expect([o.range().min[0], o.range().max[0]]).toEqual([-1, 2]);
    o.observe(Float32Array.of(-5, 6), [2]);
    // -1 + 0.25 * (-5 - -1) = -2 and 2 + 0.25 * (6 - 2) = 3: exact in binary.
    expect([o.range().min[0], o.range().max[0]]).toEqual([-2, 3]);
    // An empty batch leaves the range alone.
    o.observe(new Float32Array(0), [0]);
    expect([o.range().min[0], o.range().max[0]]).toEqual([-2, 3]);
    expect(new MovingAverageMinMaxObserver().method).toBe('moving-average:0.01');
  });

  test('merging consecutive parts in order equals one pass (to float64 rounding)', () => {
    const one = new MovingAverageMinMaxObserver({ granularity: perAxis(1), averagingConstant: 0.1 });
    for (const b of batches) one.observe(b, [4, 3]);
    for (const cut of [1, 4, 8]) {
      const a = new MovingAverageMinMaxObserver({ granularity: perAxis(1), averagingConstant: 0.1 });
      const b = new MovingAverageMinMaxObserver({ granularity: perAxis(1), averagingConstant: 0.1 });
      for (const x of batches.slice(0, cut)) a.observe(x, [4, 3]);
      for (const x of batches.slice(cut)) b.observe(x, [4, 3]);
      a.merge(b);
      relativeClose(a.range().min, one.range().min, 1e-6);
      relativeClose(a.range().max, one.range().max, 1e-6);
      expect(a.batches).toBe(batches.length);
    }
  });

  test("a merge appends the other observer's batches after this one's (the average is order-dependent)", () => {
    const make = (max: number): MovingAverageMinMaxObserver => {
      const o = new MovingAverageMinMaxObserver({ averagingConstant: 0.25 });
      o.observe(Float32Array.of(0, max), [2]);
      return o;
    };
    const ab = make(1);
    ab.merge(make(9)); // 1 then 9: 1 + 0.25 * 8 = 3
    expect(ab.range().max[0]).toBe(3);
    const ba = make(9);
    ba.merge(make(1)); // 9 then 1: 9 - 0.25 * 8 = 7
    expect(ba.range().max[0]).toBe(7);
    ab.merge(make(7)); // 1, 9, 7: 3 + 0.25 * 4 = 4
    expect(ab.range().max[0]).toBe(4);
  });

  test('saved state continues bit for bit', () => {
    const first = new MovingAverageMinMaxObserver({ granularity: perAxis(1) });
    for (const x of batches.slice(0, 5)) first.observe(x, [4, 3]);
    const resumed = MovingAverageMinMaxObserver.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    for (const x of batches.slice(5)) resumed.observe(x, [4, 3]);
    const straight = new MovingAverageMinMaxObserver({ granularity: perAxis(1) });
    for (const x of batches) straight.observe(x, [4, 3]);
    expect(resumed.toJSON()).toEqual(straight.toJSON());
  });
});
