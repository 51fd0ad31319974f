import { createModel } from '@qgrain/onnx';
import { observerFromJSON } from '@qgrain/observers';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { calibrateModel, calibrateShard, modelInputSpecs } from './calibrate-model.js';
import {
  type CalibrationState,
  formatCalibrationState,
  mergeCalibrationStates,
  parseCalibrationState,
  shardBatchRange,
  shardSource,
} from './calibration-state.js';
import { bindDataSource } from '../data/data-source.js';
import { randomSource } from '../data/random-source.js';
import { nodeRunnerFactory } from '../runner/runner.js';

const SHA = 'ab'.repeat(32);
const SAMPLES = 21;
const BATCH = 3;
const SHARDS = 4;

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 1073741824 - 1;
  });
}

// x[batch, 8] -> MatMul -> Relu -> MatMul -> y: three activations to calibrate.
function model() {
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }],
    initializers: {
      w1: new Tensor('float32', [8, 6], seeded(48, 1)),
      w2: new Tensor('float32', [6, 4], seeded(24, 2)),
    },
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'], name: 'mm1' },
      { opType: 'Relu', inputs: ['h'], outputs: ['r'], name: 'relu' },
      { opType: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'], name: 'mm2' },
    ],
  });
}

function options(method: string) {
  const m = model();
  const inputs = modelInputSpecs(m);
  const data = randomSource({ inputs, count: SAMPLES, seed: 5, low: -3, high: 3 });
  return {
    model: m,
    modelSha256: SHA,
    source: bindDataSource(data, inputs, { batchSize: BATCH }),
    method,
    runner: nodeRunnerFactory(),
  };
}

async function shards(method: string, count = SHARDS): Promise<CalibrationState[]> {
  const states: CalibrationState[] = [];
  for (let index = 0; index < count; index++)
    states.push(await calibrateShard({ ...options(method), shard: { index, count } }));
  return states;
}

describe('shardBatchRange', () => {
  it('cuts the batches into contiguous shares that differ by at most one and cover everything', () => {
    const ranges = Array.from({ length: 4 }, (_, index) => shardBatchRange(7, { index, count: 4 }));
    expect(ranges).toEqual([
      { from: 0, to: 1 },
      { from: 1, to: 3 },
      { from: 3, to: 5 },
      { from: 5, to: 7 },
    ]);
  });

  it('refuses an index outside the shard count, naming the option', () => {
    const error = (() => {
      try {
        shardBatchRange(7, { index: 4, count: 4 });
      } catch (e) {
        return e as QgrainError;
      }
    })();
    expect(QgrainError.isInstance(error)).toBe(true);
    expect(error?.option).toBe('shard');
    expect(error?.message).toBe('shard index 4 is not one of 0..3 for 4 shards (shards are numbered from 0)');
  });
});

describe('shardSource', () => {
  it('yields only its batches, counts its samples, and refuses a shard with no batch', async () => {
    const { source } = options('minmax');
    const last = shardSource(source, { index: 3, count: 4 });
    const firsts: number[] = [];
    for await (const batch of last.samples()) firsts.push(batch['x']!.shape[0]!);
    // Batches 5 and 6 of 7: samples 15..20, the last batch full (21 = 7 * 3).
    expect(firsts).toEqual([3, 3]);
    expect(last.count).toBe(6);
    expect(() => shardSource(source, { index: 0, count: 8 })).toThrow(
      'shard 0/8 gets no batch: the data holds 7 batches; use at most 7 shards or smaller batches',
    );
  });
});

describe('mergeCalibrationStates', () => {
  it.each(['minmax', 'mse', 'entropy', 'percentile'])(
    '%s: four shards merged give the single-process cache exactly',
    async (method) => {
      const whole = await calibrateModel(options(method));
      const states = await shards(method);
      expect(states.map((s) => s.batches)).toEqual([1, 2, 2, 2]);
      // Through the text form, as states travel between machines.
      const reread = states
        .reverse()
        .map((s, i) => parseCalibrationState(formatCalibrationState(s), `s${i}`));
      expect(mergeCalibrationStates(reread)).toEqual(whole);
    },
  );

  it('merged histogram observers equal the one-shard (whole data) observers count for count', async () => {
    const [one] = await shards('mse', 1);
    const states = await shards('mse');
    for (const [name, json] of Object.entries(one!.observers)) {
      const merged = observerFromJSON(states[0]!.observers[name]);
      for (const state of states.slice(1)) merged.merge(observerFromJSON(state.observers[name]));
      expect(merged.toJSON()).toEqual(json);
    }
  });

  it('moving-average: merged in shard order, equal to one process up to rounding', async () => {
    const whole = await calibrateModel(options('moving-average'));
    const merged = mergeCalibrationStates((await shards('moving-average')).reverse());
    for (const [name, range] of Object.entries(whole.tensors)) {
      expect(merged.tensors[name]!.min as number).toBeCloseTo(range.min as number, 5);
      expect(merged.tensors[name]!.max as number).toBeCloseTo(range.max as number, 5);
    }
  });

  it('refuses duplicate and missing shards, and states of another model or method', async () => {
    const states = await shards('minmax');
    const origins = states.map((_, i) => `state-${i}.json`);
    expect(() =>
      mergeCalibrationStates([states[0]!, states[1]!, states[1]!, states[3]!], { origins }),
    ).toThrow("state-1.json and state-2.json are both shard 1/4; give each shard's state once");
    expect(() => mergeCalibrationStates([states[0]!, states[3]!])).toThrow(
      "shards 1, 2 of 4 missing: the merged ranges would not cover all the data; give every shard's state",
    );
    const other = { ...states[2]!, model_sha256: 'cd'.repeat(32) };
    expect(() => mergeCalibrationStates([states[0]!, states[1]!, other, states[3]!], { origins })).toThrow(
      /^state-2\.json has model_sha256 "cdcd.*" but state-0\.json has "abab.*"; merge only the shard states of one calibration run$/,
    );
    const mse = (await shards('mse'))[1]!;
    expect(() => mergeCalibrationStates([states[0]!, mse, states[2]!, states[3]!], { origins })).toThrow(
      'state-1.json has method "mse" but state-0.json has "minmax"; merge only the shard states of one calibration run',
    );
  });

  it('says when a file is a merged cache, not a shard state', async () => {
    const cache = await calibrateModel(options('minmax'));
    expect(() => parseCalibrationState(JSON.stringify(cache), 'cache.json')).toThrow(
      `cache.json is not a valid calibration shard state: 'format' is "qgrain-calibration/1", expected 'qgrain-calibration-state/1' (it is a calibration cache, already merged); recreate it by calibrating that shard again`,
    );
  });
});
