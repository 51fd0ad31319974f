import { perAxis } from '@qgrain/granularity';
import { randomFloat32 } from '@qgrain/test-harness';
import { QgrainError } from '@qgrain/tensor';
import { describe, expect, test } from 'vitest';
import { MinMaxObserver } from './min-max-observer.js';
import { MovingAverageMinMaxObserver } from './moving-average-observer.js';

// Plain per-channel min/max of a [n, c] batch, axis 1, skipping non-finite values.
function naiveColumns(data: Float32Array, columns: number): { min: number[]; max: number[] } {
  const min = new Array<number>(columns).fill(Number.POSITIVE_INFINITY);
  const max = new Array<number>(columns).fill(Number.NEGATIVE_INFINITY);
  data.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const c = i % columns;
    min[c] = Math.min(min[c]!, v);
    max[c] = Math.max(max[c]!, v);
  });
  return { min, max };
}

function catchError(fn: () => void): QgrainError {
  try {
    fn();
  } catch (e) {
    if (QgrainError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a QgrainError');
}

describe('MinMaxObserver', () => {
  const batches = [0, 1, 2, 3, 4].map((k) => randomFloat32(8 * 6, 100 + k, 'laplace', 1 + k));
  const all = new Float32Array(batches.flatMap((b) => Array.from(b)));

  test('per-axis ranges equal a plain loop over all batches', () => {
    const o = new MinMaxObserver({ granularity: perAxis(1) });
    for (const b of batches) o.observe(b, [8, 6]);
    const expected = naiveColumns(all, 6);
    expect(Array.from(o.range().min)).toEqual(expected.min.map(Math.fround));
    expect(Array.from(o.range().max)).toEqual(expected.max.map(Math.fround));
    expect(o.groups).toBe(6);
    expect(o.batches).toBe(5);
  });

  test('merging the halves equals one pass, and saved state continues exactly', () => {
    const one = new MinMaxObserver({ granularity: perAxis(1) });
    for (const b of batches) one.observe(b, [8, 6]);
    const a = new MinMaxObserver({ granularity: perAxis(1) });
    const b = new MinMaxObserver({ granularity: perAxis(1) });
    for (const x of batches.slice(0, 2)) a.observe(x, [8, 6]);
    for (const x of batches.slice(2)) b.observe(x, [8, 6]);
    a.merge(b);
    expect(a.toJSON()).toEqual(one.toJSON());

    const first = new MinMaxObserver({ granularity: perAxis(1), name: 'conv1' });
    for (const x of batches.slice(0, 3)) first.observe(x, [8, 6]);
    const resumed = MinMaxObserver.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    for (const x of batches.slice(3)) resumed.observe(x, [8, 6]);
    const straight = new MinMaxObserver({ granularity: perAxis(1), name: 'conv1' });
    for (const x of batches) straight.observe(x, [8, 6]);
    expect(resumed.toJSON()).toEqual(straight.toJSON());
    expect(resumed.name).toBe('conv1');
  });

  test('NaN is ignored; infinities are ignored and counted', () => {
    const o = new MinMaxObserver();
    o.observe(Float32Array.of(1, Number.NaN, -2, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3), [6]);
    expect(Array.from(o.range().min)).toEqual([-2]);
    expect(Array.from(o.range().max)).toEqual([3]);
    expect(o.nonFiniteCount).toBe(2);
    const again = MinMaxObserver.fromJSON(JSON.parse(JSON.stringify(o.toJSON())));
    expect(again.nonFiniteCount).toBe(2);
  });

  test('all-zero data, a single value, and empty batches', () => {
    const zeros = new MinMaxObserver();
    zeros.observe(new Float32Array(10), [10]);
    expect([zeros.range().min[0], zeros.range().max[0]]).toEqual([0, 0]);

    const single = new MinMaxObserver();
    single.observe(Float32Array.of(-3.5), [1]);
    expect([single.range().min[0], single.range().max[0]]).toEqual([-3.5, -3.5]);

    const empty = new MinMaxObserver({ granularity: perAxis(1) });
    empty.observe(new Float32Array(0), [0, 4]);
    expect(empty.groups).toBe(4);
    expect(Array.from(empty.range().min)).toEqual([Infinity, Infinity, Infinity, Infinity]);
    empty.observe(Float32Array.of(1, 2, 3, 4), [1, 4]);
    expect(Array.from(empty.range().max)).toEqual([1, 2, 3, 4]);
    // Nothing observed at all: a saved blank state reloads as blank.
    const blank = MinMaxObserver.fromJSON(new MinMaxObserver().toJSON());
    expect(blank.range().min[0]).toBe(Number.POSITIVE_INFINITY);
  });

  test('mismatched shapes and kinds give clear QgrainErrors', () => {
    const o = new MinMaxObserver({ granularity: perAxis(1), name: 'x' });
    o.observe(new Float32Array(12), [2, 6]);
    const shapeError = catchError(() => o.observe(new Float32Array(10), [2, 5]));
    expect(shapeError.code).toBe('shape-mismatch');
    expect(shapeError.message).toContain("tensor 'x'");
    expect(shapeError.message).toContain('6');

    const other = new MinMaxObserver({ granularity: perAxis(1) });
    other.observe(new Float32Array(10), [2, 5]);
    expect(catchError(() => o.merge(other)).code).toBe('shape-mismatch');

    const perTensor = new MinMaxObserver();
    expect(catchError(() => o.merge(perTensor)).code).toBe('invalid-argument');
    expect(catchError(() => o.merge(new MovingAverageMinMaxObserver({ granularity: perAxis(1) }))).code).toBe(
      'invalid-argument',
    );
    expect(catchError(() => o.observe(new Float32Array(3), [2, 6])).code).toBe('shape-mismatch');
    expect(catchError(() => new MinMaxObserver({ granularity: { kind: 'per-block', size: 32 } })).code).toBe(
      'unsupported',
    );
  });
});
