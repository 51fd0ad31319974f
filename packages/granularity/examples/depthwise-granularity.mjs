// The lesson behind qgrain, on a synthetic depthwise convolution: when channel ranges differ by
// 100x, one int8 scale for the whole tensor crushes the small channels, one scale per channel
// keeps every channel accurate, and blocks of 32 weights land in between.
//
// Run: node packages/granularity/examples/depthwise-granularity.mjs  (after `pnpm build`)
import {
  dequantize,
  parseQuantSpec,
  qparamsFromData,
  quantize,
  sqnr,
  storageCost,
} from '@qgrain/granularity';

const CHANNELS = 64;
const KERNEL = 9; // 3x3, one input channel per output channel (depthwise)
const shape = [CHANNELS, 1, 3, 3];

// Seeded generator so the printed table is the same on every machine.
let state = 12345;
function uniform() {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 2 ** 32;
}

// Channel c spans +/- 10^(-2 * c / (C - 1)): from 1 down to 0.01, a 100x spread.
const weights = new Float32Array(CHANNELS * KERNEL);
for (let c = 0; c < CHANNELS; c++) {
  const range = 10 ** ((-2 * c) / (CHANNELS - 1));
  for (let k = 0; k < KERNEL; k++) weights[c * KERNEL + k] = (2 * uniform() - 1) * range;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Per-block groups run over the flattened weight: 32 consecutive weights (about 3.5 channels).
const schemes = [
  ['int8/per-tensor', shape],
  ['int8/per-channel', shape],
  ['int8/per-block:32', [CHANNELS * KERNEL]],
];

const rows = schemes.map(([text, viewShape]) => {
  const spec = parseQuantSpec(text);
  const qp = qparamsFromData(weights, viewShape, spec);
  const restored = dequantize(quantize(weights, qp), qp);
  // Each output channel of a depthwise conv sees only its own 9 weights, so the error that
  // matters is per channel; the whole-tensor SQNR is dominated by the largest channels.
  const channelSqnr = Array.from({ length: CHANNELS }, (_, c) =>
    sqnr(weights.subarray(c * KERNEL, (c + 1) * KERNEL), restored.subarray(c * KERNEL, (c + 1) * KERNEL)),
  );
  return {
    scheme: text,
    tensorSqnr: sqnr(weights, restored),
    medianChannelSqnr: median(channelSqnr),
    worstChannelSqnr: Math.min(...channelSqnr),
    bitsPerElement: storageCost(viewShape, spec).bitsPerElement,
  };
});

const fmt = (v) => v.toFixed(2).padStart(8);
console.log(`depthwise conv weight [${shape.join(', ')}], channel ranges 1 .. 0.01 (100x)`);
console.log('scheme              tensor SQNR  median channel SQNR  worst channel SQNR  bits/element');
for (const r of rows) {
  console.log(
    `${r.scheme.padEnd(18)}  ${fmt(r.tensorSqnr)} dB  ${fmt(r.medianChannelSqnr)} dB          ${fmt(r.worstChannelSqnr)} dB         ${fmt(r.bitsPerElement)}`,
  );
}
const gain = rows[1].medianChannelSqnr - rows[0].medianChannelSqnr;
console.log(`per-channel over per-tensor: +${gain.toFixed(2)} dB median channel SQNR`);
