import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ACTIVATION_SCHEME, DEFAULT_CALIBRATION_METHOD } from '@qgrain/pipeline';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStack } from '../../bench/scale/generate-stack.mjs';
import { capturedIO } from '../../test/captured-io.js';
import { main } from '../program.js';
import { quantizeCommand } from './quantize.js';

// --threads: the streamed CLI path (weights spilled to the data file as they are written) gives
// the same two files on one thread and on several.

const HIDDEN = 64;
const LAYERS = 3;

let work: string;
let stack: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-quantize-threads-'));
  stack = (await generateStack({ hidden: HIDDEN, layers: LAYERS, out: join(work, 'stack') })).model;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The model file and its data file, quantized with external data on `threads` threads. */
async function quantizedFiles(name: string, threads: number, weights: string, format: 'qdq' | 'matmulnbits') {
  const folder = join(work, name);
  const output = join(folder, 'out.onnx');
  await quantizeCommand(
    stack,
    {
      output,
      weightsOnly: true,
      weights,
      format,
      clip: 'rtn',
      method: DEFAULT_CALIBRATION_METHOD,
      activations: DEFAULT_ACTIVATION_SCHEME,
      externalData: true,
      externalDataThreshold: 0,
      threads,
      // The stack is small: start the workers anyway.
      minParallelElements: 0,
    },
    {},
    capturedIO(),
  );
  const data = readdirSync(folder).find((f) => f.endsWith('.data'))!;
  return { output, model: readFileSync(output), data: readFileSync(join(folder, data)) };
}

describe('qgrain quantize --threads', () => {
  it.each([
    ['int4/per-block:32', 'qdq'],
    ['int4/per-block:32', 'matmulnbits'],
    ['int8/per-channel', 'qdq'],
  ] as const)(
    '%s %s: the files of --threads 2 are those of --threads 1, and onnxruntime runs them',
    async (weights, format) => {
      const tag = `${weights.replaceAll(/[/:]/g, '-')}-${format}`;
      const one = await quantizedFiles(`${tag}-1`, 1, weights, format);
      const two = await quantizedFiles(`${tag}-2`, 2, weights, format);
      expect(two.model.equals(one.model)).toBe(true);
      expect(two.data.equals(one.data)).toBe(true);
      const session = await ort.InferenceSession.create(two.output);
      try {
        const x = new ort.Tensor(
          'float32',
          Float32Array.from({ length: 5 * HIDDEN }, (_, i) => Math.sin(i * 0.37)),
          [1, 5, HIDDEN],
        );
        const y = (await session.run({ x })).y!.data as Float32Array;
        expect(y.every(Number.isFinite)).toBe(true);
      } finally {
        await session.release();
      }
    },
  );

  it.each(['0', '-1', '1.5', 'two', ''])("--threads '%s' exits 2 before reading the model", async (value) => {
    const io = capturedIO();
    const code = await main(
      [
        'quantize',
        join(work, 'missing.onnx'),
        '-o',
        join(work, 'x.onnx'),
        '--weights-only',
        '--threads',
        value,
      ],
      io,
    );
    expect(code).toBe(2);
    expect(io.stderr()).toContain('--threads');
  });
});
