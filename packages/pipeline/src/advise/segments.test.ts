import { createGraph, createModel, serializeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { nodeRunnerFactory } from '../runner/runner.js';
import { cutValues, modelTail } from './segments.js';

/**
 * x -> Relu = a; Sigmoid(a) = side (an output made early); Mul(a, w) = b; If(flag) hands out a
 * (then, read from the outer scope) or b (else) = c; Add(c, b) = d; Neg(d) = y.
 */
function model() {
  const branch = (from: string, out: string) =>
    createGraph({
      graphName: `${out}_graph`,
      inputs: [],
      outputs: [{ name: out, dtype: 'float32', shape: [1, 4] }],
      nodes: [{ opType: 'Identity', inputs: [from], outputs: [out] }],
    });
  return createModel({
    opset: 17,
    inputs: [
      { name: 'x', dtype: 'float32', shape: [1, 4] },
      { name: 'flag', dtype: 'bool', shape: [] },
    ],
    outputs: [
      { name: 'side', dtype: 'float32', shape: [1, 4] },
      { name: 'y', dtype: 'float32', shape: [1, 4] },
    ],
    initializers: { w: new Tensor('float32', [1, 4], Float32Array.of(2, -1, 0.5, 3)) },
    nodes: [
      { name: 'relu', opType: 'Relu', inputs: ['x'], outputs: ['a'] },
      { name: 'sigmoid', opType: 'Sigmoid', inputs: ['a'], outputs: ['side'] },
      { name: 'mul', opType: 'Mul', inputs: ['a', 'w'], outputs: ['b'] },
      {
        name: 'if',
        opType: 'If',
        inputs: ['flag'],
        outputs: ['c'],
        attributes: { then_branch: branch('a', 'then_out'), else_branch: branch('b', 'else_out') },
      },
      { name: 'add', opType: 'Add', inputs: ['c', 'b'], outputs: ['d'] },
      { name: 'neg', opType: 'Neg', inputs: ['d'], outputs: ['y'] },
    ],
  });
}

const x = Float32Array.of(-1, 2, 3, -4);
const a = x.map((v) => Math.max(v, 0));
const b = a.map((v, i) => Math.fround(v * [2, -1, 0.5, 3][i]!));
const t = (data: Float32Array) => new Tensor('float32', [1, 4], data);
const flag = (on: boolean) => new Tensor('bool', [], Uint8Array.of(on ? 1 : 0));

describe('modelTail', () => {
  it('cuts where the tail reads values made before it, subgraph references included', () => {
    const m = model();
    expect(cutValues(m, 0)).toEqual([]);
    // From the If on: it reads a inside its then branch, b in its else branch and Add reads b.
    expect(cutValues(m, 3).sort()).toEqual(['a', 'b']);
    // From the Add on: c and b only.
    expect(cutValues(m, 4).sort()).toEqual(['b', 'c']);
  });

  it('runs from the cut on the values made before it, to the outputs the whole model gives', async () => {
    const m = model();
    const tail = modelTail(m, 3, () => 'float32');
    expect([...tail.cut].sort()).toEqual(['a', 'b']);
    expect(tail.inputs).toEqual(['flag']);
    // `side` comes out of the nodes before the cut, and w is read there only.
    expect(tail.outputs).toEqual(['y']);
    expect(tail.model.graph.initializer('w')).toBeUndefined();
    expect(tail.model.graph.nodes.map((n) => n.name)).toEqual(['if', 'add', 'neg']);
    // The model itself is left whole.
    expect(m.graph.nodes).toHaveLength(6);
    expect(m.graph.initializer('w')).toBeDefined();

    const run = nodeRunnerFactory();
    const whole = await run(serializeModel(m));
    const part = await run(serializeModel(tail.model));
    try {
      for (const on of [true, false]) {
        const full = await whole.run({ x: t(x), flag: flag(on) }, ['y']);
        const cut = await part.run({ a: t(a), b: t(b), flag: flag(on) }, ['y']);
        expect([...cut.y!.toFloat32()]).toEqual([...full.y!.toFloat32()]);
        const c = on ? a : b;
        expect([...cut.y!.toFloat32()]).toEqual([...c.map((v, i) => -Math.fround(v + b[i]!))]);
      }
    } finally {
      await whole.release();
      await part.release();
    }
  });
});
