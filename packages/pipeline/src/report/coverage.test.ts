import { createModel, parseModel, serializeModel } from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { SeededRandom } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import type { FeedSource } from '../calibrate/calibrate.js';
import { emitActivationQdq } from '../emit/emit-qdq.js';
import { nodeRunnerFactory } from '../runner/runner.js';
import { rangeCoverage } from './coverage.js';

const scalar = (v: number) => new Tensor('float32', [], Float32Array.of(v));

/** x -> Mul(x, 3) = c -> Relu = r -> Add(r, 1) = y (graph output). */
function floatModel() {
  return createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2, 3, 8, 8] }],
    initializers: { three: scalar(3), one: scalar(1) },
    nodes: [
      { name: 'mul', opType: 'Mul', inputs: ['x', 'three'], outputs: ['c'] },
      { name: 'relu', opType: 'Relu', inputs: ['c'], outputs: ['r'] },
      { name: 'add', opType: 'Add', inputs: ['r', 'one'], outputs: ['y'] },
    ],
  });
}

/** The ranges the hand-built quantized model holds: scale, zero point, integer limits. */
const RANGES = {
  // [-2.56, 2.54]: the graph input itself.
  x: { scale: 0.02, zeroPoint: 128, storage: 'uint8', qmin: 0, qmax: 255 },
  // [0, 7.65]: read by a Relu only, which saturates at 0, so the low end is open.
  c: { scale: 0.03, zeroPoint: 0, storage: 'uint8', qmin: 0, qmax: 255 },
  // [-0.56, 4.54]: a graph output, which the quantizer renames (y_float -> Q -> DQ -> y).
  y: { scale: 0.02, zeroPoint: -100, storage: 'int8', qmin: -128, qmax: 127 },
} as const;

function quantizedModel() {
  const model = parseModel(serializeModel(floatModel()), { source: 'tiny-qdq.onnx' });
  for (const [name, r] of Object.entries(RANGES))
    emitActivationQdq(model.graph, name, r.scale, r.zeroPoint, r.storage);
  return model;
}

function batches(): Tensor<'float32'>[] {
  const rng = new SeededRandom(11);
  return Array.from(
    { length: 3 },
    () =>
      new Tensor(
        'float32',
        [2, 3, 8, 8],
        Float32Array.from({ length: 384 }, () => 1.6 * rng.normal()),
      ),
  );
}

/**
 * Counted the other way round from rangeCoverage: quantize each value as QuantizeLinear does
 * before it saturates, round(v / s) + zp, and see whether the integer lands past the storage
 * limits. Values the float model computes are recomputed here in float32.
 */
function expected(name: keyof typeof RANGES, data: readonly Tensor<'float32'>[], lowOpen = false) {
  const r = RANGES[name];
  let below = 0;
  let above = 0;
  let elements = 0;
  for (const t of data) {
    for (const x of t.data) {
      const c = Math.fround(x * 3);
      const v = name === 'x' ? x : name === 'c' ? c : Math.fround(Math.max(c, 0) + 1);
      const q = Math.round(v / Math.fround(r.scale)) + r.zeroPoint;
      if (q < r.qmin && !lowOpen) below++;
      if (q > r.qmax) above++;
      elements++;
    }
  }
  return { below, above, elements, share: (below + above) / elements };
}

describe('rangeCoverage', () => {
  it('counts the values outside each calibrated range as an independent count does', async () => {
    const data = batches();
    const feeds: FeedSource = async function* () {
      for (const x of data) yield { x };
    };
    // A budget of one byte puts each intermediate in a pass of its own: the graph input is still
    // counted once.
    const coverage = await rangeCoverage(floatModel(), quantizedModel(), feeds, {
      runner: nodeRunnerFactory(),
      budgetBytes: 1,
      threshold: 0.01,
      minOutside: 1,
    });
    expect(coverage.samples).toBe(3);
    expect(coverage.skipped).toEqual([]);
    const rows = new Map(coverage.rows.map((r) => [r.tensor, r]));
    expect([...rows.keys()].sort()).toEqual(['c', 'x', 'y']);
    for (const name of ['x', 'c', 'y'] as const) {
      const row = rows.get(name)!;
      const want = expected(name, data, name === 'c');
      expect({ name, below: row.below, above: row.above, elements: row.elements }).toEqual({
        name,
        below: want.below,
        above: want.above,
        elements: want.elements,
      });
      expect(row.shareOutside).toBeCloseTo(want.share, 12);
      expect(row.flagged).toBe(want.share > 0.01);
    }
    // The data are wide enough for every range to clip somewhere.
    const x = rows.get('x')!;
    expect(x.below).toBeGreaterThan(0);
    expect(x.above).toBeGreaterThan(0);
    // The scale is stored as float32.
    expect([x.rangeMin, x.rangeMax]).toEqual([-128 * Math.fround(0.02), 127 * Math.fround(0.02)]);
    expect(x.op).toBe('');
    // c's negative half is what its Relu reads as 0: open, not counted, though below the range.
    const c = rows.get('c')!;
    expect(c.openBelow).toBe(true);
    expect(c.saturation).toEqual({ min: 0, by: 'Relu' });
    expect(c.seenMin).toBeLessThan(c.rangeMin);
    expect(c.below).toBe(0);
    expect(expected('c', data).below).toBeGreaterThan(100);
    expect(c.op).toBe('Mul');
    expect(c.node).toBe('mul');
    // The overshoot is the farthest value beyond the range, in range widths.
    const y = rows.get('y')!;
    expect(y.quantizeNode).toBe('y_Q');
    expect(y.maxOvershoot).toBeCloseTo((y.seenMax - y.rangeMax) / (y.rangeMax - y.rangeMin), 9);
    // Worst first.
    const shares = coverage.rows.filter((r) => r.flagged).map((r) => r.shareOutside);
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
    expect(coverage.flagged).toBe(coverage.rows.filter((r) => r.flagged).length);
  });

  it('refuses a model with no calibrated activation range, naming the file', async () => {
    const feeds: FeedSource = async function* () {
      yield { x: batches()[0]! };
    };
    const float = floatModel();
    const noQdq = parseModel(serializeModel(float), { source: 'weight-only.onnx' });
    const error = await rangeCoverage(float, noQdq, feeds, { runner: nodeRunnerFactory() }).catch(
      (e: unknown) => e,
    );
    expect(QgrainError.isInstance(error)).toBe(true);
    expect((error as QgrainError).code).toBe('invalid-argument');
    expect((error as QgrainError).file).toBe('weight-only.onnx');
    expect((error as Error).message).toMatch(/weight-only\.onnx.*needs a statically quantized model/);
  });
});
