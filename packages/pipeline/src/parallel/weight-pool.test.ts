import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Model, createModel, prepareModel, readModel, serializeModel } from '@qgrain/onnx';
import { parseQuantSpec } from '@qgrain/granularity';
import { QgrainError, Tensor, jsBackend } from '@qgrain/tensor';
import { randomFloat32, realModel } from '@qgrain/test-harness';
import { createWasmBackend } from '@qgrain/wasm';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { FeedSource } from '../calibrate/calibrate.js';
import { type QuantizeOptions, quantize } from '../quantize.js';
import { nodeRunnerFactory } from '../runner/runner.js';
import { MIN_PARALLEL_ELEMENTS, openWeightPool } from './weight-pool.js';
import { runWeightTask } from './weight-task.js';

// Workers quantize weights in any order; the mode emits them in plan order, so the bytes (and
// the report, and what onWeightWritten saw) are those of one thread.

async function rec(): Promise<Model> {
  const model = await readModel(realModel('ppocr-v4-rec').path);
  prepareModel(model, { foldBatchNorm: true });
  return model;
}

/** Quantizes a fresh copy with `options`: the model's bytes, the report and the hook's names in order. */
async function quantized(make: () => Model | Promise<Model>, options: QuantizeOptions) {
  const model = await make();
  const handed: string[] = [];
  const { report } = await quantize(model, {
    ...options,
    onWeightWritten: (added) => handed.push(...added.map((i) => i.name)),
  });
  return { bytes: serializeModel(model), report, handed };
}

/** A stack of MatMuls [hidden, 4 * hidden] and back, large enough for a pool to start. */
function stack(hidden: number, layers: number, poisoned?: number): Model {
  const nodes = [];
  const initializers: Record<string, Tensor> = {};
  let x = 'x';
  for (let l = 0; l < 2 * layers; l++) {
    const [k, n] = l % 2 === 0 ? [hidden, 4 * hidden] : [4 * hidden, hidden];
    const values = randomFloat32(k * n, 100 + l);
    if (l === poisoned) values[7] = Number.NaN;
    initializers[`w${l}`] = new Tensor('float32', [k, n], values);
    nodes.push({ opType: 'MatMul', name: `mm${l}`, inputs: [x, `w${l}`], outputs: [`h${l}`] });
    x = `h${l}`;
  }
  return createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, hidden] }],
    outputs: [{ name: x, dtype: 'float32', shape: [1, hidden] }],
    nodes,
    initializers,
  });
}

async function runs(bytes: Uint8Array): Promise<void> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const [name] = session.inputNames;
    const meta = session.inputMetadata[0] as unknown as { shape: readonly (number | string)[] };
    const shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    const size = shape.reduce((a, d) => a * d, 1);
    const out = await session.run({ [name!]: new ort.Tensor('float32', randomFloat32(size, 5), shape) });
    const y = out[session.outputNames[0]!]!.data as Float32Array;
    expect(y.length).toBeGreaterThan(0);
    expect(y.every(Number.isFinite)).toBe(true);
  } finally {
    await session.release();
  }
}

// The models here are small: `minParallelElements: 0` starts the workers anyway.
const PARALLEL = { minParallelElements: 0 } as const;

describe('the weight pool', () => {
  const task = {
    name: 'w',
    spec: parseQuantSpec('int4/per-block:32'),
    shape: [64, 48],
    context: { channelAxis: 1, blockAxis: 0 },
    form: 'qdq',
  } as const;

  it('starts workers only for enough elements, and a worker computes what this thread does', async () => {
    const below = openWeightPool({
      threads: 2,
      backend: jsBackend,
      weights: 3,
      elements: MIN_PARALLEL_ELEMENTS - 1,
    });
    expect(below.window).toBe(1);
    await below.close();
    const pool = openWeightPool({ threads: 2, backend: jsBackend, weights: 3, elements: 10, minElements: 0 });
    try {
      expect(pool.window).toBe(4);
      const values = randomFloat32(64 * 48, 3);
      const here = runWeightTask(values, task, jsBackend);
      const sent = values.slice();
      const there = await pool.run(sent, task, false);
      expect(sent.byteLength).toBe(0); // transferred, not copied
      expect(there).toEqual(here);
      // A view of the model's bytes is copied, and stays whole here.
      const kept = values.slice();
      await pool.run(kept, task, true);
      expect(kept).toEqual(values);
    } finally {
      await pool.close();
    }
  });

  it("hands a worker's QgrainError to the caller and keeps serving", async () => {
    const pool = openWeightPool({ threads: 2, backend: jsBackend, weights: 2, elements: 10, minElements: 0 });
    try {
      const values = randomFloat32(64 * 48, 4);
      values[3] = Number.NaN;
      const error = await pool.run(values.slice(), task, false).catch((e: unknown) => e);
      const expected = (() => {
        try {
          runWeightTask(values, task, jsBackend);
        } catch (e) {
          return e as QgrainError;
        }
      })()!;
      expect(error).toBeInstanceOf(QgrainError);
      expect({ ...(error as QgrainError) }).toEqual({ ...expected });
      expect((error as QgrainError).message).toBe(expected.message);
      values[3] = 0;
      await expect(pool.run(values, task, false)).resolves.toMatchObject({ qp: { shape: [64, 48] } });
    } finally {
      await pool.close();
    }
  });
});

describe('quantizing weights on worker threads', () => {
  it.each([
    ['qdq', 'int4/per-block:32'],
    ['matmulnbits', 'int4/per-block:32'],
    ['qdq', 'int8/per-block:64'],
  ] as const)(
    'PP-OCRv4 rec, weight-only %s %s: threads 2 writes the bytes of threads 1, and runs',
    async (format, weights) => {
      const options = { mode: 'weight-only', weights, format, clip: 'mse', ...PARALLEL } as const;
      const one = await quantized(rec, { ...options, threads: 1 });
      const two = await quantized(rec, { ...options, threads: 2 });
      expect(Buffer.from(two.bytes).equals(Buffer.from(one.bytes))).toBe(true);
      expect(two.report).toEqual(one.report);
      expect(two.handed).toEqual(one.handed);
      await runs(two.bytes);
    },
  );

  it('PP-OCRv4 rec, weight-only per channel (the static path): threads 2 writes the bytes of threads 1', async () => {
    const options = { mode: 'weight-only', weights: 'int8/per-channel', ...PARALLEL } as const;
    const one = await quantized(rec, { ...options, threads: 1 });
    const two = await quantized(rec, { ...options, threads: 2 });
    expect(Buffer.from(two.bytes).equals(Buffer.from(one.bytes))).toBe(true);
    expect(two.report).toEqual(one.report);
    await runs(two.bytes);
  });

  it('PP-OCR cls, static with int32 biases: threads 2 writes the bytes of threads 1, notes included', async () => {
    const cls = async () => {
      const model = await readModel(realModel('ppocr-cls').path);
      prepareModel(model, { foldBatchNorm: true });
      return model;
    };
    const feeds: FeedSource = async function* () {
      for (const seed of [1, 2])
        yield { x: new Tensor('float32', [1, 3, 48, 192], randomFloat32(3 * 48 * 192, seed)) };
    };
    const calibrated = await quantize(await cls(), {
      data: feeds,
      runner: nodeRunnerFactory(),
      method: 'minmax',
    });
    const ranges = Object.fromEntries(
      calibrated.report.activations.map((a) => [a.tensor, { min: a.min, max: a.max }]),
    );
    const one = await quantized(cls, { ranges, ...PARALLEL, threads: 1 });
    const two = await quantized(cls, { ranges, ...PARALLEL, threads: 2 });
    expect(two.report.biases.some((b) => b.quantized)).toBe(true);
    expect(Buffer.from(two.bytes).equals(Buffer.from(one.bytes))).toBe(true);
    expect(two.report).toEqual(one.report);
    await runs(two.bytes);
  });

  it('a transformer-like MatMul stack with the WASM backend: the same bytes on 1, 2 and 3 threads', async () => {
    const backend = await createWasmBackend();
    const options = { mode: 'weight-only', backend, ...PARALLEL } as const;
    const one = await quantized(() => stack(256, 4), { ...options, threads: 1 });
    for (const threads of [2, 3]) {
      const many = await quantized(() => stack(256, 4), { ...options, threads });
      expect(Buffer.from(many.bytes).equals(Buffer.from(one.bytes))).toBe(true);
      expect(many.handed).toEqual(one.handed);
    }
    await runs(one.bytes);
  });

  it('a NaN weight is refused naming it, with the error one thread throws, after the same earlier weights', async () => {
    const failure = async (threads: number) => {
      const handed: string[] = [];
      const error = await quantize(stack(256, 4, 5), {
        mode: 'weight-only',
        threads,
        ...PARALLEL,
        onWeightWritten: (added) => handed.push(...added.map((i) => i.name)),
      }).catch((e: unknown) => e);
      return { error: error as QgrainError, handed };
    };
    const one = await failure(1);
    const two = await failure(2);
    expect(QgrainError.isInstance(one.error)).toBe(true);
    expect(one.error.message).toContain("'w5'");
    expect(two.error).toBeInstanceOf(QgrainError);
    expect({ ...two.error, message: two.error.message }).toEqual({
      ...one.error,
      message: one.error.message,
    });
    expect(two.handed).toEqual(one.handed);
  });

  it('a process whose workers met a NaN weight ends by itself, with the error', () => {
    const script = fileURLToPath(new URL('../../test/nan-weight-threads.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.signal).toBeNull(); // not killed at the timeout: nothing kept it alive
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^non-finite-range: .*'w2'/);
  });

  it('refuses a threads value that is not a whole number of at least 1', async () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      await expect(quantize(stack(16, 1), { mode: 'weight-only', threads })).rejects.toMatchObject({
        code: 'invalid-argument',
        option: 'threads',
      });
    }
  });
});
