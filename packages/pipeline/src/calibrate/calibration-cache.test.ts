import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Model, createModel, serializeModel } from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { calibrateModel, modelInputSpecs } from './calibrate-model.js';
import {
  CALIBRATION_CACHE_FORMAT,
  type CalibrationCache,
  rangesFromCache,
  sha256Hex,
  validateCalibrationCache,
} from './calibration-cache.js';
import { readCalibrationCache, writeCalibrationCache } from './calibration-cache-files.js';
import { bindDataSource } from '../data/data-source.js';
import { randomSource } from '../data/random-source.js';
import { quantize } from '../quantize.js';
import { nodeRunnerFactory } from '../runner/runner.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-calibration-cache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** x[batch, 4] -> MatMul -> Relu -> y: plans x and the Relu output (fused into the MatMul). */
function tinyModel(): Model {
  const w = Float32Array.from({ length: 12 }, (_, i) => ((i * 7) % 5) / 4 - 0.5);
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }],
    initializers: { w: new Tensor('float32', [4, 3], w) },
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['m'], name: 'matmul' },
      { opType: 'Relu', inputs: ['m'], outputs: ['y'], name: 'relu' },
    ],
  });
}

const SHA_A = 'a'.repeat(64);

function cacheWith(tensors: CalibrationCache['tensors']): CalibrationCache {
  return { format: CALIBRATION_CACHE_FORMAT, model_sha256: SHA_A, method: 'minmax', tensors };
}

describe('sha256Hex', () => {
  it('matches the published digest of "abc"', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('validateCalibrationCache', () => {
  it('accepts per-tensor numbers and per-axis arrays', () => {
    const cache = cacheWith({ a: { min: -1, max: 2 }, b: { min: [0, -1], max: [1, 3] } });
    expect(validateCalibrationCache(cache)).toBe(cache);
  });
  it.each([
    ['a wrong format', { ...cacheWith({}), format: 'qgrain-calibration/2' }, "'format'"],
    ['a short hash', { ...cacheWith({}), model_sha256: 'abc' }, 'model_sha256'],
    ['min above max', cacheWith({ t: { min: 2, max: 1 } }), "tensors['t'] has min 2 > max 1"],
    ['a null bound', cacheWith({ t: { min: null as unknown as number, max: 1 } }), "tensors['t'].min"],
    ['arrays of two lengths', cacheWith({ t: { min: [0, 0], max: [1] } }), 'different lengths'],
    ['a negative batch count', { ...cacheWith({}), batches: -1 }, "'batches'"],
  ])('refuses %s, naming the file', (_, value, words) => {
    expect(() => validateCalibrationCache(value, 'c.json')).toThrow(words);
    expect(() => validateCalibrationCache(value, 'c.json')).toThrow(
      /^c\.json is not a valid calibration cache/,
    );
  });
});

describe('writeCalibrationCache / readCalibrationCache', () => {
  const modelBytes = serializeModel(tinyModel());

  it('round-trips and leaves no temporary file behind', async () => {
    const path = join(work, 'round-trip.json');
    const cache = {
      ...cacheWith({ x: { min: -0.5, max: 1.25 } }),
      model_sha256: await sha256Hex(modelBytes),
    };
    await writeCalibrationCache(path, cache);
    await writeCalibrationCache(path, { ...cache, method: 'mse' });
    expect(readdirSync(work).filter((f) => f.startsWith('round-trip'))).toEqual(['round-trip.json']);
    const read = await readCalibrationCache(path, modelBytes);
    expect(read).toEqual({ ...cache, method: 'mse' });
  });

  it('refuses a cache of another model, naming both files', async () => {
    const path = join(work, 'other.json');
    await writeCalibrationCache(path, cacheWith({ x: { min: 0, max: 1 } }));
    const error = await readCalibrationCache(path, modelBytes, { modelPath: 'tiny.onnx' }).catch(
      (e: unknown) => e,
    );
    expect(QgrainError.isInstance(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toContain('tiny.onnx');
    expect(message).toContain('was made for another model');
  });

  it('refuses a file that is not JSON and a missing file', async () => {
    const path = join(work, 'broken.json');
    writeFileSync(path, '{"format":');
    await expect(readCalibrationCache(path, modelBytes)).rejects.toThrow(
      /broken\.json is not a valid calibration cache: not JSON/,
    );
    await expect(readCalibrationCache(join(work, 'missing.json'), modelBytes)).rejects.toThrow(
      /cannot read calibration cache .*missing\.json/,
    );
  });

  it('fails without leaving a temporary file when the folder does not exist', async () => {
    await expect(writeCalibrationCache(join(work, 'no-such-dir', 'c.json'), cacheWith({}))).rejects.toThrow(
      /cannot write calibration cache/,
    );
  });
});

describe('rangesFromCache', () => {
  it('gives per-tensor numbers, accepting one-entry arrays', () => {
    expect(rangesFromCache(cacheWith({ a: { min: -1, max: 2 }, b: { min: [0], max: [4] } }))).toEqual({
      a: { min: -1, max: 2 },
      b: { min: 0, max: 4 },
    });
  });
  it('refuses per-axis ranges, which per-tensor activations cannot use', () => {
    expect(() => rangesFromCache(cacheWith({ a: { min: [0, 1], max: [1, 2] } }))).toThrow(/2 groups/);
  });
});

describe('a cache feeds static quantize', () => {
  it('gives the same activation scales as calibrating inside quantize', async () => {
    const modelBytes = serializeModel(tinyModel());
    const model = tinyModel();
    const source = () =>
      bindDataSource(
        randomSource({ inputs: modelInputSpecs(model), count: 16, seed: 3, low: -2, high: 3 }),
        modelInputSpecs(model),
        {
          batchSize: 4,
        },
      );
    const cache = await calibrateModel({
      model,
      modelSha256: await sha256Hex(modelBytes),
      source: source(),
      method: 'minmax',
      runner: nodeRunnerFactory(),
    });
    expect(cache.random).toBe(true);
    expect(cache.samples).toBe(16);
    expect(cache.batches).toBe(4);
    expect(Object.keys(cache.tensors).sort()).toEqual(['x', 'y']);
    // uniform [-2, 3) over 64 values: the observed input range is close to it, and exact.
    const x = rangesFromCache(cache)['x']!;
    expect(x.min).toBeGreaterThanOrEqual(-2);
    expect(x.min).toBeLessThan(-1.5);
    expect(x.max).toBeLessThan(3);
    expect(x.max).toBeGreaterThan(2.5);

    const path = join(work, 'tiny.json');
    await writeCalibrationCache(path, cache);
    const fromCache = await quantize(tinyModel(), {
      method: 'minmax',
      ranges: rangesFromCache(await readCalibrationCache(path, modelBytes)),
    });
    const fromData = await quantize(tinyModel(), {
      method: 'minmax',
      data: () => source().samples(),
      runner: nodeRunnerFactory(),
    });
    const scales = (r: typeof fromCache) =>
      Object.fromEntries(r.report.activations.map((a) => [a.tensor, [a.scale, a.zeroPoint]]));
    expect(fromCache.report.activations.map((a) => a.method)).toEqual(['cache', 'cache']);
    expect(scales(fromCache)).toEqual(scales(fromData));
    expect(JSON.parse(readFileSync(path, 'utf8')).format).toBe(CALIBRATION_CACHE_FORMAT);
  });
});
