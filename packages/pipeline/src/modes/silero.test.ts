import { readFileSync } from 'node:fs';
import { type Model, prepareModel, readModel, serializeModel } from '@qgrain/onnx';
import { realModel, vadProbabilities, vadSignals } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { quantize } from '../quantize.js';

/** Windows of 512 samples each signal runs over (issue #19's acceptance: 50). */
const WINDOWS = 50;
/** Largest change of any window's speech probability against the float model (issue #19). */
const PROBABILITY_TOLERANCE = 0.02;
/** Share of the float model's weight bytes that weight-only int8 must quantize (issue #19). */
const MIN_QUANTIZED_SHARE = 0.9;
/** Largest size of the int8 model as a share of the float file (issue #19). */
const MAX_SIZE_SHARE = 0.35;

async function prepared(id: string): Promise<Model> {
  const model = await readModel(realModel(id).path);
  prepareModel(model);
  return model;
}

/** Bytes of every float initializer in every graph: the weights a model could have quantized. */
function floatWeightBytes(model: Model): number {
  return model
    .graphs()
    .flatMap((g) => g.initializers())
    .filter((i) => i.dtype === 'float32' || i.dtype === 'float16')
    .reduce((a, i) => a + (i.byteLength ?? 0), 0);
}

function maxDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

describe.each([
  ['silero-vad-v5', 'mse'],
  ['silero-vad-ifless', 'mse'],
  ['silero-vad-16k-op15', 'rtn'],
] as const)('weight-only int8/per-channel on %s (clip %s)', (id, clip) => {
  it('quantizes the weights inside If bodies and behind layout ops, and keeps the speech probability', async () => {
    const { noise, tone } = vadSignals(WINDOWS);
    const float = serializeModel(await prepared(id));
    const model = await prepared(id);
    const floatWeights = floatWeightBytes(model);
    const { report } = await quantize(model, { mode: 'weight-only', weights: 'int8/per-channel', clip });
    const bytes = serializeModel(model);
    const quantizedShare = report.weights.reduce((a, w) => a + w.bytesBefore, 0) / floatWeights;
    const sizeShare = bytes.byteLength / readFileSync(realModel(id).path).byteLength;
    const drift = {
      noise: maxDifference(await vadProbabilities(float, noise), await vadProbabilities(bytes, noise)),
      tone: maxDifference(await vadProbabilities(float, tone), await vadProbabilities(bytes, tone)),
    };
    const lstm = report.weights.filter((w) => w.op === 'LSTM');
    const names = report.weights.map((w) => w.name);
    console.log(
      `${id}: ${report.weights.length} weights (${lstm.length} LSTM, graphs ${[...new Set(report.weights.map((w) => w.graph))].join(', ')}), ` +
        `${(quantizedShare * 100).toFixed(1)}% of float weight bytes, size ${(sizeShare * 100).toFixed(1)}% of the float file, ` +
        `speech probability drift noise ${drift.noise.toFixed(4)}, tone ${drift.tone.toFixed(4)}`,
    );
    expect(quantizedShare).toBeGreaterThanOrEqual(MIN_QUANTIZED_SHARE);
    expect(sizeShare).toBeLessThanOrEqual(MAX_SIZE_SHARE);
    expect(drift.noise).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
    expect(drift.tone).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
    // The recurrent layer's input and hidden weights are quantized: read by an LSTM node (v5,
    // 16k-op15) or by the Gemm nodes of the LSTM cell spelled out (ifless).
    expect(names.some((n) => n.endsWith('decoder.rnn.weight_ih'))).toBe(true);
    expect(names.some((n) => n.endsWith('decoder.rnn.weight_hh'))).toBe(true);
    if (id !== 'silero-vad-ifless') expect(lstm.length).toBeGreaterThanOrEqual(2);
    expect(report.notes.filter((n) => n.startsWith('no weight quantized'))).toEqual([]);
  });
});

describe('silero-vad-16k-op15 through the other data-free modes', () => {
  it('dynamic: both LSTMs become DynamicQuantizeLSTM over one shared int8 W and R, and the output holds', async () => {
    const { tone } = vadSignals(WINDOWS);
    const float = serializeModel(await prepared('silero-vad-16k-op15'));
    const model = await prepared('silero-vad-16k-op15');
    const { report } = await quantize(model, { mode: 'dynamic' });
    expect(report.weights.map((w) => [w.name, w.kernel, w.nodes.length])).toEqual([
      ['model.decoder.rnn.weight_ih', 'DynamicQuantizeLSTM', 2],
      ['model.decoder.rnn.weight_hh', 'DynamicQuantizeLSTM', 2],
    ]);
    expect(report.notes.some((n) => n.includes('com.microsoft.DynamicQuantizeLSTM'))).toBe(true);
    const bytes = serializeModel(model);
    const ops = model.graphs().flatMap((g) => g.nodes.map((n) => n.opType));
    expect(ops.filter((op) => op === 'DynamicQuantizeLSTM')).toHaveLength(2);
    expect(ops).not.toContain('LSTM');
    const drift = maxDifference(await vadProbabilities(float, tone), await vadProbabilities(bytes, tone));
    expect(drift).toBeLessThanOrEqual(PROBABILITY_TOLERANCE);
  });

  it('int4 blocks: the LSTM weights are cut in blocks of 32 along each gate row, and onnxruntime runs it', async () => {
    const model = await prepared('silero-vad-16k-op15');
    const { report } = await quantize(model, { mode: 'weight-only', weights: 'int4/per-block:32' });
    expect(report.weights.map((w) => w.name).sort()).toEqual([
      'model.decoder.rnn.weight_hh',
      'model.decoder.rnn.weight_ih',
    ]);
    expect(report.weights.every((w) => w.via?.includes('Slice'))).toBe(true);
    const session = await ort.InferenceSession.create(serializeModel(model));
    await session.release();
  });
});
