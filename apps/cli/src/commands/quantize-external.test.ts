import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, serializeModel } from '@qgrain/onnx';
import { DEFAULT_ACTIVATION_SCHEME, DEFAULT_CALIBRATION_METHOD } from '@qgrain/pipeline';
import { assertBitEqual } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStack } from '../../bench/scale/generate-stack.mjs';
import { capturedIO } from '../../test/captured-io.js';
import { main } from '../program.js';
import { quantizeCommand } from './quantize.js';

/** Width of the generated stack: small enough to run in a second, with blocks and channels to spare. */
const HIDDEN = 64;
const LAYERS = 3;
/** Far below any real output, so every model here passes it and goes to external data unasked. */
const LOW_LIMIT = 4096;

let work: string;
let stack: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-quantize-external-'));
  stack = (await generateStack({ hidden: HIDDEN, layers: LAYERS, out: join(work, 'stack') })).model;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function outputs(path: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  try {
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * 5 * HIDDEN }, (_, i) => Math.sin(i * 0.37) * 2),
      [2, 5, HIDDEN],
    );
    return (await session.run({ x })).y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const CASES = [
  { name: 'int4 blocks, qdq', weights: 'int4/per-block:32', format: 'qdq' as const },
  { name: 'int4 blocks, matmulnbits', weights: 'int4/per-block:32', format: 'matmulnbits' as const },
  { name: 'int8 per channel', weights: 'int8/per-channel', format: 'qdq' as const },
];

describe('qgrain quantize writes external data when the output would pass the one-file limit', () => {
  it.each(CASES)('$name: same bytes as the in-memory path, and onnxruntime runs it', async (c) => {
    const inline = join(work, `${c.name}-inline.onnx`);
    const io = capturedIO();
    const flags = ['--weights-only', '--weights', c.weights, '--format', c.format];
    expect(await main(['quantize', stack, '-o', inline, ...flags], io)).toBe(0);
    expect(existsSync(`${inline}.data`)).toBe(false);

    const external = join(work, `${c.name}-external.onnx`);
    const doc = await quantizeCommand(
      stack,
      {
        output: external,
        weightsOnly: true,
        weights: c.weights,
        format: c.format,
        clip: 'rtn',
        method: DEFAULT_CALIBRATION_METHOD,
        activations: DEFAULT_ACTIVATION_SCHEME,
        externalDataLimit: LOW_LIMIT,
      },
      {},
      capturedIO(),
    );
    expect(
      doc.warnings.some((w) =>
        w.includes(`initializers of 1024 bytes or more were written to ${c.name}-external.onnx.data`),
      ),
    ).toBe(true);
    const read = await readModel(external);
    expect(read.graph.initializers().some((i) => i.storage === 'external')).toBe(true);
    // Inlined again, the external model is the in-memory path's file byte for byte.
    expect(Buffer.from(serializeModel(read)).equals(readFileSync(inline))).toBe(true);
    assertBitEqual(await outputs(external), await outputs(inline), `${c.name}: outputs`);
  });

  it('--external-data-threshold 0 puts every initializer in the data file', async () => {
    const out = join(work, 'all-external.onnx');
    const io = capturedIO();
    expect(
      await main(['quantize', stack, '-o', out, '--weights-only', '--external-data-threshold', '0'], io),
    ).toBe(0);
    expect(io.stderr()).not.toContain('protobuf');
    const read = await readModel(out);
    expect(read.graph.initializers().every((i) => i.storage === 'external')).toBe(true);
    const inline = join(work, 'default-inline.onnx');
    expect(await main(['quantize', stack, '-o', inline, '--weights-only'], capturedIO())).toBe(0);
    expect(Buffer.from(serializeModel(read)).equals(readFileSync(inline))).toBe(true);
  });
});
