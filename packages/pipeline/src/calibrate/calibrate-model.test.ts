import { readFile } from 'node:fs/promises';
import { type Model, prepareModel, readModel, upgradeOpset } from '@qgrain/onnx';
import { ocrDataPath, realModels } from '@qgrain/test-harness';
import { type Backend, QgrainError } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateModel, modelInputSpecs } from './calibrate-model.js';
import {
  type CalibrationCache,
  rangesFromCache,
  sha256Hex,
  validateCalibrationCache,
} from './calibration-cache.js';
import { bindDataSource } from '../data/data-source.js';
import { openDataSource } from '../data/node-files.js';
import { planQuantization } from '../plan/plan.js';
import { nodeRunnerFactory } from '../runner/runner.js';

const METHODS = ['minmax', 'moving-average', 'percentile', 'entropy', 'mse'] as const;
/**
 * The PNG renders reproduce the .npy inputs to ~6e-8 (data/README), so min-max ranges may move by
 * about that much times the layers' gain; 1e-4 of the range is far above that and far below any
 * real difference between two calibration sets.
 */
const NPY_PNG_RELATIVE_TOLERANCE = 1e-4;

interface OcrCase {
  readonly id: 'ppocr-v4-det' | 'ppocr-v4-rec';
  readonly npy: string;
  readonly filter: string;
  readonly preprocess: string;
  readonly batchSize: number;
}

const CASES: readonly OcrCase[] = [
  {
    id: 'ppocr-v4-det',
    npy: 'calib_det.npy.gz',
    filter: 'det_*.png',
    preprocess: 'size=640x640,mean=imagenet,std=imagenet',
    batchSize: 1,
  },
  {
    id: 'ppocr-v4-rec',
    npy: 'calib_rec.npy.gz',
    filter: 'rec_*.png',
    preprocess: 'size=48x320,keep-aspect,pad=0,scale=1/255,mean=0.5,std=0.5',
    batchSize: 8,
  },
];

async function preparedModel(id: OcrCase['id']): Promise<{ model: Model; sha: string }> {
  const path = realModels().find((m) => m.id === id)!.path;
  const model = await readModel(path);
  prepareModel(model);
  return { model, sha: await sha256Hex(new Uint8Array(await readFile(path))) };
}

/** What static quantize plans: prepare, opset 13, planQuantization (computed here independently). */
async function plannedActivations(id: OcrCase['id']): Promise<string[]> {
  const { model } = await preparedModel(id);
  upgradeOpset(model, 13);
  return planQuantization(model).activations.map((a) => a.tensor);
}

function perTensor(cache: CalibrationCache, name: string): { min: number; max: number } {
  return rangesFromCache(cache)[name]!;
}

describe.each(CASES)('calibrateModel on $id with the shared OCR calibration data', (c) => {
  let backend: Backend;
  let planned: string[];
  const byMethod = new Map<string, CalibrationCache>();

  async function calibrate(method: string, data: 'npy' | 'png'): Promise<CalibrationCache> {
    const { model, sha } = await preparedModel(c.id);
    const raw =
      data === 'npy'
        ? await openDataSource(ocrDataPath('calibration', c.npy))
        : await openDataSource(ocrDataPath('calibration', 'images'), {
            preprocess: c.preprocess,
            filter: c.filter,
          });
    const source = bindDataSource(raw, modelInputSpecs(model), { batchSize: c.batchSize });
    return calibrateModel({
      model,
      modelSha256: sha,
      source,
      method,
      runner: nodeRunnerFactory(),
      observer: { backend },
    });
  }

  beforeAll(async () => {
    backend = await selectBackend('auto');
    planned = await plannedActivations(c.id);
  });

  it.each(METHODS)(
    '%s on the .npy gives a finite range for exactly the planned activations',
    async (method) => {
      const cache = await calibrate(method, 'npy');
      byMethod.set(method, cache);
      expect(validateCalibrationCache(JSON.parse(JSON.stringify(cache)))).toEqual(cache);
      expect(Object.keys(cache.tensors).sort()).toEqual([...planned].sort());
      expect(cache.skipped).toBeUndefined();
      expect(cache.random).toBeUndefined();
      expect(cache.samples).toBe(c.id === 'ppocr-v4-det' ? 8 : 48);
      expect(cache.batches).toBe(c.id === 'ppocr-v4-det' ? 8 : 6);
      expect(cache.model_sha256).toMatch(/^[0-9a-f]{64}$/);
      for (const name of planned) {
        const { min, max } = perTensor(cache, name);
        expect(Number.isFinite(min) && Number.isFinite(max), name).toBe(true);
        expect(min, name).toBeLessThanOrEqual(max);
      }
      // Real activations are not all zero: a broken feed (zeros, one sample) would give this.
      expect(planned.filter((n) => perTensor(cache, n).max > perTensor(cache, n).min).length).toBe(
        planned.length,
      );
    },
  );

  it('histogram and moving-average ranges lie inside the min-max range, and some clip it', () => {
    const minmax = byMethod.get('minmax')!;
    for (const method of ['moving-average', 'percentile', 'entropy', 'mse']) {
      const cache = byMethod.get(method)!;
      let clipped = 0;
      for (const name of planned) {
        const outer = perTensor(minmax, name);
        const inner = perTensor(cache, name);
        expect(inner.min, `${method} ${name}`).toBeGreaterThanOrEqual(outer.min);
        expect(inner.max, `${method} ${name}`).toBeLessThanOrEqual(outer.max);
        if (inner.max < outer.max || inner.min > outer.min) clipped++;
      }
      expect(clipped, method).toBeGreaterThan(0);
    }
  });

  it('the PNG folder through the image reader gives the .npy ranges (min-max and percentile)', async () => {
    for (const method of ['minmax', 'percentile']) {
      const fromPng = await calibrate(method, 'png');
      const fromNpy = byMethod.get(method)!;
      expect(fromPng.samples).toBe(fromNpy.samples);
      for (const name of planned) {
        const a = perTensor(fromNpy, name);
        const b = perTensor(fromPng, name);
        const span = Math.max(a.max - a.min, Number.MIN_VALUE);
        expect(Math.abs(a.min - b.min) / span, `${method} ${name} min`).toBeLessThan(
          NPY_PNG_RELATIVE_TOLERANCE,
        );
        expect(Math.abs(a.max - b.max) / span, `${method} ${name} max`).toBeLessThan(
          NPY_PNG_RELATIVE_TOLERANCE,
        );
      }
    }
  });
});

describe('calibrateModel inputs', () => {
  it('refuses an unknown method before running anything', async () => {
    const { model, sha } = await preparedModel('ppocr-v4-rec');
    const source = bindDataSource(
      await openDataSource(ocrDataPath('calibration', 'calib_rec.npy.gz')),
      modelInputSpecs(model),
    );
    let ran = false;
    const error = await calibrateModel({
      model,
      modelSha256: sha,
      source,
      method: 'kl',
      runner: async () => {
        ran = true;
        throw new Error('should not run');
      },
    }).catch((e: unknown) => e);
    expect(QgrainError.isInstance(error) && error.code).toBe('invalid-spec');
    expect(ran).toBe(false);
  });

  it('reads the model inputs with their symbolic and fixed dims', async () => {
    const { model } = await preparedModel('ppocr-v4-rec');
    expect(modelInputSpecs(model)).toEqual([
      { name: 'x', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 3, 48, 'p2o.DynamicDimension.1'] },
    ]);
  });
});
