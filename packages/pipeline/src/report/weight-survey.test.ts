import { createModel } from '@qgrain/onnx';
import { Tensor, jsBackend } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { PER_CHANNEL_INT8, PER_TENSOR_INT8, channelRanges, surveyWeights } from './weight-survey.js';

describe('channelRanges', () => {
  it('gives the extremes of each index of the channel axis', () => {
    // [2, 3]: channels on axis 1 are the columns.
    const values = Float32Array.of(1, -2, 3, -4, 5, 0.5);
    const cols = channelRanges(values, [2, 3], 1);
    expect([...cols.min]).toEqual([-4, -2, 0.5]);
    expect([...cols.max]).toEqual([1, 5, 3]);
    const rows = channelRanges(values, [2, 3], 0);
    expect([...rows.min]).toEqual([-2, -4]);
    expect([...rows.max]).toEqual([3, 5]);
  });
});

describe('surveyWeights', () => {
  it('finds the per-tensor break on a weight whose channel ranges differ by 100x', () => {
    // Conv weight [2, 1, 1, 4]: channel 1 is 100x wider than channel 0.
    const w = Float32Array.of(0.01, -0.02, 0.03, -0.04, 1, -2, 3, -4);
    const model = createModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2, 1, 1] }],
      initializers: { w: new Tensor('float32', [2, 1, 1, 4], w) },
      nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'conv' }],
    });
    const survey = surveyWeights(model, { backend: jsBackend });
    expect(survey.weights).toHaveLength(1);
    const entry = survey.weights[0]!;
    expect(entry.channelAxis).toBe(0);
    expect(entry.outcomes[PER_CHANNEL_INT8]!.sqnrDb).toBeGreaterThan(entry.outcomes[PER_TENSOR_INT8]!.sqnrDb);
  });
});
