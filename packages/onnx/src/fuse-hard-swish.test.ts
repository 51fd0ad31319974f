import { Tensor } from '@qgrain/tensor';
import { assertAllClose, randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type NodeInit, createModel, fuseHardSwishes, serializeModel } from './index.js';

const scalar = (v: number) => new Tensor('float32', [], Float32Array.of(v));

/** x[1, 64] scaled by 4 (values well past -3 and 3), then `nodes` ending in y. */
function model(nodes: NodeInit[], opset = 13, extraOutputs: string[] = []) {
  return createModel({
    opset,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }],
    outputs: ['y', ...extraOutputs].map((name) => ({ name, dtype: 'float32', shape: [1, 64] })),
    initializers: {
      four: scalar(4),
      three: scalar(3),
      two: scalar(2),
      zero: scalar(0),
      five: scalar(5),
      six: scalar(6),
      sixth: scalar(1 / 6),
    },
    nodes: [{ opType: 'Mul', inputs: ['x', 'four'], outputs: ['v'] }, ...nodes],
  });
}

/** v * clip(v + plus, 0, top) scaled by `scale`: the spelled-out HardSwish for 3, 6 and a Div by 6. */
function spelled(
  { plus = 'three', top = 'six', scale = { opType: 'Div', by: 'six' } } = {},
  opset = 13,
): NodeInit[] {
  const clip: NodeInit =
    opset >= 11
      ? { opType: 'Clip', inputs: ['a', 'zero', top], outputs: ['g'] }
      : {
          opType: 'Clip',
          inputs: ['a'],
          outputs: ['g'],
          attributes: { min: { float: 0 }, max: { float: 6 } },
        };
  return [
    { opType: 'Add', inputs: [plus, 'v'], outputs: ['a'] },
    clip,
    { opType: 'Mul', inputs: ['g', 'v'], outputs: ['m'] },
    { opType: scale.opType, inputs: ['m', scale.by], outputs: ['y'] },
  ];
}

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor('float32', randomFloat32(64, 5), [1, 64]) });
  await session.release();
  return out['y']!.data as Float32Array;
}

describe('fuseHardSwishes', () => {
  it.each([
    ['Div by 6, opset 13', spelled(), 13],
    ['Mul by 1/6', spelled({ scale: { opType: 'Mul', by: 'sixth' } }), 13],
    ['Clip ends as attributes, opset 9', spelled({}, 9), 9],
  ] as const)('rewrites %s as v * HardSigmoid(v), the same function', async (_, nodes, opset) => {
    const m = model([...nodes], opset);
    const before = await run(serializeModel(m));
    expect(fuseHardSwishes(m)).toBe(1);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Mul', 'HardSigmoid', 'Mul']);
    expect(m.graph.nodes[2]!.output).toEqual(['y']);
    // The constants only the fused nodes read are gone.
    expect(m.graph.initializer('three')).toBeUndefined();
    assertAllClose(await run(serializeModel(m)), before, { rtol: 1e-5, atol: 1e-6, what: 'fused HardSwish' });
  });

  it.each([
    ['v + 2', spelled({ plus: 'two' })],
    ['clip to 5', spelled({ top: 'five' })],
    ['a Div by 5', spelled({ scale: { opType: 'Div', by: 'five' } })],
    ['6 / m', [...spelled().slice(0, 3), { opType: 'Div', inputs: ['six', 'm'], outputs: ['y'] }]],
  ] as const)('leaves %s alone', (_, nodes) => {
    const m = model([...nodes]);
    const before = serializeModel(m);
    expect(fuseHardSwishes(m)).toBe(0);
    expect(serializeModel(m)).toEqual(before);
  });

  it('leaves it alone when the clip is also a graph output', () => {
    const m = model(spelled(), 13, ['g']);
    expect(fuseHardSwishes(m)).toBe(0);
  });
});
