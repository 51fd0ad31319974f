import { Tensor } from '@qgrain/tensor';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  createGraph,
  createModel,
  liftConstants,
  readModel,
  removeIdentities,
  serializeModel,
} from './index.js';
import { realModel } from '@qgrain/test-harness';

/** y = If(cond) then x + [1, 2] else x * 3, each branch holding its constant in a Constant node. */
function ifModel() {
  const thenBranch = createGraph({
    inputs: [],
    outputs: [{ name: 'then_out', dtype: 'float32', shape: [2] }],
    nodes: [
      { opType: 'Constant', inputs: [], outputs: ['k1'], attributes: { value_floats: { floats: [1, 2] } } },
      { opType: 'Add', inputs: ['x', 'k1'], outputs: ['then_out'] },
    ],
  });
  const elseBranch = createGraph({
    inputs: [],
    outputs: [{ name: 'else_out', dtype: 'float32', shape: [2] }],
    nodes: [
      { opType: 'Constant', inputs: [], outputs: ['k2'], attributes: { value_float: { float: 3 } } },
      { opType: 'Mul', inputs: ['x', 'k2'], outputs: ['else_out'] },
    ],
  });
  return createModel({
    opset: 17,
    inputs: [
      { name: 'x', dtype: 'float32', shape: [2] },
      { name: 'cond', dtype: 'bool', shape: [] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
    nodes: [
      { opType: 'Identity', inputs: ['x'], outputs: ['x_copy'] },
      {
        opType: 'If',
        inputs: ['cond'],
        outputs: ['y_if'],
        attributes: { then_branch: thenBranch, else_branch: elseBranch },
      },
      { opType: 'Identity', inputs: ['y_if'], outputs: ['y'] },
    ],
  });
}

async function runIf(bytes: Uint8Array, cond: boolean): Promise<number[]> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({
    x: new ort.Tensor('float32', Float32Array.of(1, 1), [2]),
    cond: new ort.Tensor('bool', Uint8Array.of(cond ? 1 : 0), []),
  });
  await session.release();
  return Array.from(out['y']!.data as Float32Array);
}

describe('graph queries', () => {
  it('sees outer-scope reads of subgraphs as consumers, and orders nodes topologically', () => {
    const model = ifModel();
    const g = model.graph;
    expect(g.consumers('x').map((n) => n.opType)).toEqual(['Identity', 'If']);
    const [thenGraph] = g.subgraphs(g.nodes[1]!);
    expect([...thenGraph!.outerScopeReferences()]).toEqual(['x']);
    expect(model.graphs()).toHaveLength(3);
    // Reverse the file order: topological order puts producers first again, ties in file order.
    g.nodes.reverse();
    expect(g.topologicalOrder().map((n) => n.output[0])).toEqual(['y_if', 'y', 'x_copy']);
  });

  it('finds the sole consumer only when one node reads a value and it is not a graph output', () => {
    const g = ifModel().graph;
    // x: an Identity and the If (through its branches) read it.
    expect(g.soleConsumer('x')).toBeUndefined();
    expect(g.soleConsumer('y_if')?.output).toEqual(['y']);
    // y is a graph output; x_copy has no reader.
    expect(g.soleConsumer('y')).toBeUndefined();
    expect(g.soleConsumer('x_copy')).toBeUndefined();
  });

  it('generates names used nowhere in the model', () => {
    const model = ifModel();
    expect(model.uniqueName('x')).toBe('x_1');
    expect(model.uniqueName('x')).toBe('x_2');
    expect(model.uniqueName('k1')).toBe('k1_1');
  });

  it('removes the initializers nothing reads any more, and only those', () => {
    const model = createModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
      initializers: {
        used: new Tensor('float32', [2], Float32Array.of(1, 2)),
        unused: new Tensor('float32', [2], Float32Array.of(3, 4)),
      },
      nodes: [{ opType: 'Add', inputs: ['x', 'used'], outputs: ['y'] }],
    });
    model.graph.removeUnusedInitializers(['used', 'unused', '', 'x', 'nothing']);
    expect(model.graph.initializers().map((i) => i.name)).toEqual(['used']);
  });

  it('reads and raises the default opset, never lowering it', () => {
    const model = ifModel();
    expect(model.opsetVersion()).toBe(17);
    expect(model.opsetVersion('ai.onnx')).toBe(17);
    expect(model.raiseOpset(13)).toBe(17);
    expect(model.raiseOpset(21)).toBe(21);
    expect(model.opsetVersion()).toBe(21);
  });
});

describe('liftConstants and removeIdentities', () => {
  it('lift Constants inside If branches and drop Identity nodes with the same outputs', async () => {
    const model = ifModel();
    const before = serializeModel(model);
    expect(liftConstants(model)).toBe(2);
    expect(removeIdentities(model)).toBe(2);
    expect(model.graphs().flatMap((g) => g.nodes.map((n) => n.opType))).toEqual(['If', 'Add', 'Mul']);
    const [thenGraph, elseGraph] = model.graph.subgraphs(model.graph.nodes[0]!);
    expect(thenGraph!.initializer('k1')!.toTensor().data).toEqual(Float32Array.of(1, 2));
    expect(elseGraph!.initializer('k2')!.dims).toEqual([]);
    expect(model.graph.outputNames()).toEqual(['y']);
    const after = serializeModel(model);
    for (const cond of [true, false]) expect(await runIf(after, cond)).toEqual(await runIf(before, cond));
    expect(await runIf(after, true)).toEqual([2, 3]);
  });

  it('finds the weights silero-vad keeps inside If subgraphs', async () => {
    const model = await readModel(realModel('silero-vad').path);
    const lifted = liftConstants(model);
    expect(lifted).toBeGreaterThan(0);
    const subgraphWeights = model
      .graphs()
      .filter((g) => g.parent)
      .flatMap((g) => g.initializers())
      .filter((i) => (i.byteLength ?? 0) > 1024);
    expect(subgraphWeights.length).toBeGreaterThan(0);
  });
});

describe('tensors', () => {
  it('reads typed fields (int32_data for float16 and int4, int64_data, double_data) like raw_data', () => {
    const model = createModel({
      opset: 17,
      inputs: [],
      outputs: [],
      nodes: [],
      initializers: { h: new Tensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)) },
    });
    const proto = model.graph.proto.initializer[0]!;
    proto.rawData = new Uint8Array(0);
    proto.int32Data = [0x3c00, 0xc000];
    const init = model.graph.initializer('h')!;
    expect(init.storage).toBe('typed');
    expect(Array.from(init.toTensor().toFloat32())).toEqual([1, -2]);

    proto.dataType = 22; // INT4: one packed byte per int32_data entry, low nibble first
    proto.dims = [3];
    proto.int32Data = [0xf7, 0x08];
    expect(Array.from(init.toTensor().toFloat32())).toEqual([7, -1, -8]);

    proto.dataType = 7; // INT64 beyond 2^53 survives exactly
    proto.dims = [1];
    proto.int32Data = [];
    proto.int64Data = [{ low: -1, high: 0x7fffffff, unsigned: false }];
    expect((init.toTensor().data as BigInt64Array)[0]).toBe(9223372036854775807n);
    const back = createModel({ opset: 17, inputs: [], outputs: [], nodes: [] });
    expect(back.opsetVersion()).toBe(17);
  });
});
