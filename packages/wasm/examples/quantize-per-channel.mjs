// Quantize a [2, 4] weight to int8 per output channel with the WASM backend (run after `pnpm build`).
import { jsBackend, perAxisLayout } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';

const backend = await selectBackend('auto'); // WASM SIMD, or the JS reference with a warning
const weight = new Float32Array([0.5, -1.25, 2.5, 0.0625, 10, -20, 5, 0.15]);
const layout = perAxisLayout([2, 4], 0);

const absMax = new Float32Array(2);
backend.absMax(weight, layout, absMax);
const scale = absMax.map((m) => m / 127);
const zeroPoint = new Int32Array(2);
const range = { storage: 'int8', qmin: -127, qmax: 127 };
const q = new Int8Array(8);
backend.quantize(weight, layout, scale, zeroPoint, range, q);
const expected = new Int8Array(8);
jsBackend.quantize(weight, layout, scale, zeroPoint, range, expected);

console.log(backend.name, Array.from(absMax), Array.from(q));
console.log(
  'same as jsBackend:',
  q.every((v, i) => v === expected[i]),
);
