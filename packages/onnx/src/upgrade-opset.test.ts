import { SeededRandom } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { getAttribute } from './attributes.js';
import { type ValueInit, createModel } from './builder.js';
import { serializeModel } from './serialize.js';
import { upgradeOpset } from './upgrade-opset.js';

const REDUCE_OPS = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL2', 'ReduceSumSquare'] as const;

/** A chain of Reduce nodes at opset 13, where their axes are still attributes. */
function reduceModel() {
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3, 5] }],
    outputs: [
      ...REDUCE_OPS.map((op): ValueInit => ({ name: op, dtype: 'float32', shape: [2, 3, 1] })),
      { name: 'all', dtype: 'float32', shape: [] },
    ],
    nodes: [
      ...REDUCE_OPS.map((op) => ({
        name: `${op}_node`,
        opType: op,
        inputs: ['x'],
        outputs: [op],
        attributes: { axes: [-1], keepdims: 1 },
      })),
      // No axes: reduces over every axis, before and after the rewrite.
      {
        name: 'mean_all',
        opType: 'ReduceMean',
        inputs: ['x'],
        outputs: ['all'],
        attributes: { keepdims: 0 },
      },
    ],
  });
}

async function runAll(bytes: Uint8Array, x: Float32Array): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [2, 3, 5]) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe('upgradeOpset: the Reduce family at opset 18', () => {
  it('moves axes to an input, and onnxruntime computes the same values before and after', async () => {
    const rng = new SeededRandom(3);
    const x = Float32Array.from({ length: 30 }, () => rng.normal());
    const model = reduceModel();
    const before = await runAll(serializeModel(model), x);

    const upgrade = upgradeOpset(model, 21);
    expect(upgrade.rewritten).toMatchObject({ ReduceMean: 2, ReduceMax: 1, ReduceMin: 1 });
    for (const node of model.graph.nodes) {
      expect(getAttribute(node, 'axes'), node.name).toBeUndefined();
      // A node that had axes now reads them from input 1; one that had none reads none.
      expect(node.input.length, node.name).toBe(node.name === 'mean_all' ? 1 : 2);
    }
    const after = await runAll(serializeModel(model), x);
    for (const name of Object.keys(before)) expect(after[name], name).toEqual(before[name]);
    expect(Number(model.proto.irVersion)).toBe(10);
  });

  it('leaves a model already past opset 18 alone', () => {
    const model = reduceModel();
    model.raiseOpset(18);
    const node = model.graph.nodes[0]!;
    upgradeOpset(model, 21);
    // Past 18 the attribute form is already invalid; the upgrade must not touch what it cannot know.
    expect(getAttribute(node, 'axes')).toBeDefined();
  });
});

describe('upgradeOpset refusals', () => {
  it('names the file and the node it cannot rewrite, as typed fields', () => {
    // Upsample was deprecated at opset 10 and has no rewrite: raising past it must refuse.
    const model = createModel({
      opset: 9,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 2, 2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 1, 4, 4] }],
      nodes: [
        {
          name: 'up',
          opType: 'Upsample',
          inputs: ['x'],
          outputs: ['y'],
          attributes: { scales: [1, 1, 2, 2] },
        },
      ],
    });
    let caught: unknown;
    try {
      upgradeOpset(model, 13);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'unsupported', node: 'up', value: 'Upsample', file: model.source });
    expect((caught as Error).message).toMatch(
      /node 'up' \(Upsample\) changes meaning between opset 9 and 13/,
    );
  });
});
