import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, writeModel } from '@qgrain/onnx';
import { observerFromJSON } from '@qgrain/observers';
import { encodeNpy, readCalibrationCache, readCalibrationState, sha256Hex } from '@qgrain/pipeline';
import { ocrDataPath, realModels } from '@qgrain/test-harness';
import { Tensor } from '@qgrain/tensor';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { type CapturedIO, capturedIO } from '../../test/captured-io.js';
import { reportFailure } from '../exit.js';
import { addCalibrateCommand } from './calibrate.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-cli-calibrate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const rec = realModels().find((m) => m.id === 'ppocr-v4-rec')!.path;
const recData = ocrDataPath('calibration', 'calib_rec.npy.gz');

/** Runs `qgrain calibrate ...` in-process, as main() would: an exit code and the captured streams. */
async function calibrate(args: readonly string[]): Promise<{ code: number; io: CapturedIO }> {
  const io = capturedIO();
  const program = new Command('qgrain').exitOverride().configureOutput({
    writeOut: (text) => io.out(text),
    writeErr: (text) => io.err(text),
  });
  addCalibrateCommand(program, io);
  try {
    await program.parseAsync(['calibrate', ...args], { from: 'user' });
    return { code: 0, io };
  } catch (error) {
    return { code: reportFailure(error, io), io };
  }
}

function writeNpy(name: string, tensor: Tensor): string {
  const path = join(work, name);
  writeFileSync(path, encodeNpy(tensor));
  return path;
}

describe('qgrain calibrate', () => {
  it('calibrates PP-OCRv4 rec on the calibration .npy and writes a cache tied to the model bytes', async () => {
    const output = join(work, 'rec.json');
    const { code, io } = await calibrate([
      rec,
      '--data',
      `x=${recData}`,
      '--method',
      'minmax',
      '--batch-size',
      '16',
      '-o',
      output,
      '--json',
    ]);
    expect(io.stderr()).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(io.stdout());
    expect(summary).toMatchObject({
      output,
      method: 'minmax',
      tensors: 91,
      batches: 3,
      samples: 48,
      passes: 1,
      random: false,
    });
    const modelBytes = new Uint8Array(readFileSync(rec));
    const cache = await readCalibrationCache(output, modelBytes);
    expect(cache.model_sha256).toBe(await sha256Hex(modelBytes));
    expect(Object.keys(cache.tensors)).toHaveLength(91);
  });

  it('exits 1 naming the input and both shapes when the .npy has the wrong shape', async () => {
    const bad = writeNpy(
      'short.npy',
      new Tensor('float32', [2, 3, 32, 320], new Float32Array(2 * 3 * 32 * 320)),
    );
    const { code, io } = await calibrate([rec, '--data', bad, '-o', join(work, 'bad.json')]);
    expect(code).toBe(1);
    expect(io.stdout()).toBe('');
    expect(io.stderr()).toBe(
      `qgrain: input 'x': expected float32 [?, 3, 48, ?], got float32 [2, 3, 32, 320] from ${bad}; axis 2 differs\n`,
    );
  });

  it('exits 1 naming the input, both dtypes and the fix when the .npy has the wrong dtype', async () => {
    const bad = writeNpy(
      'double.npy',
      new Tensor('float64', [2, 3, 48, 320], new Float64Array(2 * 3 * 48 * 320)),
    );
    const { code, io } = await calibrate([rec, '--data', `x=${bad}`, '-o', join(work, 'bad.json')]);
    expect(code).toBe(1);
    expect(io.stderr()).toBe(
      `qgrain: input 'x': expected float32 [?, 3, 48, ?], got float64 [2, 3, 48, 320] from ${bad}; convert the data to float32 (for NumPy: .astype('float32'))\n`,
    );
  });

  it('calibrates on explicit random data with a warning, and flags the cache', async () => {
    const model = createModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
      initializers: { w: new Tensor('float32', [4, 2], Float32Array.of(1, -1, 0.5, 2, -0.25, 0, 1, 1)) },
      nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], name: 'mm' }],
    });
    const path = join(work, 'tiny.onnx');
    await writeModel(model, path);
    const output = join(work, 'tiny.json');
    const { code, io } = await calibrate([path, '--data', 'random:seed=1,count=5', '-o', output]);
    expect(code).toBe(0);
    expect(io.stderr()).toMatch(/^qgrain: warning: using random data \(random \(seed 1\)\)/);
    expect(io.stderr()).toContain(
      `calibrated 2 activations with mse on 5 samples in 5 batches (1 pass); wrote ${output}`,
    );
    const cache = await readCalibrationCache(output, new Uint8Array(readFileSync(path)));
    expect(cache.random).toBe(true);
  });

  it('exits 1 on an unknown method, and 2 when -o is missing', async () => {
    const method = await calibrate([rec, '--data', recData, '--method', 'kl', '-o', join(work, 'm.json')]);
    expect(method.code).toBe(1);
    expect(method.io.stderr()).toMatch(/^qgrain: invalid calibration method 'kl'/);
    const usage = await calibrate([rec, '--data', recData]);
    expect(usage.code).toBe(2);
  });
});

describe('qgrain calibrate --shard and qgrain calibrate merge', () => {
  const SHARDS = 4;
  // 48 lines in batches of 4: 12 batches, 3 per shard.
  const common = ['--data', recData, '--batch-size', '4'];

  async function sharded(method: string): Promise<string[]> {
    const states: string[] = [];
    for (let i = 0; i < SHARDS; i++) {
      const output = join(work, `rec-${method}-state-${i}.json`);
      const { code, io } = await calibrate([
        rec,
        ...common,
        '--method',
        method,
        '--shard',
        `${i}/${SHARDS}`,
        '-o',
        output,
      ]);
      expect(io.stderr()).toBe(
        `qgrain: observed 91 activations with ${method} on shard ${i}/${SHARDS}: 12 samples in batches ${3 * i + 1}-${3 * i + 3} of 12; wrote ${output} (merge every shard's state with qgrain calibrate merge)\n`,
      );
      expect(code).toBe(0);
      states.push(output);
    }
    return states;
  }

  it.each(['minmax', 'mse'])(
    '%s: PP-OCRv4 rec on 4 shards, merged, gives the single-process cache byte for byte',
    async (method) => {
      const single = join(work, `rec-${method}-single.json`);
      expect((await calibrate([rec, ...common, '--method', method, '-o', single])).code).toBe(0);
      const states = await sharded(method);
      const merged = join(work, `rec-${method}-merged.json`);
      // Any order: the states say which shard they are.
      const { code, io } = await calibrate(['merge', ...states.reverse(), '-o', merged]);
      expect(io.stderr()).toBe(
        `qgrain: merged 4 shard states; calibrated 91 activations with ${method} on 48 samples in 12 batches (1 pass); wrote ${merged}\n`,
      );
      expect(code).toBe(0);
      expect(readFileSync(merged, 'utf8')).toBe(readFileSync(single, 'utf8'));
    },
  );

  it('histogram counts of the merged shards equal those of one shard holding all the data', async () => {
    const whole = join(work, 'rec-mse-whole-state.json');
    expect((await calibrate([rec, ...common, '--method', 'mse', '--shard', '0/1', '-o', whole])).code).toBe(
      0,
    );
    const one = await readCalibrationState(whole);
    const states = await Promise.all(
      Array.from({ length: SHARDS }, (_, i) => readCalibrationState(join(work, `rec-mse-state-${i}.json`))),
    );
    expect(states.map((s) => s.shard.index)).toEqual([0, 1, 2, 3]);
    for (const [name, json] of Object.entries(one.observers)) {
      const merged = observerFromJSON(states[0]!.observers[name]);
      for (const state of states.slice(1)) merged.merge(observerFromJSON(state.observers[name]));
      expect(merged.toJSON(), name).toEqual(json);
    }
  });

  it('exits 2 on a malformed shard, and 1 naming the files when a shard is missing or given twice', async () => {
    const bad = await calibrate([rec, ...common, '--shard', '4/4', '-o', join(work, 'x.json')]);
    expect(bad.code).toBe(2);
    expect(bad.io.stderr()).toContain('shard index 4 is not one of 0..3 (shards are numbered from 0)');
    const states = Array.from({ length: SHARDS }, (_, i) => join(work, `rec-minmax-state-${i}.json`));
    const missing = await calibrate([
      'merge',
      states[0]!,
      states[1]!,
      states[3]!,
      '-o',
      join(work, 'x.json'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.io.stderr()).toBe(
      "qgrain: shard 2 of 4 missing: the merged ranges would not cover all the data; give every shard's state\n",
    );
    const twice = await calibrate(['merge', ...states, states[2]!, '-o', join(work, 'x.json')]);
    expect(twice.code).toBe(1);
    expect(twice.io.stderr()).toBe(
      `qgrain: ${states[2]} and ${states[2]} are both shard 2/4; give each shard's state once\n`,
    );
    const noOutput = await calibrate(['merge', ...states]);
    expect(noOutput.code).toBe(2);
  });
});
