import { Tensor } from '@qgrain/tensor';
import { assertAllClose, randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  type Model,
  type ModelInit,
  createModel,
  foldChannelAffines,
  prepareModel,
  serializeModel,
} from './index.js';

async function run(model: Model, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(serializeModel(model));
  const size = shape.reduce((a, b) => a * b, 1);
  const out = await session.run({ x: new ort.Tensor('float32', randomFloat32(size, 77), shape) });
  await session.release();
  return out['y']!.data as Float32Array;
}

/** Folds, checks the count and the op types left, and that onnxruntime computes the same `y`. */
async function expectFolds(
  init: ModelInit,
  inputShape: number[],
  count: number,
  left: string[],
): Promise<Model> {
  const model = createModel(init);
  const expected = await run(createModel(init), inputShape);
  expect(foldChannelAffines(model)).toBe(count);
  expect(model.graph.nodes.map((n) => n.opType)).toEqual(left);
  assertAllClose(await run(model, inputShape), expected, { rtol: 1e-5, atol: 1e-5, what: 'folded outputs' });
  return model;
}

const conv = (channels: number, inputs: number, seed: number) => ({
  w: new Tensor('float32', [channels, inputs, 3, 3], randomFloat32(channels * inputs * 9, seed)),
  b: new Tensor('float32', [channels], randomFloat32(channels, seed + 1)),
});

describe('foldChannelAffines', () => {
  it('folds a per-channel Mul and a scalar Add after a Conv (a learnable affine block)', async () => {
    const model = await expectFolds(
      {
        opset: 13,
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 6, 6] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 4, 4] }],
        initializers: {
          ...conv(4, 3, 1),
          scale: new Tensor('float32', [4, 1, 1], Float32Array.of(0.5, -2, 3, 1.25)),
          shift: new Tensor('float32', [1], Float32Array.of(0.75)),
        },
        nodes: [
          { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'] },
          { opType: 'Mul', inputs: ['scale', 'c'], outputs: ['m'] },
          { opType: 'Add', inputs: ['m', 'shift'], outputs: ['y'] },
        ],
      },
      [1, 3, 6, 6],
      2,
      ['Conv'],
    );
    // The Conv writes the last folded node's output; the constants it folded are gone.
    expect(model.graph.nodes[0]!.output).toEqual(['y']);
    expect(
      model.graph
        .initializers()
        .map((i) => i.name)
        .sort(),
    ).toEqual(['b_folded', 'w_folded']);
  });

  it('folds Sub of a constant into a Conv without bias, and a [1, C, 1, 1] Mul into a grouped ConvTranspose', async () => {
    await expectFolds(
      {
        opset: 13,
        inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4, 5, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [1, 6, 5, 5] }],
        initializers: {
          w: new Tensor('float32', [4, 4, 1, 1], randomFloat32(16, 3)),
          k: new Tensor('float32', [1, 4, 1, 1], randomFloat32(4, 4)),
          t: new Tensor('float32', [4, 3, 3, 3], randomFloat32(108, 5)),
          s: new Tensor('float32', [1, 6, 1, 1], randomFloat32(6, 6)),
        },
        nodes: [
          { opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'] },
          { opType: 'Sub', inputs: ['c', 'k'], outputs: ['d'] },
          {
            opType: 'ConvTranspose',
            inputs: ['d', 't'],
            outputs: ['e'],
            attributes: { group: 2, pads: [1, 1, 1, 1] },
          },
          { opType: 'Mul', inputs: ['e', 's'], outputs: ['y'] },
        ],
      },
      [1, 4, 5, 5],
      2,
      ['Conv', 'ConvTranspose'],
    );
  });

  it('folds an Add then a Mul along the columns of a Gemm (the shift is scaled too)', async () => {
    await expectFolds(
      {
        opset: 13,
        inputs: [{ name: 'x', dtype: 'float32', shape: [3, 5] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [3, 6] }],
        initializers: {
          w: new Tensor('float32', [6, 5], randomFloat32(30, 7)),
          c: new Tensor('float32', [6], randomFloat32(6, 8)),
          k: new Tensor('float32', [6], randomFloat32(6, 13)),
          m: new Tensor('float32', [1, 6], randomFloat32(6, 9)),
        },
        nodes: [
          { opType: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['g'], attributes: { transB: 1, beta: 0.5 } },
          { opType: 'Add', inputs: ['g', 'k'], outputs: ['a'] },
          { opType: 'Mul', inputs: ['a', 'm'], outputs: ['y'] },
        ],
      },
      [3, 5],
      2,
      ['Gemm'],
    );
  });

  it('leaves what would change the function: a constant along H, a second reader, a runtime operand, c - x', async () => {
    const model = createModel({
      opset: 13,
      inputs: [
        { name: 'x', dtype: 'float32', shape: [1, 3, 6, 6] },
        { name: 'z', dtype: 'float32', shape: [1] },
      ],
      outputs: [
        { name: 'y1', dtype: 'float32', shape: [1, 4, 4, 4] },
        { name: 'y2', dtype: 'float32', shape: [1, 4, 4, 4] },
        { name: 'y3', dtype: 'float32', shape: [1, 4, 4, 4] },
        { name: 'y4', dtype: 'float32', shape: [1, 4, 4, 4] },
        { name: 'r', dtype: 'float32', shape: [1, 4, 4, 4] },
      ],
      initializers: {
        ...conv(4, 3, 10),
        rows: new Tensor('float32', [4, 1], randomFloat32(4, 11)),
        one: new Tensor('float32', [1], Float32Array.of(1)),
      },
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c1'] },
        { opType: 'Mul', inputs: ['c1', 'rows'], outputs: ['y1'] },
        { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c2'] },
        { opType: 'Add', inputs: ['c2', 'one'], outputs: ['y2'] },
        { opType: 'Relu', inputs: ['c2'], outputs: ['r'] },
        { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c3'] },
        { opType: 'Mul', inputs: ['c3', 'z'], outputs: ['y3'] },
        { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c4'] },
        { opType: 'Sub', inputs: ['one', 'c4'], outputs: ['y4'] },
      ],
    });
    const before = serializeModel(model);
    expect(foldChannelAffines(model)).toBe(0);
    expect(serializeModel(model)).toEqual(before);
  });

  it('runs in prepareModel after BatchNorm folding, and can be turned off', () => {
    const init: ModelInit = {
      opset: 13,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 6, 6] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 4, 4] }],
      initializers: { ...conv(4, 3, 12), a: new Tensor('float32', [], Float32Array.of(2)) },
      nodes: [
        { opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'] },
        { opType: 'Mul', inputs: ['c', 'a'], outputs: ['y'] },
      ],
    };
    const folded = createModel(init);
    expect(prepareModel(folded).affinesFolded).toBe(1);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(['Conv']);
    const kept = createModel(init);
    expect(prepareModel(kept, { foldAffine: false }).affinesFolded).toBe(0);
    expect(kept.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Mul']);
  });
});
