import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '@qgrain/onnx';
import type { Tensor } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { leadingSamples, readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';

// BatchNorm folding computes x * (w * s) where the model computed (x * w) * s: float32 rounding
// moves outputs by a few ulps, far below this bound (relative to the output's largest magnitude).
const FOLD_TOLERANCE = 1e-4;

/** Largest |a - b| over the largest |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

/** Every output of a model file run on one input (the file path lets ORT find external data). */
async function runModel(path: string, input: Tensor<'float32'>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path);
  try {
    const results = await session.run({
      [session.inputNames[0]!]: new ort.Tensor('float32', input.data, input.shape),
    });
    return Object.fromEntries(session.outputNames.map((name) => [name, results[name]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

const recLines = leadingSamples(readOcrArray('calibration', 'calib_rec.npy.gz'), 3);
const detPage = leadingSamples(readOcrArray('calibration', 'calib_det.npy.gz'), 1);
const dir = mkdtempSync(join(tmpdir(), 'qgrain-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const models = [
  { id: 'ppocr-v4-det', input: detPage },
  { id: 'ppocr-v4-rec', input: recLines },
  { id: 'ppocr-cls', input: leadingSamples(recLines, 3, 192) },
];
const cases = models.flatMap((m) => [
  { ...m, externalData: false },
  { ...m, externalData: true },
]);

describe('qgrain prepare on PP-OCR models, checked by onnxruntime on real text images', () => {
  const expected = new Map<string, Record<string, Float32Array>>();

  it.each(cases)('$id (external data: $externalData)', async ({ id, input, externalData }) => {
    const source = realModel(id).path;
    const before = sha256(source);
    const output = join(dir, `${id}${externalData ? '-external' : ''}.onnx`);
    const io = capturedIO();
    const code = await main(
      ['prepare', source, '-o', output, ...(externalData ? ['--external-data'] : [])],
      io,
    );
    expect(io.stderr()).toMatch(
      /^qgrain: prepared .+: [1-9]\d* Constant nodes lifted, \d+ BatchNorms folded, \d+ Mul\/Add folded, \d+ HardSwish fused, \d+ Identity\/Dropout removed; wrote .+\n$/,
    );
    expect(code).toBe(0);
    expect(io.stdout()).toBe('');
    expect(sha256(source)).toBe(before);

    const written = await readModel(output);
    const storages = written.graph.initializers().map((i) => i.storage);
    expect(storages.includes('external')).toBe(externalData);
    expect(
      written.graph.nodes.filter(
        (n) => n.opType === 'Constant' && n.attribute.some((a) => (a.t?.dims.length ?? 0) > 0),
      ),
    ).toEqual([]);

    if (!expected.has(id)) expected.set(id, await runModel(source, input));
    const want = expected.get(id)!;
    const got = await runModel(output, input);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const [name, values] of Object.entries(want)) {
      expect(got[name]!.length).toBe(values.length);
      expect(relativeError(got[name]!, values)).toBeLessThanOrEqual(FOLD_TOLERANCE);
    }
  });

  it('--json reports what was written, on stdout only', async () => {
    const source = realModel('ppocr-cls').path;
    const output = join(dir, 'cls-json.onnx');
    const io = capturedIO();
    expect(
      await main(['prepare', source, '-o', output, '--external-data-threshold', '4096', '--json'], io),
    ).toBe(0);
    expect(io.stderr()).toBe('');
    const summary = JSON.parse(io.stdout()) as Record<string, number | string | null>;
    // '<output>.<16 hex digits of the data's SHA-256>.data': model and data are replaced as one unit.
    const dataPath = summary.data_path as string;
    expect(summary.output).toBe(output);
    expect(dataPath.startsWith(`${output}.`) && /\.[0-9a-f]{16}\.data$/.test(dataPath)).toBe(true);
    expect(summary.model_bytes).toBe(statSync(output).size);
    expect(summary.data_bytes).toBe(statSync(dataPath).size);
    expect(summary.bytes_written).toBe(statSync(output).size + statSync(dataPath).size);
    expect(summary.batch_norms_folded).toBeGreaterThan(0);
    // The threshold implies --external-data and keeps tensors under 4096 bytes inline.
    const written = await readModel(output);
    for (const init of written.graph.initializers()) {
      expect(init.storage === 'external').toBe((init.byteLength ?? 0) >= 4096);
    }
  });

  // Each pass on PP-OCRv4 det: how many nodes it changes, and the node count that moves by as
  // many (up when the pass adds nodes, down when it removes them).
  it.each([
    { flag: '--no-fold-affine', key: 'affines_folded', ops: ['Mul', 'Add'], sign: -1 },
    { flag: '--no-fuse-hard-swish', key: 'hard_swishes_fused', ops: ['HardSigmoid'], sign: 1 },
  ])('PP-OCRv4 det: $key > 0, and $flag keeps the nodes as they were', async ({ flag, key, ops, sign }) => {
    const source = realModel('ppocr-v4-det').path;
    const count = async (path: string) =>
      (await readModel(path)).graph.nodes.filter((n) => ops.includes(n.opType)).length;
    const done = join(dir, `det-${key}.onnx`);
    const io = capturedIO();
    expect(await main(['prepare', source, '-o', done, '--json'], io)).toBe(0);
    const changed = (JSON.parse(io.stdout()) as Record<string, number>)[key]!;
    expect(changed).toBeGreaterThan(0);
    const kept = join(dir, `det-${key}-kept.onnx`);
    const keptIO = capturedIO();
    expect(await main(['prepare', source, '-o', kept, flag, '--json'], keptIO)).toBe(0);
    expect((JSON.parse(keptIO.stdout()) as Record<string, number>)[key]).toBe(0);
    expect(sign * ((await count(done)) - (await count(kept)))).toBe(changed);
  });

  it('--no-fold-bn keeps the BatchNormalization nodes', async () => {
    const source = realModel('ppocr-cls').path;
    const output = join(dir, 'cls-bn.onnx');
    const io = capturedIO();
    expect(await main(['prepare', source, '-o', output, '--no-fold-bn', '--json'], io)).toBe(0);
    const summary = JSON.parse(io.stdout()) as { batch_norms_folded: number };
    expect(summary.batch_norms_folded).toBe(0);
    const original = await readModel(source);
    const written = await readModel(output);
    const count = (m: typeof written) =>
      m.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length;
    expect(count(original)).toBeGreaterThan(0);
    expect(count(written)).toBe(count(original));
  });
});
