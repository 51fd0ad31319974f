import { Tensor } from '@qgrain/tensor';
import { assertAllClose, randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type Model, type ModelInit, createModel, foldBatchNorms, serializeModel } from './index.js';

function bnParams(prefix: string, channels: number, seed: number): Record<string, Tensor> {
  const variance = randomFloat32(channels, seed + 3, 'uniform').map((v) => 0.5 + Math.abs(v));
  return {
    [`${prefix}_gamma`]: new Tensor('float32', [channels], randomFloat32(channels, seed)),
    [`${prefix}_beta`]: new Tensor('float32', [channels], randomFloat32(channels, seed + 1)),
    [`${prefix}_mean`]: new Tensor('float32', [channels], randomFloat32(channels, seed + 2)),
    [`${prefix}_var`]: new Tensor('float32', [channels], variance),
  };
}

const bn = (input: string, output: string) => ({
  opType: 'BatchNormalization',
  inputs: [input, 'bn_gamma', 'bn_beta', 'bn_mean', 'bn_var'],
  outputs: [output],
  attributes: { epsilon: 1e-3 },
});

async function run(model: Model, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(serializeModel(model));
  const size = shape.reduce((a, b) => a * b, 1);
  const out = await session.run({ x: new ort.Tensor('float32', randomFloat32(size, 99), shape) });
  await session.release();
  return out['y']!.data as Float32Array;
}

async function expectFolds(init: ModelInit, inputShape: number[]): Promise<Model> {
  const model = createModel(init);
  const expected = await run(createModel(init), inputShape);
  expect(foldBatchNorms(model)).toBe(1);
  expect(model.graph.nodes.map((n) => n.opType)).not.toContain('BatchNormalization');
  assertAllClose(await run(model, inputShape), expected, { rtol: 1e-5, atol: 1e-5, what: 'folded outputs' });
  return model;
}

describe('foldBatchNorms', () => {
  it('folds into a grouped Conv without bias', async () => {
    await expectFolds(
      {
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 6, 6] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6, 4, 4] }],
        initializers: {
          w: new Tensor('float32', [6, 2, 3, 3], randomFloat32(108, 1)),
          ...bnParams('bn', 6, 10),
        },
        nodes: [
          { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: { group: 2 } },
          bn('c', 'y'),
        ],
      },
      [1, 4, 6, 6],
    );
  });

  it('folds into a grouped ConvTranspose (weights [Cin, Cout/group, k, k]) with bias', async () => {
    await expectFolds(
      {
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6, 7, 7] }],
        initializers: {
          w: new Tensor('float32', [4, 3, 3, 3], randomFloat32(108, 2)),
          b: new Tensor('float32', [6], randomFloat32(6, 3)),
          ...bnParams('bn', 6, 20),
        },
        nodes: [
          { opType: 'ConvTranspose', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: { group: 2 } },
          bn('c', 'y'),
        ],
      },
      [1, 4, 5, 5],
    );
  });

  it('folds into Gemm with transB and a broadcast C and beta', async () => {
    const model = await expectFolds(
      {
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: [2, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [2, 6] }],
        initializers: {
          w: new Tensor('float32', [6, 5], randomFloat32(30, 4)),
          c: new Tensor('float32', [1, 6], randomFloat32(6, 5)),
          ...bnParams('bn', 6, 30),
        },
        nodes: [
          {
            opType: 'Gemm',
            inputs: ['x', 'w', 'c'],
            outputs: ['g'],
            attributes: { transB: 1, alpha: 0.5, beta: 2.5 },
          },
          bn('g', 'y'),
        ],
      },
      [2, 5],
    );
    // The old weights are gone: nothing reads them any more.
    expect(
      model.graph
        .initializers()
        .map((i) => i.name)
        .sort(),
    ).toEqual(['c_bn_folded', 'w_bn_folded']);
  });

  it('folds into MatMul + Add on 2-D inputs', async () => {
    await expectFolds(
      {
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: [3, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [3, 6] }],
        initializers: {
          w: new Tensor('float32', [5, 6], randomFloat32(30, 6)),
          b: new Tensor('float32', [6], randomFloat32(6, 7)),
          ...bnParams('bn', 6, 40),
        },
        nodes: [
          { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] },
          { opType: 'Add', inputs: ['m', 'b'], outputs: ['a'] },
          bn('a', 'y'),
        ],
      },
      [3, 5],
    );
  });

  it('leaves a BN alone when another node reads the layer output', () => {
    const model = createModel({
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 4, 4] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: [1, 2, 4, 4] },
        { name: 'r', dtype: 'float32', shape: [1, 2, 4, 4] },
      ],
      initializers: { w: new Tensor('float32', [2, 2, 1, 1], randomFloat32(4, 8)), ...bnParams('bn', 2, 50) },
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
        bn('c', 'y'),
        { opType: 'Relu', inputs: ['c'], outputs: ['r'] },
      ],
    });
    expect(foldBatchNorms(model)).toBe(0);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'BatchNormalization', 'Relu']);
  });
});
