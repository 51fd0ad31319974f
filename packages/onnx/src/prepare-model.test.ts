import { readFileSync } from 'node:fs';
// Test only, and undeclared on purpose: @qgrain/pipeline depends on this package, so it cannot be
// a dependency of it; the workspace's vitest aliases resolve it to its sources. Its .npy reader
// is the repository's only one.
import { decodeNpy, gunzipBytes } from '@qgrain/pipeline';
import { ocrDataPath, realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type Model, prepareModel, readModel, serializeModel } from './index.js';

/** Largest |a - b| over the largest |b|: the relative error the brief bounds at 1e-4. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

// Folding reorders float32 arithmetic (x * (w * s) instead of (x * w) * s), so outputs move by a few ulps.
const FOLD_TOLERANCE = 1e-4;

async function run(bytes: Uint8Array, input: { shape: number[]; data: Float32Array }): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({
      [session.inputNames[0]!]: new ort.Tensor('float32', input.data, input.shape),
    });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** BatchNorms that still sit right after a foldable layer whose output only they read. */
function foldableBatchNorms(model: Model): number {
  let count = 0;
  for (const graph of model.graphs()) {
    for (const node of graph.nodes) {
      if (node.opType !== 'BatchNormalization') continue;
      const producer = graph.producer(node.input[0]!);
      if (
        producer &&
        ['Conv', 'ConvTranspose', 'Gemm'].includes(producer.opType) &&
        graph.consumers(node.input[0]!).length === 1
      ) {
        count++;
      }
    }
  }
  return count;
}

/** The first `count` samples of a float32 array of the OCR calibration set. */
function calibrationSamples(file: string, count: number): { shape: number[]; data: Float32Array } {
  const path = ocrDataPath('calibration', file);
  const all = decodeNpy(gunzipBytes(readFileSync(path), path), path).tensor();
  const per = all.size / all.shape[0]!;
  return { shape: [count, ...all.shape.slice(1)], data: (all.data as Float32Array).slice(0, count * per) };
}

function cropWidth(input: { shape: number[]; data: Float32Array }, width: number) {
  const [n, c, h, w] = input.shape as [number, number, number, number];
  const out = new Float32Array(n * c * h * width);
  for (let row = 0; row < n * c * h; row++)
    out.set(input.data.subarray(row * w, row * w + width), row * width);
  return { shape: [n, c, h, width], data: out };
}

describe('prepareModel on PP-OCR models with real text images', () => {
  const rec = calibrationSamples('calib_rec.npy.gz', 3);
  const det = calibrationSamples('calib_det.npy.gz', 1);
  const cases = [
    { id: 'ppocr-v4-det', input: det, minFolded: 1 },
    { id: 'ppocr-v4-rec', input: rec, minFolded: 1 },
    { id: 'ppocr-cls', input: cropWidth(rec, 192), minFolded: 1 },
  ];

  it.each(cases)(
    '$id: no Constant weights, no foldable BN, same outputs',
    async ({ id, input, minFolded }) => {
      const path = realModel(id).path;
      const original = await readModel(path);
      const before = serializeModel(original);
      const model = await readModel(path);
      const summary = prepareModel(model, { foldBatchNorm: true });

      expect(summary.constantsLifted).toBeGreaterThan(0);
      expect(summary.batchNormsFolded + foldableBatchNorms(original)).toBeGreaterThanOrEqual(minFolded);
      expect(foldableBatchNorms(model)).toBe(0);
      const constantWeights = model
        .graphs()
        .flatMap((g) => g.nodes)
        .filter((n) => n.opType === 'Constant' && n.attribute.some((a) => a.t && a.t.dims.length > 0));
      expect(constantWeights).toEqual([]);

      const expected = await run(before, input);
      const actual = await run(serializeModel(model), input);
      expect(actual.length).toBe(expected.length);
      expect(relativeError(actual, expected)).toBeLessThanOrEqual(FOLD_TOLERANCE);
    },
  );
});
