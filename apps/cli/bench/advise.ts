// qgrain advise on the PaddleOCR models, measured the way a user meets it, everything in one run:
// the built CLI advises and quantizes (calibrating on data/ocr-calibration only), and
// onnxruntime-node runs the float, default and advised models on data/ocr-eval.
//
// budget  (the advisor against the defaults)
//   det: text-mask IoU (p > 0.3) against float of the default and the advised model; median
//        latency of float, default and advised, interleaved, same session options; file sizes
//        (the default weights are all per channel); advise wall time over quantize wall time
//        (medians of --wall-runs runs of each, in turn).
//   rec: character error rate of float, default and advised.
// lesson  (the seed's lesson: per-tensor or per-channel weights, activations fixed at uint8 mse)
//   det, rec, cls: the layers the plan puts per channel, which of them per-tensor breaks alone and
//   which are depthwise, the bytes saved against all per channel; rec's CER under all per tensor,
//   all per channel and the plan.
//
//   pnpm bench:advise [--part budget|lesson|all] [--runs N] [--wall-runs N] [--det-target dB] [--rec-target dB]
//                     [--det-max-latency ratio] [--lesson-det|rec|cls dB] [--keep DIR]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ocrDataPath, realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import {
  DET_MASK_THRESHOLD,
  evalCharacterErrorRate,
  firstOutputPerSample as outputs,
  pooledMaskIoU,
  readOcrArray,
} from '../test/ocr-test-data.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const cli = join(repo, 'apps/cli/dist/cli.js');

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '15' },
    'wall-runs': { type: 'string', default: '3' },
    'det-target': { type: 'string', default: '22' },
    'det-max-latency': { type: 'string', default: '0.8' },
    'rec-target': { type: 'string', default: '30' },
    // Between each model's all-per-tensor and all-per-channel output SQNR (activations uint8 mse),
    // so that the choice between the two grains is a real one.
    'lesson-det': { type: 'string', default: '10' },
    'lesson-rec': { type: 'string', default: '12' },
    'lesson-cls': { type: 'string', default: '15' },
    keep: { type: 'string' },
  },
});
const runs = Number(values.runs);
const wallRuns = Math.max(1, Number(values['wall-runs']));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const work = values.keep ? resolve(values.keep) : mkdtempSync(join(tmpdir(), 'qgrain-bench-advise-'));

/** Runs the built CLI; its wall time (s) and what it printed on stderr. */
function qgrainRun(args: readonly string[]): { seconds: number; stderr: string } {
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`qgrain ${args.join(' ')} failed (${run.status}):\n${run.stderr}`);
  return { seconds: (performance.now() - started) / 1000, stderr: run.stderr };
}

function qgrain(args: readonly string[]): number {
  return qgrainRun(args).seconds;
}

/** Median latency of each model on one sample, runs interleaved so load hits all alike. */
async function latencies(models: Record<string, string>, sample: Float32Array, shape: number[]) {
  const sessions = await Promise.all(
    Object.entries(models).map(async ([name, path]) => ({
      name,
      session: await ort.InferenceSession.create(path, { intraOpNumThreads: 1 }),
    })),
  );
  const x = new ort.Tensor('float32', sample, shape);
  const times = new Map<string, number[]>(sessions.map((s) => [s.name, []]));
  for (const s of sessions) await s.session.run({ [s.session.inputNames[0]!]: x }); // warm-up
  for (let r = 0; r < runs; r++) {
    for (const s of sessions) {
      const t = performance.now();
      await s.session.run({ [s.session.inputNames[0]!]: x });
      times.get(s.name)!.push(performance.now() - t);
    }
  }
  for (const s of sessions) await s.session.release();
  return Object.fromEntries([...times].map(([k, v]) => [k, median(v)]));
}

const det = realModel('ppocr-v4-det').path;
const rec = realModel('ppocr-v4-rec').path;
const cls = realModel('ppocr-cls').path;
const detCalibration = ocrDataPath('calibration', 'calib_det.npy.gz');
const recCalibration = ocrDataPath('calibration', 'calib_rec.npy.gz');
const clsImages = ocrDataPath('calibration', 'images');
const cer = (model: string) => evalCharacterErrorRate(model, rec);
const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const out = (name: string) => join(work, name);

interface PlanFile {
  measured: { latency_ms: number; float_latency_ms: number };
  weights: Record<
    string,
    {
      scheme: string;
      depthwise: boolean;
      reason: string;
      candidates: { candidate: string; output_sqnr_db: number | null }[];
    }
  >;
}

try {
  if (values.part === 'all' || values.part === 'budget') {
    const target = values['det-target'];
    // Wall times: quantize and advise in turn, `--wall-runs` times each (medians count); the
    // first advise run's plan and report are the ones measured below.
    const quantizeTimes: number[] = [];
    const adviseTimes: number[] = [];
    let adviseTable = '';
    for (let r = 0; r < wallRuns; r++) {
      quantizeTimes.push(qgrain(['quantize', det, '-o', out('det-default.onnx'), '--data', detCalibration]));
      const run = qgrainRun([
        'advise',
        det,
        '--data',
        detCalibration,
        '--target-sqnr',
        target,
        '--max-latency',
        values['det-max-latency']!,
        '-o',
        out(r === 0 ? 'det-plan.json' : `det-plan-${r}.json`),
        '--report',
        out(r === 0 ? 'det-report.html' : `det-report-${r}.html`),
      ]);
      adviseTimes.push(run.seconds);
      if (r === 0) adviseTable = run.stderr;
    }
    const quantizeSeconds = median(quantizeTimes);
    const adviseSeconds = median(adviseTimes);
    qgrain(['quantize', det, '--plan', out('det-plan.json'), '-o', out('det-advised.onnx')]);
    const detEval = readOcrArray('eval', 'eval_det.npy.gz');
    const float = await outputs(det, detEval);
    const pooled = async (path: string) =>
      pooledMaskIoU(float, await outputs(path, detEval), DET_MASK_THRESHOLD);
    const iouDefault = await pooled(out('det-default.onnx'));
    const iouAdvised = await pooled(out('det-advised.onnx'));
    const per = detEval.data.length / detEval.shape[0]!;
    const lat = await latencies(
      { float: det, default: out('det-default.onnx'), advised: out('det-advised.onnx') },
      detEval.data.slice(0, per),
      [1, ...detEval.shape.slice(1)],
    );
    const size = (p: string) => statSync(p).size;
    console.log(
      `det, advise --target-sqnr ${target} --max-latency ${values['det-max-latency']} (calibrated on ocr-calibration, measured on ocr-eval):`,
    );
    console.log(
      `  text-mask IoU vs float: default ${iouDefault.toFixed(4)}, advised ${iouAdvised.toFixed(4)} over ${detEval.shape[0]} pages`,
    );
    console.log(
      `  latency (median of ${runs}, 1 thread): float ${lat.float!.toFixed(1)} ms, default ${lat.default!.toFixed(1)} ms (${(lat.default! / lat.float!).toFixed(2)}x), advised ${lat.advised!.toFixed(1)} ms (${(lat.advised! / lat.float!).toFixed(2)}x)`,
    );
    // What the advisor itself timed for the model it kept, in its own process: the cap it held.
    const own = (JSON.parse(readFileSync(out('det-plan.json'), 'utf8')) as PlanFile).measured;
    console.log(
      `  the advisor's own timing (in the advise run): float ${own.float_latency_ms} ms, advised ${own.latency_ms} ms (${(own.latency_ms / own.float_latency_ms).toFixed(2)}x)`,
    );
    console.log(
      `  size: float ${size(det)} B, default (all per channel) ${size(out('det-default.onnx'))} B, advised ${size(out('det-advised.onnx'))} B`,
    );
    const list = (v: number[]) => v.map((x) => x.toFixed(1)).join(', ');
    console.log(
      `  wall time (median of ${wallRuns}, in turn): quantize ${quantizeSeconds.toFixed(1)} s, advise ${adviseSeconds.toFixed(1)} s (${(adviseSeconds / quantizeSeconds).toFixed(2)}x); runs: quantize ${list(quantizeTimes)} s, advise ${list(adviseTimes)} s`,
    );
    const stages = adviseTable.split('\n').find((l) => l.startsWith('time by stage:'));
    if (stages) console.log(`  first advise run's ${stages}`);
    console.log(`  HTML report ${size(out('det-report.html'))} B`);

    const recTarget = values['rec-target'];
    qgrain(['quantize', rec, '-o', out('rec-default.onnx'), '--data', recCalibration]);
    qgrain(['advise', rec, '--data', recCalibration, '--target-sqnr', recTarget, '-o', out('rec-plan.json')]);
    qgrain(['quantize', rec, '--plan', out('rec-plan.json'), '-o', out('rec-advised.onnx')]);
    const recEval = readOcrArray('eval', 'eval_rec.npy.gz');
    console.log(`rec, advise --target-sqnr ${recTarget}:`);
    console.log(
      `  CER over ${recEval.shape[0]} lines: float ${pct(await cer(rec))}, default ${pct(await cer(out('rec-default.onnx')))}, advised ${pct(await cer(out('rec-advised.onnx')))}`,
    );
    console.log(
      `  size: float ${size(rec)} B, default ${size(out('rec-default.onnx'))} B, advised ${size(out('rec-advised.onnx'))} B`,
    );
  }

  if (values.part === 'all' || values.part === 'lesson') {
    const fixed = [
      '--weights-candidates',
      'int8/per-tensor,int8/per-channel',
      '--activations-candidates',
      'uint8',
      '--methods',
      'mse',
    ];
    const models = [
      { name: 'det', path: det, data: ['--data', detCalibration], target: values['lesson-det']! },
      { name: 'rec', path: rec, data: ['--data', recCalibration], target: values['lesson-rec']! },
      {
        name: 'cls',
        target: values['lesson-cls']!,
        path: cls,
        data: [
          '--data',
          clsImages,
          '--filter',
          'rec_*.png',
          '--preprocess',
          'size=48x192,keep-aspect,pad=0,mean=0.5,std=0.5',
        ],
      },
    ];
    console.log(`the seed's lesson: weights int8 per tensor or per channel, activations uint8 mse`);
    for (const m of models) {
      const planPath = out(`${m.name}-lesson.json`);
      qgrain(['advise', m.path, ...m.data, '--target-sqnr', m.target, '-o', planPath, ...fixed]);
      const plan = JSON.parse(readFileSync(planPath, 'utf8')) as PlanFile;
      const weights = Object.entries(plan.weights);
      const channel = weights.filter(([, w]) => w.scheme === 'int8/per-channel');
      const alone = channel.filter(([, w]) => w.reason.includes('alone would take'));
      const context = channel.filter(([, w]) => w.reason.includes('with the rest as planned'));
      const depthwise = (list: typeof weights) => list.filter(([, w]) => w.depthwise).length;
      console.log(
        `  ${m.name} (target ${m.target} dB): ${channel.length} of ${weights.length} weights per channel (${depthwise(channel)} depthwise): per tensor breaks the target alone on ${alone.length} (${depthwise(alone)} depthwise), with the rest of the plan on ${context.length} (${depthwise(context)} depthwise); ${weights.length - channel.length} stay per tensor`,
      );
      console.log(
        `    per tensor alone breaks: ${alone.map(([n, w]) => `${n}${w.depthwise ? ' (dw)' : ''}`).join(', ') || 'none'}`,
      );
      qgrain(['quantize', m.path, ...m.data, '--method', 'mse', '-o', out(`${m.name}-pc.onnx`)]);
      qgrain([
        'quantize',
        m.path,
        ...m.data,
        '--method',
        'mse',
        '--weights',
        'int8/per-tensor',
        '-o',
        out(`${m.name}-pt.onnx`),
      ]);
      qgrain(['quantize', m.path, '--plan', planPath, '-o', out(`${m.name}-lesson.onnx`)]);
      const bytes = (name: string) => statSync(out(name)).size;
      console.log(
        `    size: all per tensor ${bytes(`${m.name}-pt.onnx`)} B, all per channel ${bytes(`${m.name}-pc.onnx`)} B, plan ${bytes(`${m.name}-lesson.onnx`)} B (saves ${bytes(`${m.name}-pc.onnx`) - bytes(`${m.name}-lesson.onnx`)} B against all per channel)`,
      );
      if (m.name === 'rec') {
        console.log(
          `    rec CER: float ${pct(await cer(rec))}, all per tensor ${pct(await cer(out('rec-pt.onnx')))}, all per channel ${pct(await cer(out('rec-pc.onnx')))}, plan ${pct(await cer(out('rec-lesson.onnx')))}`,
        );
      }
    }
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
