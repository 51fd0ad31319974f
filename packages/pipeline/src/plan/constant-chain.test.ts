import { createGraph, createModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { evaluateChain, rowAxisOfSource, traceConstant } from './constant-chain.js';
import { dequantizeSites, graphPath, initializerOwner } from './graph-scope.js';

const ints = (values: number[]) => new Tensor('int64', [values.length], BigInt64Array.from(values, BigInt));

/**
 * PyTorch's LSTM export in miniature, inside an If branch: W is weight_ih [4h, in] (h = 1, in = 2)
 * with its gate rows reordered i, f, g, o -> i, o, f, g by Slice and Concat, and a direction axis
 * added by Unsqueeze. weight_ih lives in the main graph, so the branch reads it from outside.
 */
function lstmExport() {
  const branch = createGraph({
    inputs: [],
    outputs: [{ name: 'w', dtype: 'float32', shape: [1, 4, 2] }],
    initializers: {
      s0: ints([0]),
      s1: ints([1]),
      s3: ints([3]),
      s4: ints([4]),
      axis0: ints([0]),
    },
    nodes: [
      { opType: 'Slice', inputs: ['weight_ih', 's0', 's1', 'axis0'], outputs: ['gate_i'] },
      { opType: 'Slice', inputs: ['weight_ih', 's3', 's4', 'axis0'], outputs: ['gate_o'] },
      { opType: 'Slice', inputs: ['weight_ih', 's1', 's3', 'axis0'], outputs: ['gates_fg'] },
      {
        opType: 'Concat',
        inputs: ['gate_i', 'gate_o', 'gates_fg'],
        outputs: ['reordered'],
        attributes: { axis: 0 },
      },
      { opType: 'Unsqueeze', inputs: ['reordered', 'axis0'], outputs: ['w'] },
    ],
  });
  const other = createGraph({
    inputs: [],
    outputs: [{ name: 'w2', dtype: 'float32', shape: [1, 4, 2] }],
    nodes: [{ opType: 'Unsqueeze', inputs: ['weight_ih', 'zero_axis'], outputs: ['w2'] }],
  });
  return createModel({
    opset: 17,
    inputs: [{ name: 'cond', dtype: 'bool', shape: [] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 4, 2] }],
    initializers: {
      // Row r holds 10r and 10r + 1.
      weight_ih: new Tensor('float32', [4, 2], Float32Array.of(0, 1, 10, 11, 20, 21, 30, 31)),
      zero_axis: ints([0]),
    },
    nodes: [
      {
        opType: 'If',
        name: 'pick',
        inputs: ['cond'],
        outputs: ['y'],
        attributes: { then_branch: branch, else_branch: other },
      },
    ],
  });
}

describe('constant chains', () => {
  it('follows Slice/Concat/Unsqueeze to the outer initializer and computes the weight the op reads', () => {
    const model = lstmExport();
    const branch = model.graphs()[1]!;
    expect(graphPath(branch)).toBe('pick.then_branch');
    const chain = traceConstant(branch, 'w')!;
    expect(chain.sources.map((s) => [s.name, graphPath(s.graph)])).toEqual([['weight_ih', 'main']]);
    expect(chain.nodes.map((n) => n.node.opType).sort()).toEqual([
      'Concat',
      'Slice',
      'Slice',
      'Slice',
      'Unsqueeze',
    ]);
    const value = evaluateChain(branch, 'w', (s) =>
      Float64Array.from(s.graph.initializer(s.name)!.toTensor().toFloat32()),
    );
    expect(value.shape).toEqual([1, 4, 2]);
    expect([...value.data]).toEqual([0, 1, 30, 31, 10, 11, 20, 21]);
  });

  it('finds the source axis that keeps whole gate rows, whatever the chain reorders', () => {
    const model = lstmExport();
    const branch = model.graphs()[1]!;
    const source = traceConstant(branch, 'w')!.sources[0]!;
    expect(rowAxisOfSource(branch, 'w', source)).toBe(0);
    // No chain behind an initializer, nor behind a graph input.
    expect(traceConstant(model.graph, 'weight_ih')).toBeUndefined();
    expect(traceConstant(model.graph, 'cond')).toBeUndefined();
  });

  it('dequantizes an outer initializer in each branch that reads it, and nowhere else', () => {
    const model = lstmExport();
    const owner = initializerOwner(model.graphs()[1]!, 'weight_ih')!;
    expect(graphPath(owner)).toBe('main');
    expect(dequantizeSites(owner, 'weight_ih').map(graphPath)).toEqual([
      'pick.then_branch',
      'pick.else_branch',
    ]);
  });

  it('refuses forged layout parameters with an error naming the node, before allocating', () => {
    const cases: [
      string,
      (node: { inputs: string[]; attributes?: Record<string, number> }) => void,
      RegExp,
    ][] = [
      ['a step of 0', (n) => n.inputs.push('axis0', 'zero'), /step of 0/],
      ['an axis outside the rank', (n) => n.inputs.push('far'), /axes \[9\] outside its rank 2/],
      ['no data input', (n) => (n.inputs[0] = ''), /has no data input/],
      // fuzz finding (seed 7, input 23463): a Slice whose starts input was removed
      ['no starts input', (n) => (n.inputs[1] = ''), /has no starts input/],
    ];
    for (const [what, forge, message] of cases) {
      const slice = { name: 'cut', opType: 'Slice', inputs: ['weight', 's0', 's1'], outputs: ['cut'] };
      forge(slice);
      const model = createModel({
        opset: 13,
        inputs: [],
        outputs: [{ name: 'w', dtype: 'float32', shape: [1, 2] }],
        initializers: {
          weight: new Tensor(
            'float32',
            [4, 2],
            Float32Array.from({ length: 8 }, (_, i) => i),
          ),
          s0: ints([0]),
          s1: ints([1]),
          axis0: ints([0]),
          zero: ints([0]),
          far: ints([9]),
        },
        nodes: [slice, { opType: 'Identity', inputs: ['cut'], outputs: ['w'] }],
      });
      let caught: unknown;
      try {
        evaluateChain(model.graph, 'w', (source) => new Float64Array(source.dims[0]! * source.dims[1]!));
      } catch (error) {
        caught = error;
      }
      expect(caught, what).toMatchObject({ code: 'invalid-model', node: 'cut' });
      expect((caught as Error).message, what).toMatch(message);
    }
  });
});
