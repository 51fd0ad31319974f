// qgrain quantize on a model larger than it should need memory for: a generated transformer-like
// stack (generate-stack.mjs) with external data, quantized weight-only three ways, each measured
// against a same-run baseline:
// - wall time over a plain read + write of the model's bytes (the .onnx file and its data file,
//   read into memory and written to a new file in 16 MiB chunks by a separate Node process);
//   target <= 3x: quantizing should cost about as much as moving the bytes;
// - peak RSS over the float model's size; target <= 0.25x: nothing holds the whole model.
// int4 blocks run twice more, with --threads 1 and --threads 2, for the speed-up of worker threads.
// Every measurement is a fresh process (the CLI as a user runs it, with --external-data), peak RSS
// is the process's VmHWM; medians of --runs rounds, the copy and the five runs interleaved.
//
//   node apps/cli/bench/scale/bench-scale.mjs [--params 200M] [--hidden 1024] [--runs 3]
//                                              [--small] [--verify] [--json] [--keep]
//                                              (after pnpm build)
//
// Every output is checked: onnxruntime-node runs it (its SQNR against the float model is printed),
// and with --verify (always with --small) it must equal, byte for byte, the output of the
// unstreamed path: the library quantizing the model with every output weight kept in memory.
// --small (the CI form) runs a 2M-parameter stack once and prints the ratios without judging
// them: at that size process start-up dominates.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareModel, readModel, writeModel } from '@qgrain/onnx';
import { quantize } from '@qgrain/pipeline';
import { selectBackend } from '@qgrain/wasm';
import ort from 'onnxruntime-node';
import { generateStack } from './generate-stack.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '../../dist/cli.js');
const peakProbe = join(here, 'peak-rss.mjs');

const TIME_TARGET = 3;
const RSS_TARGET = 0.25;
const SMALL = { hidden: 256, layers: 4 };
const DEFAULT_PARAMS = '200M';
const DEFAULT_HIDDEN = 1024;
const DEFAULT_RUNS = 3;
// The three modes at the CLI's default --threads, then int4 blocks on one thread and on two
// (worker threads), for the parallel speed-up: the same run, so the same machine load.
const MODES = [
  { name: 'int4/per-block:32 qdq', weights: 'int4/per-block:32', format: 'qdq' },
  { name: 'int4/per-block:32 matmulnbits', weights: 'int4/per-block:32', format: 'matmulnbits' },
  { name: 'int8/per-channel', weights: 'int8/per-channel', format: 'qdq' },
  { name: 'int4/per-block:32 qdq --threads 1', weights: 'int4/per-block:32', format: 'qdq', threads: 1 },
  { name: 'int4/per-block:32 qdq --threads 2', weights: 'int4/per-block:32', format: 'qdq', threads: 2 },
];
const SUFFIXES = { K: 1e3, M: 1e6, G: 1e9 };

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const small = args.includes('--small');
const verify = small || args.includes('--verify');
const json = args.includes('--json');
const runs = small ? 1 : Number(option('--runs') ?? DEFAULT_RUNS);
const hidden = small ? SMALL.hidden : Number(option('--hidden') ?? DEFAULT_HIDDEN);
const paramsText = option('--params') ?? DEFAULT_PARAMS;
const match = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(paramsText);
if (!match) throw new Error(`--params: expected a count such as 200M, got '${paramsText}'`);
const params = Number(match[1]) * (SUFFIXES[match[2].toUpperCase()] ?? 1);

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs `node <argv>` with the peak RSS probe loaded; returns wall seconds and peak RSS bytes. */
function measure(argv, what) {
  const start = performance.now();
  const run = spawnSync(process.execPath, ['--import', peakProbe, ...argv], {
    encoding: 'utf8',
    env: { ...process.env, QGRAIN_DEBUG: '' },
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`${what} failed (exit ${run.status}): ${run.stderr}`);
  const peak = /qgrain-peak-rss-kib (\d+)/.exec(run.stderr);
  return { seconds, peak: peak ? Number(peak[1]) * 1024 : Number.NaN };
}

/** The baseline: read the model's files into memory and write them again, 16 MiB at a time. */
const COPY = `
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
const CHUNK = 16 * 1024 * 1024;
const buffer = Buffer.allocUnsafe(CHUNK);
const [from, to] = [process.argv.slice(1, 3), process.argv.slice(3, 5)];
for (let f = 0; f < from.length; f++) {
  const input = openSync(from[f], 'r');
  const output = openSync(to[f], 'w');
  for (let n; (n = readSync(input, buffer, 0, CHUNK, null)) > 0; ) writeSync(output, buffer, 0, n);
  closeSync(input);
  closeSync(output);
}
`;

/** onnxruntime-node loads `path` and runs it on a fixed input; returns the output. */
async function runModel(path) {
  const session = await ort.InferenceSession.create(path);
  try {
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 4 * hidden }, (_, i) => Math.sin(i * 0.37)),
      [1, 4, hidden],
    );
    return (await session.run({ x })).y.data;
  } finally {
    await session.release();
  }
}

/**
 * The unstreamed path: the model quantized by the library with every output weight kept in memory
 * (as `qgrain quantize` does for a model without external data), then written with external data.
 * True when it wrote the same two files as the streamed CLI run.
 */
async function sameAsUnstreamed(model, mode, streamed) {
  const float = await readModel(model);
  prepareModel(float, { foldBatchNorm: true });
  await quantize(float, {
    mode: 'weight-only',
    weights: mode.weights,
    format: mode.format,
    backend: await selectBackend('auto'),
  });
  const folder = join(dirname(streamed), 'unstreamed');
  mkdirSync(folder, { recursive: true });
  const path = join(folder, streamed.split('/').pop());
  await writeModel(float, path, { externalData: true });
  const same = (a, b) => readFileSync(a).equals(readFileSync(b));
  const result = same(path, streamed) && same(dataFileOf(path), dataFileOf(streamed));
  rmSync(folder, { recursive: true, force: true });
  return result;
}

/** The external data file written beside `model`: `<model>.<content hash>.data`. */
function dataFileOf(model) {
  const name = basename(model);
  const found = readdirSync(dirname(model)).filter((f) => f.startsWith(`${name}.`) && f.endsWith('.data'));
  if (found.length !== 1) throw new Error(`expected one data file beside ${model}, found ${found.length}`);
  return join(dirname(model), found[0]);
}

function sqnrDb(reference, actual) {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - actual[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

const dir = mkdtempSync(join(tmpdir(), 'qgrain-bench-scale-'));
const outputOf = (mode) => join(dir, 'out', `${mode.name.replaceAll(/[/: -]+/g, '-')}.onnx`);
try {
  const stack = await generateStack({
    hidden,
    ...(small ? { layers: SMALL.layers } : { params }),
    out: join(dir, 'float'),
  });
  const floatBytes = statSync(stack.model).size + statSync(stack.data).size;
  const copies = [];
  const results = new Map(MODES.map((m) => [m.name, []]));
  for (let round = 0; round < runs; round++) {
    copies.push(
      measure(
        [
          '--input-type=module',
          '-e',
          COPY,
          stack.model,
          stack.data,
          join(dir, 'copy.onnx'),
          join(dir, 'copy.onnx.data'),
        ],
        'copy',
      ),
    );
    rmSync(join(dir, 'copy.onnx'), { force: true });
    rmSync(join(dir, 'copy.onnx.data'), { force: true });
    for (const mode of MODES) {
      const out = outputOf(mode);
      results
        .get(mode.name)
        .push(
          measure(
            [
              cli,
              'quantize',
              stack.model,
              '-o',
              out,
              '--weights-only',
              '--weights',
              mode.weights,
              '--format',
              mode.format,
              '--external-data',
              ...(mode.threads ? ['--threads', String(mode.threads)] : []),
            ],
            mode.name,
          ),
        );
    }
  }
  const reference = await runModel(stack.model);
  const copySeconds = median(copies.map((c) => c.seconds));
  const rows = [];
  for (const mode of MODES) {
    const out = outputOf(mode);
    const measured = results.get(mode.name);
    const seconds = median(measured.map((m) => m.seconds));
    const peak = median(measured.map((m) => m.peak));
    rows.push({
      mode: mode.name,
      seconds,
      time_ratio: seconds / copySeconds,
      peak_rss_bytes: peak,
      rss_ratio: peak / floatBytes,
      output_bytes: statSync(out).size + statSync(dataFileOf(out)).size,
      output_sqnr_db: sqnrDb(reference, await runModel(out)),
      ...(verify ? { same_as_unstreamed: await sameAsUnstreamed(stack.model, mode, out) } : {}),
    });
  }
  const threaded = (n) => rows.find((r) => r.mode.endsWith(`--threads ${n}`)).seconds;
  const summary = {
    parameters: stack.parameters,
    hidden: stack.hidden,
    layers: stack.layers,
    float_bytes: floatBytes,
    runs,
    copy_seconds: copySeconds,
    copy_peak_rss_bytes: median(copies.map((c) => c.peak)),
    targets: { time_ratio: TIME_TARGET, rss_ratio: RSS_TARGET },
    modes: rows,
    threads_speedup: threaded(1) / threaded(2),
  };
  if (json) console.log(JSON.stringify(summary, null, 2));
  else {
    const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `stack: ${(stack.parameters / 1e6).toFixed(1)}M parameters (${stack.layers} blocks of width ${stack.hidden}), ` +
        `${mib(floatBytes)} float with external data; medians of ${runs} run(s)`,
    );
    console.log(`read + write of the model's bytes: ${copySeconds.toFixed(2)} s`);
    for (const r of rows) {
      const verdict = small
        ? ''
        : ` ${r.time_ratio <= TIME_TARGET ? 'meets' : 'misses'} time, ${r.rss_ratio <= RSS_TARGET ? 'meets' : 'misses'} memory`;
      const identical =
        r.same_as_unstreamed === undefined
          ? ''
          : r.same_as_unstreamed
            ? ', same bytes as unstreamed'
            : ', DIFFERS from unstreamed';
      console.log(
        `${r.mode.padEnd(30)} ${r.seconds.toFixed(2)} s (${r.time_ratio.toFixed(2)}x copy, target <= ${TIME_TARGET}x)  ` +
          `peak RSS ${mib(r.peak_rss_bytes)} (${r.rss_ratio.toFixed(3)}x float, target <= ${RSS_TARGET}x)  ` +
          `output ${mib(r.output_bytes)}, SQNR ${r.output_sqnr_db.toFixed(1)} dB vs float in onnxruntime${identical};${verdict}`,
      );
    }
  }
  if (!json)
    console.log(
      `int4/per-block:32 qdq on 2 threads: ${summary.threads_speedup.toFixed(2)}x the speed of 1 thread ` +
        `(${threaded(1).toFixed(2)} s -> ${threaded(2).toFixed(2)} s)`,
    );
  if (rows.some((r) => r.same_as_unstreamed === false)) {
    console.error('streamed output differs from the unstreamed path');
    process.exitCode = 1;
  }
} finally {
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  else console.error(`kept ${dir}`);
}
