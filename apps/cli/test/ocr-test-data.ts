// Test and eval helper, not part of the CLI (no entry point imports it): the repository's OCR
// arrays decoded by @qgrain/pipeline's .npy reader, the one the CLI itself reads --data with.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeNpy, gunzipBytes } from '@qgrain/pipeline';
import { Tensor } from '@qgrain/tensor';
import {
  type OcrDataSet,
  characterErrorRate,
  ctcGreedyDecode,
  loadPaddleDictionary,
  maskIoU,
  ocrDataPath,
} from '@qgrain/test-harness';
import ort from 'onnxruntime-node';

/** A float32 `.npy.gz` of an OCR data set (`calib_rec.npy.gz`, `eval_det.npy.gz`, ...), whole. */
export function readOcrArray(set: OcrDataSet, file: string): Tensor<'float32'> {
  const path = ocrDataPath(set, file);
  const tensor = decodeNpy(gunzipBytes(readFileSync(path), path), path).tensor();
  if (tensor.dtype !== 'float32') throw new Error(`${path} holds ${tensor.dtype}, not float32`);
  return tensor as Tensor<'float32'>;
}

/**
 * The first `count` samples (axis 0) of an NCHW array in memory of their own, keeping only the
 * first `width` columns when given (the direction classifier reads 192-wide crops of rec lines).
 */
export function leadingSamples(array: Tensor<'float32'>, count: number, width?: number): Tensor<'float32'> {
  const [n, c, h, w] = array.shape as [number, number, number, number];
  const rows = Math.min(count, n) * c * h;
  const outW = Math.min(width ?? w, w);
  const out = new Float32Array(rows * outW);
  for (let row = 0; row < rows; row++) out.set(array.data.subarray(row * w, row * w + outW), row * outW);
  return new Tensor('float32', [rows / (c * h), c, h, outW], out);
}

/** Runs a model in onnxruntime-node on each sample (axis 0) of `data` alone; its first output per sample. */
export async function firstOutputPerSample(
  modelPath: string,
  data: Tensor<'float32'>,
): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(modelPath);
  const per = data.data.length / data.shape[0]!;
  const out: Float32Array[] = [];
  try {
    for (let i = 0; i < data.shape[0]!; i++) {
      const x = new ort.Tensor('float32', data.data.slice(i * per, (i + 1) * per), [
        1,
        ...data.shape.slice(1),
      ]);
      const result = await session.run({ [session.inputNames[0]!]: x });
      out.push(result[session.outputNames[0]!]!.data as Float32Array);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * The character error rate of a PP-OCR rec model on the ocr-eval lines against their true text
 * (greedy CTC decoding with the dictionary that ships beside `dictionaryOf`, the float model).
 */
export async function evalCharacterErrorRate(modelPath: string, dictionaryOf: string): Promise<number> {
  const dictionary = loadPaddleDictionary(join(dirname(dictionaryOf), 'ppocr_keys_v1.txt'));
  const truths = (
    JSON.parse(readFileSync(ocrDataPath('eval', 'manifest.json'), 'utf8')) as { rec: { text: string }[] }
  ).rec.map((r) => r.text);
  const scores = await firstOutputPerSample(modelPath, readOcrArray('eval', 'eval_rec.npy.gz'));
  const decoded = scores.map((s) =>
    ctcGreedyDecode(s, s.length / dictionary.length, dictionary.length, dictionary),
  );
  return characterErrorRate(decoded, truths);
}

/** The det mask threshold: PaddleOCR's DB post-processing binarises the probability map at 0.3. */
export const DET_MASK_THRESHOLD = 0.3;

/** The text-mask IoU of two sets of det probability maps taken as one (every page's pixels pooled). */
export function pooledMaskIoU(
  a: readonly Float32Array[],
  b: readonly Float32Array[],
  threshold: number,
): number {
  const pool = (maps: readonly Float32Array[]) => Float32Array.from(maps.flatMap((m) => [...m]));
  return maskIoU(pool(a), pool(b), threshold);
}
