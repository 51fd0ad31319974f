import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '@qgrain/pipeline';
import { Tensor } from '@qgrain/tensor';
import { ocrDataPath, realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';

// The det pages were normalised as (p - mean) / std per channel, p in [0, 1] (data/README.md).
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** The same pages with their colours inverted: p -> 1 - p, normalised again. */
function inverted(pages: Tensor<'float32'>): Tensor<'float32'> {
  const [n, c, h, w] = pages.shape as [number, number, number, number];
  const out = new Float32Array(pages.data.length);
  for (let i = 0; i < n * c; i++) {
    const mean = MEAN[i % c]!;
    const std = STD[i % c]!;
    for (let k = i * h * w; k < (i + 1) * h * w; k++) {
      const p = pages.data[k]! * std + mean;
      out[k] = (1 - p - mean) / std;
    }
  }
  return new Tensor('float32', [n, c, h, w], out);
}

let work: string;
let quantized: string;
const float = realModel('ppocr-v4-det').path;
const plain = ocrDataPath('eval', 'eval_det.npy.gz');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
let invertedPath: string;

async function run(args: string[]) {
  const io = capturedIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-coverage-'));
  invertedPath = join(work, 'eval_det_inverted.npy');
  writeFileSync(invertedPath, encodeNpy(inverted(readOcrArray('eval', 'eval_det.npy.gz'))));
  quantized = join(work, 'det-int8.onnx');
  // Default settings (static, mse) on the 8 ocr-calibration pages (7 calibrate, 1 is held back),
  // two of which are light text on a near-black background.
  const q = await run([
    'quantize',
    float,
    '-o',
    quantized,
    '--data',
    ocrDataPath('calibration', 'calib_det.npy.gz'),
  ]);
  expect(q.code).toBe(0);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface CoverageRow {
  tensor: string;
  node: string;
  share_outside: number;
  max_overshoot: number;
  below: number;
  above: number;
  flagged: boolean;
}

describe('qgrain compare --coverage on PP-OCRv4 det', () => {
  it('flags many more activations on the ocr-eval pages colour-inverted than on the pages as they are', async () => {
    // Plain pages, as JSON, together with --layerwise.
    const json = await run([
      'compare',
      float,
      quantized,
      '--data',
      plain,
      '--coverage',
      '--layerwise',
      '--json',
    ]);
    expect(json.code).toBe(0);
    const document = JSON.parse(json.stdout) as {
      layers: unknown[];
      coverage: {
        activations: number;
        flagged: number;
        threshold: number;
        min_outside: number;
        rows: CoverageRow[];
      };
    };
    expect(document.layers.length).toBeGreaterThan(100);
    const coverage = document.coverage;
    expect(coverage.threshold).toBe(0.0002);
    expect(coverage.min_outside).toBe(10);
    // Flagged rows come first, each over the threshold with enough values outside.
    const flagged = coverage.rows.slice(0, coverage.flagged);
    expect(flagged.every((r) => r.flagged && r.share_outside > 0.0002 && r.below + r.above >= 10)).toBe(true);
    expect(coverage.rows.slice(coverage.flagged).some((r) => r.flagged)).toBe(false);
    // Inverted pages, as text: the table and the summary line.
    const text = await run(['compare', float, quantized, '--data', invertedPath, '--coverage']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/range coverage \(4 samples\)/);
    const line =
      /^(\d+) of (\d+) activations have more than 0\.02% of their values outside the calibrated range \(and at least 10 values\)(; worst '[^']+')?/m.exec(
        text.stdout,
      );
    expect(line).not.toBeNull();
    const invertedFlagged = Number(line![1]);
    console.log(
      `det coverage: ${coverage.flagged} of ${coverage.activations} flagged on the plain pages, ${invertedFlagged} of ${line![2]} inverted; ${line![3]?.slice(2)}`,
    );
    // Measured: 0 of 105 flagged on the plain pages, 13 of 105 on the inverted ones (worst
    // conv2d_485.tmp_0 from p2o.Conv.49, 0.17% outside, up to 5.5 range widths beyond).
    expect(coverage.activations).toBe(105);
    expect(Number(line![2])).toBe(105);
    expect(coverage.flagged).toBeLessThanOrEqual(3);
    expect(invertedFlagged).toBeGreaterThanOrEqual(8);
    expect(invertedFlagged).toBeGreaterThanOrEqual(coverage.flagged + 6);
    // The README's worked example is this run: the same summary and the same flagged tensors.
    const shown = readme.slice(
      readme.indexOf(
        '$ qgrain compare ch_PP-OCRv4_det_infer.onnx det-int8.onnx --data eval_det_inverted.npy --coverage\n',
      ),
    );
    const example = shown.slice(0, shown.indexOf('```'));
    expect(example).toContain(line![0]);
    const tensors = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.endsWith('  <') && !l.startsWith('sigmoid_0'))
        .map((l) => l.split(' ')[0]);
    expect(tensors(text.stdout)).toHaveLength(Math.min(invertedFlagged, 15));
    expect(tensors(example)).toEqual(tensors(text.stdout));
  });

  it('refuses a weight-only model: coverage needs calibrated ranges', async () => {
    const weightOnly = join(work, 'det-w8.onnx');
    expect((await run(['quantize', float, '-o', weightOnly, '--weights-only'])).code).toBe(0);
    const result = await run(['compare', float, weightOnly, '--data', plain, '--coverage']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^qgrain: .*det-w8\.onnx quantizes no activation with a calibrated range/);
    expect(result.stderr).toMatch(/needs a statically quantized model/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
