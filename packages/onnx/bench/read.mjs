// Read benchmark: our readModel (file read + protobuf decode, weights left as views) against a
// plain fs.readFile of the same bytes, on a generated 80+ MB model. Runs against the built dist.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '@qgrain/tensor';
import { createModel, readModel, writeModel } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const LAYERS = 20;
const WIDTH = 1024; // 20 x 1024 x 1024 float32 = 84 MB of weights
const RUNS = 7;
const TARGET_RATIO = 2;

function randomWeights(count, seed) {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

const dir = mkdtempSync(join(tmpdir(), 'qgrain-bench-read-'));
try {
  const initializers = {};
  const nodes = [];
  for (let l = 0; l < LAYERS; l++) {
    initializers[`w${l}`] = new Tensor('float32', [WIDTH, WIDTH], randomWeights(WIDTH * WIDTH, l + 1));
    nodes.push({
      opType: 'MatMul',
      inputs: [l === 0 ? 'x' : `h${l - 1}`, `w${l}`],
      outputs: [l === LAYERS - 1 ? 'y' : `h${l}`],
    });
  }
  const model = createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, WIDTH] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, WIDTH] }],
    initializers,
    nodes,
  });
  const path = join(dir, 'stack.onnx');
  const { modelBytes } = await writeModel(model, path);

  const readTimes = [];
  const baseTimes = [];
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    let bytes = await readFile(path);
    baseTimes.push(performance.now() - t);
    if (bytes.length !== modelBytes) throw new Error('size mismatch');
    bytes = undefined;
    t = performance.now();
    let read = await readModel(path);
    readTimes.push(performance.now() - t);
    if (read.graph.nodes.length !== LAYERS) throw new Error('bad read');
    read = undefined;
  }
  const ratio = median(readTimes) / median(baseTimes);
  console.log(`model: ${(modelBytes / 1e6).toFixed(1)} MB, ${LAYERS} MatMul layers, median of ${RUNS} runs`);
  console.log(`fs.readFile: ${median(baseTimes).toFixed(1)} ms`);
  console.log(
    `readModel:   ${median(readTimes).toFixed(1)} ms  (${ratio.toFixed(2)}x fs.readFile, target <= ${TARGET_RATIO}x)`,
  );
  // Peak memory, measured in fresh processes (in-process deltas are blurred by buffers the
  // allocator keeps): the peak RSS of a process that reads the model, over the peak RSS of one that
  // only loads the same modules, divided by the file size.
  const peak = (code) =>
    Number(
      // VmHWM (peak RSS) starts afresh with the child's own address space; getrusage's maxRSS
      // would carry over the parent's peak through fork.
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `${code}; const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'); console.log(Number(/VmHWM:\\s+(\\d+)/.exec(s)[1]) * 1024);`,
        ],
        {
          cwd: here,
          encoding: 'utf8',
        },
      ).trim(),
    );
  const idle = peak("await import('../dist/index.js')");
  const reading = peak(
    `const { readModel } = await import('../dist/index.js'); const m = await readModel(${JSON.stringify(path)}); if (!m) process.exit(1)`,
  );
  console.log(
    `peak memory over file size: ${((reading - idle) / modelBytes).toFixed(2)} (1.00 = one copy of the file; weights are views into it)`,
  );
  // A missed target is reported, not fatal: `pnpm bench` runs every bench and prints them all;
  // `--strict` turns it into a failing exit code.
  if (ratio > TARGET_RATIO && process.argv.includes('--strict')) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
