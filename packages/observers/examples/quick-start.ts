import { quantSpec } from '@qgrain/granularity';
import { createObserver, observerFromJSON, qparamsFromObserver } from '@qgrain/observers';

// A post-ReLU-like activation of shape [8, 100] (exponentially distributed values), streamed
// in 4 batches; one value is an outlier.
function batch(k: number): Float32Array {
  const x = new Float32Array(800);
  for (let i = 0; i < x.length; i++) {
    const u = ((i + 800 * k) * 0.6180339887) % 1; // evenly spread points in [0, 1)
    x[i] = -Math.log(1 - u);
  }
  if (k === 2) x[5] = 40;
  return x;
}
const batches = [0, 1, 2, 3].map(batch);

// One observer per method, each seeing every batch.
for (const method of ['minmax', 'percentile:99', 'entropy', 'mse']) {
  const observer = createObserver(method, { name: 'relu_out' });
  for (const x of batches) observer.observe(x, [8, 100]);
  const { min, max } = observer.range();
  console.log(`${method.padEnd(13)} [${min[0]!.toFixed(4)}, ${max[0]!.toFixed(4)}]`);
}

// Calibration split across two workers, saved as JSON, merged later: same range as one pass.
const first = createObserver('percentile:99', { name: 'relu_out' });
const second = createObserver('percentile:99', { name: 'relu_out' });
first.observe(batches[0]!, [8, 100]);
first.observe(batches[1]!, [8, 100]);
second.observe(batches[2]!, [8, 100]);
second.observe(batches[3]!, [8, 100]);
const merged = observerFromJSON(JSON.parse(JSON.stringify(first.toJSON())));
merged.merge(second);
console.log(`merged        [${merged.range().min[0]!.toFixed(4)}, ${merged.range().max[0]!.toFixed(4)}]`);

// The range becomes uint8 scale and zero point for QuantizeLinear.
const qparams = qparamsFromObserver(merged, quantSpec('uint8', 'per-tensor'));
console.log(`uint8 scale ${qparams.scale[0]!.toFixed(6)} zero point ${qparams.zeroPoint[0]}`);
