// Read benchmark: our readModel (file read + protobuf decode, weights left as views) against a
// plain fs.readFile of the same bytes, on a generated 80+ MB model. Runs against the built dist.
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '@qgrain/tensor';
import { createModel, readModel, writeModel } from '../dist/index.js';

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
  const memory = [];
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const bytes = await readFile(path);
    baseTimes.push(performance.now() - t);
    if (bytes.length !== modelBytes) throw new Error('size mismatch');

    globalThis.gc?.();
    const before = process.memoryUsage();
    t = performance.now();
    const read = await readModel(path);
    readTimes.push(performance.now() - t);
    const after = process.memoryUsage();
    memory.push(Math.max(after.rss - before.rss, after.arrayBuffers - before.arrayBuffers) / modelBytes);
    if (read.graph.nodes.length !== LAYERS) throw new Error('bad read');
  }
  const ratio = median(readTimes) / median(baseTimes);
  console.log(`model: ${(modelBytes / 1e6).toFixed(1)} MB, ${LAYERS} MatMul layers, median of ${RUNS} runs`);
  console.log(`fs.readFile: ${median(baseTimes).toFixed(1)} ms`);
  console.log(
    `readModel:   ${median(readTimes).toFixed(1)} ms  (${ratio.toFixed(2)}x fs.readFile, target <= ${TARGET_RATIO}x)`,
  );
  console.log(`memory increase / file size: ${median(memory).toFixed(2)} (1.00 = one copy of the file)`);
  if (ratio > TARGET_RATIO) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
