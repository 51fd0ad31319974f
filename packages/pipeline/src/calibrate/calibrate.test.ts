import { createModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { createObserver } from '@qgrain/observers';
import { describe, expect, it } from 'vitest';
import { type FeedSource, calibrateActivations, exposeTensors } from './calibrate.js';
import { nodeRunnerFactory } from '../runner/runner.js';

// Rank 3, so the two-stage reductions (last axis, then the rest) have rows to reduce.
const SHAPE = [2, 4, 8];

function model(opset: number) {
  return createModel({
    opset,
    inputs: [{ name: 'x', dtype: 'float32', shape: SHAPE }],
    outputs: [{ name: 'y', dtype: 'float32', shape: SHAPE }],
    initializers: { k: new Tensor('float32', [1], Float32Array.of(-3)) },
    nodes: [
      { opType: 'Mul', inputs: ['x', 'k'], outputs: ['a'] },
      { opType: 'Tanh', inputs: ['a'], outputs: ['b'] },
      { opType: 'Add', inputs: ['a', 'b'], outputs: ['y'] },
    ],
  });
}

const feeds: FeedSource = async function* () {
  for (let i = 0; i < 5; i++) yield { x: new Tensor('float32', SHAPE, randomFloat32(64, 40 + i, 'laplace')) };
};

describe('calibrateActivations', () => {
  // Opset 18 takes the reduction axes as an input, earlier opsets as an attribute.
  it.each([
    ['minmax', 13],
    ['moving-average', 13],
    ['minmax', 18],
  ] as const)(
    '%s at opset %i observes in-graph ReduceMin/ReduceMax and gets exactly the ranges of the full tensors',
    async (method, opset) => {
      const m = model(opset);
      const tensors = ['a', 'b', 'y'];
      const fast = await calibrateActivations(m, tensors, feeds, { method, runner: nodeRunnerFactory() });
      // Reference: fetch the tensors whole and feed them to observers of the same kind.
      const session = await ort.InferenceSession.create(exposeTensors(m, tensors));
      const reference = new Map(tensors.map((t) => [t, createObserver(method)]));
      const extremes = new Map<string, [number, number]>();
      for await (const f of feeds()) {
        const out = await session.run(
          { x: new ort.Tensor('float32', f.x!.data as Float32Array, SHAPE) },
          tensors,
        );
        for (const t of tensors) {
          const d = out[t]!.data as Float32Array;
          reference.get(t)!.observe(d, SHAPE);
          const [lo, hi] = extremes.get(t) ?? [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
          extremes.set(t, [Math.min(lo, ...d), Math.max(hi, ...d)]);
        }
      }
      for (const t of tensors) {
        expect(fast.observers.get(t)!.range()).toEqual(reference.get(t)!.range());
        if (method === 'minmax') {
          const [lo, hi] = extremes.get(t)!;
          expect(fast.observers.get(t)!.range().min[0]).toBe(Math.fround(lo));
          expect(fast.observers.get(t)!.range().max[0]).toBe(Math.fround(hi));
        }
      }
      // The calibration model fetched the tensors' extremes, and the model itself is unchanged.
      expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Mul', 'Tanh', 'Add']);
      expect(m.graph.outputNames()).toEqual(['y']);
      expect(m.graph.initializers().map((i) => i.name)).toEqual(['k']);
    },
  );
});
