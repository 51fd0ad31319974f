import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExternalDataSpill,
  type Initializer,
  Model,
  createModel,
  readModel,
  serializeModel,
  writeModel,
} from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { SeededRandom } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';
import { type QuantizeOptions, quantize } from './quantize.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-streaming-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const WIDTH = 64;
const LAYERS = 3;

/** x -> (MatMul -> Relu) x 3 -> y, with a Gemm (transB) in the middle: weights for every mode. */
function stack(): Model {
  const rng = new SeededRandom(5);
  const weight = () =>
    new Tensor(
      'float32',
      [WIDTH, WIDTH],
      Float32Array.from({ length: WIDTH * WIDTH }, () => rng.normal() * 0.1),
    );
  const initializers: Record<string, Tensor> = {};
  const nodes = [];
  for (let l = 0; l < LAYERS; l++) {
    initializers[`w${l}`] = weight();
    const input = l === 0 ? 'x' : `a${l - 1}`;
    nodes.push(
      l === 1
        ? {
            name: `mm${l}`,
            opType: 'Gemm',
            inputs: [input, `w${l}`],
            outputs: [`h${l}`],
            attributes: { transB: 1 },
          }
        : { name: `mm${l}`, opType: 'MatMul', inputs: [input, `w${l}`], outputs: [`h${l}`] },
      { name: `relu${l}`, opType: 'Relu', inputs: [`h${l}`], outputs: [l === LAYERS - 1 ? 'y' : `a${l}`] },
    );
  }
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [2, WIDTH] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2, WIDTH] }],
    initializers,
    nodes,
  });
}

const RANGES = Object.fromEntries(
  ['x', 'a0', 'a1', 'h0', 'h1', 'h2', 'y'].map((t) => [t, { min: -4, max: 4 }]),
);

const MODES: { name: string; options: QuantizeOptions }[] = [
  { name: 'int4 blocks, qdq', options: { mode: 'weight-only' } },
  { name: 'int4 blocks, matmulnbits', options: { mode: 'weight-only', format: 'matmulnbits' } },
  { name: 'int4 blocks, mse clip', options: { mode: 'weight-only', clip: 'mse' } },
  { name: 'int8 per channel, weights only', options: { mode: 'weight-only', weights: 'int8/per-channel' } },
  { name: 'dynamic', options: { mode: 'dynamic' } },
  { name: 'static', options: { ranges: RANGES } },
];

describe('quantize, weight by weight into a spill file', () => {
  it.each(MODES)(
    '$name: the same bytes as in memory, every new weight out of memory',
    async ({ name, options }) => {
      const inMemory = stack();
      await quantize(inMemory, options);
      const expected = serializeModel(inMemory);

      // The float model with its weights in external data, quantized with each weight's output
      // moved to a spill file as soon as it is written.
      const path = join(work, `${name}.onnx`);
      await writeModel(stack(), path, { externalData: true, threshold: 0 });
      const read = await readModel(path);
      const spill = ExternalDataSpill.create(work, name);
      const model = new Model(read.proto, { externalData: spill.over(read.externalData) });
      const calls: string[][] = [];
      await quantize(model, {
        ...options,
        onWeightWritten: (added: readonly Initializer[]) => {
          calls.push(added.map((i) => i.name));
          for (const init of added) spill.spill(init.proto, init.bytes());
        },
      });
      // One call per weight (static adds one for its biases), each with that weight's tensors.
      expect(calls.filter((c) => c.length > 0).length).toBeGreaterThanOrEqual(LAYERS);
      expect(new Set(calls.flat()).size).toBe(calls.flat().length);
      for (const init of model.graph.initializers()) {
        if (calls.flat().includes(init.name)) expect(init.storage, init.name).toBe('external');
      }
      expect(Buffer.from(serializeModel(model)).equals(Buffer.from(expected))).toBe(true);
      spill.remove();
    },
  );
});
