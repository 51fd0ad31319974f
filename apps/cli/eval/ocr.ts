// Accuracy of `qgrain quantize` with default settings on the PaddleOCR models, the way a user
// runs it: the built CLI quantizes PP-OCRv4 det and rec calibrated on ocr-calibration, then the
// float and the quantized models run in onnxruntime-node on ocr-eval (never used to calibrate):
// rec character error rate against the true text, det text-mask IoU (probability > 0.3) against
// the float model's mask.
//
// Both sets are the repository's (data/ocr-calibration, data/ocr-eval).
//
//   pnpm eval:ocr [--json] [-- extra qgrain quantize flags]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maskIoU, ocrDataPath, realModel } from '@qgrain/test-harness';
import {
  DET_MASK_THRESHOLD,
  evalCharacterErrorRate,
  firstOutputPerSample as outputs,
  pooledMaskIoU,
  readOcrArray,
} from '../test/ocr-test-data.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const args = process.argv.slice(2);
const split = args.includes('--') ? args.indexOf('--') : args.length;
const own = args.slice(0, split);
const extra = args.slice(split + 1);
const unknown = own.find((a) => a !== '--json');
if (unknown !== undefined) {
  console.error(
    `eval: unknown argument ${unknown}; usage: pnpm eval:ocr [--json] [-- extra qgrain quantize flags]`,
  );
  process.exit(2);
}
const json = own.includes('--json');
// The files are looked up before any work, so a missing one fails at once, named.
let files: { detCalibration: string; recCalibration: string; evalManifest: string };
try {
  files = {
    detCalibration: ocrDataPath('calibration', 'calib_det.npy.gz'),
    recCalibration: ocrDataPath('calibration', 'calib_rec.npy.gz'),
    evalManifest: ocrDataPath('eval', 'manifest.json'),
  };
} catch (error) {
  console.error(`eval: ${(error as Error).message}`);
  process.exit(1);
}
const cli = join(repo, 'apps/cli/dist/cli.js');
if (!existsSync(cli)) {
  console.error('eval: apps/cli/dist/cli.js is missing; run pnpm build first');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'qgrain-eval-'));

function quantize(model: string, calibration: string, name: string): string {
  const out = join(work, `${name}-int8.onnx`);
  execFileSync(process.execPath, [cli, 'quantize', model, '-o', out, '--data', calibration, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return out;
}

try {
  const det = realModel('ppocr-v4-det').path;
  const rec = realModel('ppocr-v4-rec').path;
  const detQ = quantize(det, files.detCalibration, 'det');
  const recQ = quantize(rec, files.recCalibration, 'rec');

  const detEval = readOcrArray('eval', 'eval_det.npy.gz');
  const detFloat = await outputs(det, detEval);
  const detInt8 = await outputs(detQ, detEval);
  const pages = detFloat.map((f, i) => maskIoU(f, detInt8[i]!, DET_MASK_THRESHOLD));
  const pooled = pooledMaskIoU(detFloat, detInt8, DET_MASK_THRESHOLD);

  const recEval = readOcrArray('eval', 'eval_rec.npy.gz');
  const cerFloat = await evalCharacterErrorRate(rec, rec);
  const cerInt8 = await evalCharacterErrorRate(recQ, rec);

  const result = {
    flags: extra,
    det: {
      eval_pages: detEval.shape[0],
      mask_iou_pooled: pooled,
      mask_iou_per_page: pages,
      bytes_float: statSync(det).size,
      bytes_int8: statSync(detQ).size,
    },
    rec: {
      eval_lines: recEval.shape[0],
      cer_float: cerFloat,
      cer_int8: cerInt8,
      cer_increase_points: (cerInt8 - cerFloat) * 100,
      bytes_float: statSync(rec).size,
      bytes_int8: statSync(recQ).size,
    },
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
    console.log(
      `qgrain quantize ${extra.join(' ') || '(default settings)'}, calibrated on ocr-calibration, measured on ocr-eval`,
    );
    console.log(
      `det: text-mask IoU vs float (p > ${DET_MASK_THRESHOLD}) ${pooled.toFixed(4)} over ${detEval.shape[0]} pages (per page ${pages.map((p) => p.toFixed(3)).join(' ')}); size ${((result.det.bytes_int8 / result.det.bytes_float) * 100).toFixed(1)}% of float`,
    );
    console.log(
      `rec: CER float ${pct(cerFloat)}, int8 ${pct(cerInt8)} (${result.rec.cer_increase_points >= 0 ? '+' : ''}${result.rec.cer_increase_points.toFixed(2)} points) over ${recEval.shape[0]} lines; size ${((result.rec.bytes_int8 / result.rec.bytes_float) * 100).toFixed(1)}% of float`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
