import { sqnr } from '@qgrain/granularity';
import { type Model, prepareModel, readModel, serializeModel } from '@qgrain/onnx';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '@qgrain/tensor';
import { realModel, toFloat16Model } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { bindDataSource } from '../data/data-source.js';
import { randomSource } from '../data/random-source.js';
import { feedSourceFromData } from '../calibrate/calibration-cache.js';
import { modelInputSpecs } from '../calibrate/calibrate-model.js';
import { quantize } from '../quantize.js';
import { nodeRunnerFactory } from '../runner/runner.js';

/**
 * How much more the float16 twin may lose to quantization than the float32 model loses to the
 * same quantization, in dB of the state output's SQNR: float16 scales and float16 arithmetic
 * round a little more, and no more than that.
 */
const FLOAT16_EXTRA_LOSS_DB = 3;

/** silero_vad_half, prepared, and made float16 throughout when `half` (the file is float32 despite its name). */
async function silero(half: boolean): Promise<Model> {
  const model = await readModel(realModel('silero-vad-half').path);
  prepareModel(model);
  if (half) toFloat16Model(model);
  return model;
}

/** One 512-sample window of a tone in [-0.5, 0.5] and a zero state. */
function feeds(half: boolean): Record<string, ort.Tensor> {
  const audio = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 7) * 0.5);
  const tensor = (values: Float32Array, shape: number[]) =>
    half
      ? new ort.Tensor('float16', float32ArrayToFloat16(values), shape)
      : new ort.Tensor('float32', values, shape);
  return { input: tensor(audio, [1, 512]), state: tensor(new Float32Array(256), [2, 1, 128]) };
}

/** The recurrent state the model outputs: 256 values that every layer feeds. */
async function state(model: Model, half: boolean): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(serializeModel(model));
  try {
    const out = await session.run(feeds(half));
    const data = out.stateN!.data;
    return half ? float16ArrayToFloat32(data as Uint16Array) : (data as Float32Array);
  } finally {
    await session.release();
  }
}

/** The state output's SQNR after `run` quantizes the float32 model and its float16 twin. */
async function sqnrs(run: (model: Model) => Promise<unknown>): Promise<{ float32: number; float16: number }> {
  const out: Record<string, number> = {};
  for (const half of [false, true]) {
    const reference = await state(await silero(half), half);
    const model = await silero(half);
    await run(model);
    out[half ? 'float16' : 'float32'] = sqnr(reference, await state(model, half));
  }
  return out as { float32: number; float16: number };
}

describe('float16 models (a float16 twin of silero_vad_half)', () => {
  it('static: declared random data calibrates in float32, every Conv weight is int8 with float16 scales, and onnxruntime runs it', async () => {
    const model = await silero(true);
    const run = async (m: Model) => {
      const inputs = modelInputSpecs(m);
      const data = bindDataSource(
        randomSource({ inputs, count: 4, seed: 1, low: -1, high: 1, dims: { sequence: 512 } }),
        inputs,
      );
      return quantize(m, { mode: 'static', data: feedSourceFromData(data), runner: nodeRunnerFactory() });
    };
    const { report } = await run(model);
    expect(report.activations.length).toBeGreaterThan(0);
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    expect(convs).toHaveLength(6);
    for (const conv of convs) {
      const dq = model.graph.producer(conv.input[1]!);
      expect(dq?.opType, conv.name).toBe('DequantizeLinear');
      expect(model.graph.initializer(dq!.input[0]!)?.dtype, conv.name).toBe('int8');
      expect(model.graph.initializer(dq!.input[1]!)?.dtype, conv.name).toBe('float16');
    }
    const db = await sqnrs(run);
    console.log(
      `static: state SQNR float32 ${db.float32.toFixed(1)} dB, float16 twin ${db.float16.toFixed(1)} dB`,
    );
    expect(db.float16).toBeGreaterThan(db.float32 - FLOAT16_EXTRA_LOSS_DB);
  });

  it.each(['weight-only', 'dynamic'] as const)('%s runs in onnxruntime on the float16 twin', async (mode) => {
    const model = await silero(true);
    const { report } = await quantize(model, { mode, weights: 'int8/per-channel' });
    const db = await sqnrs((m) => quantize(m, { mode, weights: 'int8/per-channel' }));
    console.log(
      `${mode}: ${report.weights.length} weights; state SQNR float32 ${db.float32.toFixed(1)} dB, float16 twin ${db.float16.toFixed(1)} dB; notes: ${report.notes.join(' | ')}`,
    );
    if (mode === 'weight-only') expect(report.weights).toHaveLength(8);
    // DynamicQuantizeLSTM is float32 only: the float16 twin keeps its LSTMs, and says so.
    else expect(report.notes.some((n) => /LSTM '.*': kept float \(float16 weights/.test(n))).toBe(true);
    expect(db.float16).toBeGreaterThan(Math.min(db.float32, 60) - FLOAT16_EXTRA_LOSS_DB);
  });
});
