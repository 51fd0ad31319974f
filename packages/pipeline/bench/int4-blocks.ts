// Block-quantization benchmark: a generated stack of float MatMuls (default 200M parameters, in
// external data) is quantized to int4/per-block:32 by the weight-only mode of quantize, read to written. Its wall
// time is reported over a same-run plain read+write of the same files (fs: read the model and its
// data, write them back out with fsync, as writeModel does), and its peak RSS over the model size.
//
// Each phase runs in its own child process so its peak RSS is its own (generating the model holds
// every weight in memory, which the quantizer must not be charged for). Run with the repo's tsx:
//   tsx --tsconfig ../../tsconfig.json bench/int4-blocks.ts [--params 200e6] [--hidden 4096]
//       [--format qdq|matmulnbits] [--backend js|wasm] [--json]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, readModel, writeModel } from '@qgrain/onnx';
import { type Backend, Tensor, jsBackend } from '@qgrain/tensor';
import { type WeightOnlyFormat, quantize } from '../src/index.js';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
/** The size: a 200M-parameter stack, about 800 MB of float32. */
const DEFAULT_PARAMS = 200e6;
/** Hidden size of each square MatMul: a transformer-sized weight (4096 x 4096 = 16.8M parameters). */
const DEFAULT_HIDDEN = 4096;
const SCHEME = 'int4/per-block:32';

const params = Number(flag('--params') ?? DEFAULT_PARAMS);
const hidden = Number(flag('--hidden') ?? DEFAULT_HIDDEN);
const layers = Math.max(1, Math.round(params / (hidden * hidden)));
const format = (flag('--format') ?? 'qdq') as WeightOnlyFormat;
const phase = flag('--phase');
const dir = flag('--dir');

/** xorshift32: cheap, seeded, good enough to make weights that are not all alike. */
function fillWeights(out: Float32Array, seed: number): void {
  let s = seed >>> 0 || 1;
  const scale = 1 / Math.sqrt(hidden);
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
}

async function generate(folder: string): Promise<void> {
  const initializers: Record<string, Tensor> = {};
  const nodes = [];
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(hidden * hidden);
    fillWeights(w, l + 1);
    initializers[`w${l}`] = new Tensor('float32', [hidden, hidden], w);
    nodes.push({
      name: `mm${l}`,
      opType: 'MatMul',
      inputs: [l === 0 ? 'x' : `h${l}`, `w${l}`],
      outputs: [l === layers - 1 ? 'y' : `h${l + 1}`],
    });
  }
  const model = createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, hidden] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, hidden] }],
    initializers,
    nodes,
  });
  await writeModel(model, join(folder, 'float.onnx'), { externalData: true });
}

async function plainCopy(folder: string): Promise<void> {
  for (const [from, to] of [
    ['float.onnx', 'copy.onnx'],
    ['float.onnx.data', 'copy.onnx.data'],
  ] as const) {
    const bytes = await readFile(join(folder, from));
    const handle = await open(join(folder, to), 'w');
    await handle.write(bytes, 0, bytes.byteLength, 0);
    await handle.sync();
    await handle.close();
  }
}

async function backendOf(name: string | undefined): Promise<Backend> {
  if (name !== 'wasm') return jsBackend;
  const { selectBackend } = await import('@qgrain/wasm');
  return (await selectBackend()) as Backend;
}

async function quantizeBlocks(folder: string): Promise<Record<string, number>> {
  const backend = await backendOf(flag('--backend'));
  const model = await readModel(join(folder, 'float.onnx'));
  const { report } = await quantize(model, { mode: 'weight-only', weights: SCHEME, format, backend });
  const written = await writeModel(model, join(folder, 'int4.onnx'), { externalData: true });
  return {
    bitsPerWeight: report.totals!.bitsPerWeight,
    writtenBytes: written.modelBytes + written.dataBytes,
    weights: report.weights.length,
  };
}

/** Runs one phase in a child process and returns what it printed (its time and peak RSS). */
function child(name: string, folder: string): Record<string, number> {
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
      '--phase',
      name,
      '--dir',
      folder,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

if (phase && dir) {
  const start = performance.now();
  const extra =
    phase === 'generate'
      ? await generate(dir)
      : phase === 'copy'
        ? await plainCopy(dir)
        : await quantizeBlocks(dir);
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, peakRssBytes: peakRss(), ...extra })}\n`);
} else {
  const folder = mkdtempSync(join(tmpdir(), 'qgrain-int4-bench-'));
  try {
    child('generate', folder);
    const modelBytes = (await readFile(join(folder, 'float.onnx.data'))).byteLength;
    const copy = child('copy', folder);
    const q = child('quantize', folder);
    const result = {
      parameters: layers * hidden * hidden,
      layers,
      hidden,
      format,
      scheme: SCHEME,
      modelBytes,
      quantizeSeconds: q.seconds!,
      readWriteSeconds: copy.seconds!,
      timeRatio: q.seconds! / copy.seconds!,
      peakRssBytes: q.peakRssBytes!,
      rssOverModel: q.peakRssBytes! / modelBytes,
      bitsPerWeight: q.bitsPerWeight!,
      writtenBytes: q.writtenBytes!,
    };
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      process.stdout.write(
        [
          `int4 blocks: ${result.parameters} parameters (${layers} x ${hidden}x${hidden} MatMuls), ${mb(modelBytes)} float32, ${SCHEME} as ${format}`,
          `quantize (read -> quantize -> write): ${result.quantizeSeconds.toFixed(1)} s; plain read+write of the same bytes: ${result.readWriteSeconds.toFixed(1)} s; ratio ${result.timeRatio.toFixed(1)}x`,
          `peak RSS ${mb(result.peakRssBytes)} = ${result.rssOverModel.toFixed(2)}x the model; written ${mb(result.writtenBytes)} at ${result.bitsPerWeight.toFixed(3)} bits per weight`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * This process's peak RSS in bytes: VmHWM, which starts afresh with the process's own address
 * space (getrusage's maxRSS, in KiB, can carry the parent's peak over through fork; it is the
 * fallback where /proc is missing).
 */
function peakRss(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = /VmHWM:\s+(\d+)/.exec(status)?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS * 1024;
}
