// Kernel throughput of the JS reference and the WASM backend, next to a same-run memory copy.
// Run after `pnpm build`: `pnpm bench:kernels` (add `--json` for machine-readable output).
// GB/s counts bytes read + written. The WASM backend runs on arrays that live in its memory
// (allocateFloat32 / allocateStorage), the zero-copy way to use it; `wasm_staged_gbps` is the same
// kernel on ordinary arrays, which pays a copy into and out of wasm memory.
// The `floor:` rows time loops that do only part of a kernel's work (bench/floors.ts, compiled
// here), counted with the kernel's bytes: how far that part alone gets next to the same copy.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsBackend, perAxisLayout, perBlockLayout, perTensorLayout } from '@qgrain/tensor';
import { createWasmBackend } from '../dist/index.js';

// Medians of this many timed runs (after one warm-up) per measurement.
const RUNS = 7;
const SIZES = [1 << 20, 1 << 24];
// Channels of the [C, K] weight in the per-channel cases: a typical conv/linear output dim.
const CHANNELS = 256;
// Block size of the per-block case: MatMulNBits' usual 32.
const BLOCK = 32;
const json = process.argv.includes('--json');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// Median seconds of each function. The functions run round-robin (one warm-up round, then RUNS
// timed rounds), so on a shared machine a burst of background load hits the kernels and the copy
// baseline alike instead of whichever happened to be measuring at the time.
function timeRounds(fns) {
  for (const fn of fns) fn();
  const runs = fns.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    fns.forEach((fn, k) => {
      const t0 = performance.now();
      fn();
      runs[k].push(performance.now() - t0);
    });
  }
  return runs.map((t) => median(t) / 1000);
}

function fill(x, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32 - 0.5) * 6;
  }
}

// Compiles bench/floors.ts (as scripts/build-wasm.mjs compiles the kernels) and instantiates it.
async function loadFloors() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const require = createRequire(import.meta.url);
  const asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin', 'asc.js');
  const file = join(root, 'build', 'floors.wasm');
  mkdirSync(join(root, 'build'), { recursive: true });
  const args = ['bench/floors.ts', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'];
  execFileSync(process.execPath, [asc, ...args, '--outFile', file], { cwd: root, stdio: 'inherit' });
  const { instance } = await WebAssembly.instantiate(readFileSync(file));
  return instance.exports;
}

const wasm = await createWasmBackend();
const floors = await loadFloors();
const rows = [];
for (const n of SIZES) {
  const plainX = new Float32Array(n);
  fill(plainX, n);
  const residentX = wasm.allocateFloat32(n);
  residentX.array.set(plainX);
  const int8 = { storage: 'int8', qmin: -128, qmax: 127 };
  const int4 = { storage: 'int4', qmin: -8, qmax: 7 };
  const channel = perAxisLayout([CHANNELS, n / CHANNELS], 0);
  const block = perBlockLayout([CHANNELS, n / CHANNELS], 1, BLOCK);
  const tensor = perTensorLayout([n]);
  const cScale = new Float32Array(CHANNELS).fill(3 / 127);
  const cZp = new Int32Array(CHANNELS);
  const bScale = new Float32Array(block.groups).fill(3 / 7);
  const bZp = new Int32Array(block.groups);
  const q8 = { plain: new Int8Array(n), resident: wasm.allocateStorage('int8', n) };
  const q4 = { plain: new Uint8Array(n / 2), resident: wasm.allocateStorage('int4', n) };
  const f = { plain: new Float32Array(n), resident: wasm.allocateFloat32(n) };
  jsBackend.quantize(plainX, channel, cScale, cZp, int8, q8.plain);
  q8.resident.array.set(q8.plain);
  const counts = new Float64Array(2048);
  const kernels = [
    ['absmax-per-channel', 4 * n, (b, x) => b.absMax(x(), channel, new Float32Array(CHANNELS))],
    ['minmax-per-tensor', 4 * n, (b, x) => b.minMax(x(), tensor, new Float32Array(1), new Float32Array(1))],
    ['histogram-2048', 4 * n, (b, x) => b.histogram(x(), -3, 3, counts)],
    ['quantize-int8-per-channel', 5 * n, (b, x, r) => b.quantize(x(), channel, cScale, cZp, int8, r(q8))],
    ['quantize-int4-per-block32', 4.5 * n, (b, x, r) => b.quantize(x(), block, bScale, bZp, int4, r(q4))],
    [
      'dequantize-int8-per-channel',
      5 * n,
      (b, _x, r) => b.dequantize(r(q8), channel, cScale, cZp, int8, r(f)),
    ],
    ['fakequant-int8-per-channel', 8 * n, (b, x, r) => b.fakeQuant(x(), channel, cScale, cZp, int8, r(f))],
    ['quanterror-int8-per-channel', 4 * n, (b, x) => b.quantError(x(), channel, cScale, cZp, int8)],
    ['unpack-int4', 1.5 * n, (b, _x, r) => b.unpackInt4(r(q4), r(q8))],
  ];
  for (const [kernel, bytes, run] of kernels) {
    const plain = (pair) => pair.plain;
    const resident = (pair) => pair.resident.array;
    // A copy of the same number of bytes the kernel moves, counted the same way (read + written).
    const src = new Uint8Array(bytes / 2);
    const dst = new Uint8Array(bytes / 2);
    const [jsTime, wasmTime, stagedTime, copyTime] = timeRounds([
      () => run(jsBackend, () => plainX, plain),
      () => run(wasm, () => residentX.array, resident),
      () => run(wasm, () => plainX, plain),
      () => dst.set(src),
    ]);
    const gbps = (t) => Number((bytes / t / 1e9).toFixed(2));
    rows.push({
      kernel,
      elements: n,
      js_gbps: gbps(jsTime),
      wasm_gbps: gbps(wasmTime),
      copy_gbps: gbps(copyTime),
      wasm_staged_gbps: gbps(stagedTime),
    });
    if (!json) {
      const r = rows.at(-1);
      console.log(
        `${kernel.padEnd(30)} n=${String(n).padStart(8)}  js ${String(r.js_gbps).padStart(6)}  wasm ${String(r.wasm_gbps).padStart(6)}` +
          `  staged ${String(r.wasm_staged_gbps).padStart(6)}  copy ${String(r.copy_gbps).padStart(6)} GB/s` +
          `  wasm/js ${(r.wasm_gbps / r.js_gbps).toFixed(1)}x  wasm/copy ${((100 * r.wasm_gbps) / r.copy_gbps).toFixed(0)}%`,
      );
    }
  }
  // The floors, on a copy of the same data in the floor module's memory.
  const fx = floors.grow(4 * n + n / 2 + 16 * 2048);
  const fOut = fx + 4 * n;
  const fTable = fOut + n / 2;
  new Float32Array(floors.memory.buffer, fx, n).set(plainX);
  const floorRuns = [
    ['floor:divide-only', 'quantize-int4-per-block32', 4.5 * n, () => floors.divideOnly(fx, n, 3 / 7)],
    ['floor:int4-one-scale', 'quantize-int4-per-block32', 4.5 * n, () => floors.int4Only(fx, n, 3 / 7, fOut)],
    ['floor:error-sums-only', 'quanterror-int8-per-channel', 4 * n, () => floors.errorSumsOnly(fx, n)],
    ['floor:count-only', 'histogram-2048', 4 * n, () => floors.countOnly(fx, n, fTable)],
  ];
  for (const [kernel, of, bytes, run] of floorRuns) {
    const src = new Uint8Array(bytes / 2);
    const dst = new Uint8Array(bytes / 2);
    const [floorTime, copyTime] = timeRounds([run, () => dst.set(src)]);
    const gbps = (t) => Number((bytes / t / 1e9).toFixed(2));
    rows.push({ kernel, of, elements: n, floor_gbps: gbps(floorTime), copy_gbps: gbps(copyTime) });
    if (!json) {
      const r = rows.at(-1);
      console.log(
        `${kernel.padEnd(30)} n=${String(n).padStart(8)}  floor ${String(r.floor_gbps).padStart(6)}` +
          `  copy ${String(r.copy_gbps).padStart(6)} GB/s  floor/copy ${((100 * r.floor_gbps) / r.copy_gbps).toFixed(0)}%` +
          `  (part of ${of})`,
      );
    }
  }
}
if (json) console.log(JSON.stringify(rows, null, 2));
