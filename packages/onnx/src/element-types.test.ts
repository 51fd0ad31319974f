import { Tensor } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { OnnxDataType, createGraph, createModel, elementTypes } from './index.js';

describe('elementTypes', () => {
  it("types ConstantOfShape by its value and an If's outputs by its branches", () => {
    const branch = (name: string) =>
      createGraph({
        inputs: [],
        outputs: [{ name, dtype: 'float32', shape: [2] }],
        nodes: [{ opType: 'Neg', inputs: ['x'], outputs: [name] }],
      });
    const model = createModel({
      opset: 17,
      inputs: [
        { name: 'x', dtype: 'float32', shape: [2] },
        { name: 'cond', dtype: 'bool', shape: [] },
      ],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
      initializers: { dims: new Tensor('int64', [1], BigInt64Array.of(2n)) },
      nodes: [
        {
          opType: 'ConstantOfShape',
          inputs: ['dims'],
          outputs: ['zeros'],
          attributes: { value: new Tensor('int64', [1], BigInt64Array.of(0n)) },
        },
        { opType: 'ConstantOfShape', inputs: ['dims'], outputs: ['float_zeros'] },
        { opType: 'Add', inputs: ['zeros', 'zeros'], outputs: ['int_sum'] },
        {
          opType: 'If',
          inputs: ['cond'],
          outputs: ['branch'],
          attributes: { then_branch: branch('a'), else_branch: branch('b') },
        },
        { opType: 'Add', inputs: ['branch', 'float_zeros'], outputs: ['y'] },
      ],
    });
    const types = elementTypes(model.graph);
    expect(types.get('zeros')).toBe(OnnxDataType.INT64);
    expect(types.get('int_sum')).toBe(OnnxDataType.INT64);
    expect(types.get('float_zeros')).toBe(OnnxDataType.FLOAT);
    expect(types.get('branch')).toBe(OnnxDataType.FLOAT);
  });
});
