// Run by weight-pool.test.ts as a process of its own: a NaN weight quantized on two worker threads
// must end the process by itself (the pool stops its workers on the way out), after printing the
// error the caller got. A pool left running would keep the process alive.
import { createModel } from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { quantize } from '../src/quantize.js';

const initializers: Record<string, Tensor> = {};
const nodes = [];
let x = 'x';
for (let l = 0; l < 4; l++) {
  const values = Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i + l));
  if (l === 2) values[9] = Number.NaN;
  initializers[`w${l}`] = new Tensor('float32', [64, 64], values);
  nodes.push({ opType: 'MatMul', name: `mm${l}`, inputs: [x, `w${l}`], outputs: [`h${l}`] });
  x = `h${l}`;
}
const model = createModel({
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }],
  outputs: [{ name: x, dtype: 'float32', shape: [1, 64] }],
  nodes,
  initializers,
});
try {
  await quantize(model, { mode: 'weight-only', threads: 2, minParallelElements: 0 });
  console.log('no error');
} catch (error) {
  console.log(QgrainError.isInstance(error) ? `${error.code}: ${error.message}` : `other: ${error}`);
}
