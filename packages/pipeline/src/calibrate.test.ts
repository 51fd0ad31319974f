import { createModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { createObserver } from '@qgrain/observers';
import { describe, expect, it } from 'vitest';
import { type FeedSource, calibrateActivations, exposeTensors } from './calibrate.js';
import { nodeRunnerFactory } from './runner.js';

function model() {
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 64] }],
    initializers: { k: new Tensor('float32', [1], Float32Array.of(-3)) },
    nodes: [
      { opType: 'Mul', inputs: ['x', 'k'], outputs: ['a'] },
      { opType: 'Tanh', inputs: ['a'], outputs: ['b'] },
      { opType: 'Add', inputs: ['a', 'b'], outputs: ['y'] },
    ],
  });
}

const feeds: FeedSource = async function* () {
  for (let i = 0; i < 5; i++)
    yield { x: new Tensor('float32', [1, 64], randomFloat32(64, 40 + i, 'laplace')) };
};

describe('calibrateActivations', () => {
  it.each(['minmax', 'moving-average'])(
    '%s observes in-graph ReduceMin/ReduceMax and gets exactly the ranges of the full tensors',
    async (method) => {
      const m = model();
      const tensors = ['a', 'b', 'y'];
      const fast = await calibrateActivations(m, tensors, feeds, { method, runner: nodeRunnerFactory() });
      // Reference: fetch the tensors whole and feed them to observers of the same kind.
      const session = await ort.InferenceSession.create(exposeTensors(m, tensors));
      const reference = new Map(tensors.map((t) => [t, createObserver(method)]));
      const extremes = new Map<string, [number, number]>();
      for await (const f of feeds()) {
        const out = await session.run(
          { x: new ort.Tensor('float32', f.x!.data as Float32Array, [1, 64]) },
          tensors,
        );
        for (const t of tensors) {
          const d = out[t]!.data as Float32Array;
          reference.get(t)!.observe(d, [1, 64]);
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
    },
  );
});
