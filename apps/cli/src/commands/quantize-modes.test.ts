import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../captured-io.js';
import { main } from '../program.js';
import type { QuantizeCommandDocument } from './quantize.js';

/**
 * How far the file may be from the size the report predicts, per quantized weight: each adds a
 * DequantizeLinear (and a Cast for float16 scales) or a MatMulNBits node, and two or three tensor
 * headers with their names, a few hundred bytes; the opset upgrade's own rewrites of rec (Softmax,
 * Clip, Slice, ReduceMean) add about as much again. Storing a weight's scales in the wrong type
 * would miss by kilobytes per weight, far outside this.
 */
const OVERHEAD_PER_WEIGHT_BYTES = 1024;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-quantize-modes-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function quantize(
  args: string[],
): Promise<{ code: number; doc: QuantizeCommandDocument; stderr: string }> {
  const io = capturedIO();
  const code = await main(['quantize', realModel('ppocr-v4-rec').path, ...args, '--json'], io);
  return {
    code,
    doc: code === 0 ? (JSON.parse(io.stdout()) as QuantizeCommandDocument) : ({} as never),
    stderr: io.stderr(),
  };
}

describe('qgrain quantize --weights-only / --dynamic (no calibration data)', () => {
  it.each(['qdq', 'matmulnbits'])(
    '--weights-only int4/per-block:32/f16-scale --format %s',
    async (format) => {
      const out = join(work, `rec-${format}.onnx`);
      const { code, doc } = await quantize([
        '-o',
        out,
        '--weights-only',
        '--weights',
        'int4/per-block:32/f16-scale',
        '--format',
        format,
      ]);
      expect(code).toBe(0);
      const storage = doc.weight_storage!;
      expect(storage.layers).toHaveLength(9);
      expect(storage.layers.every((l) => l.form === format)).toBe(true);
      // rec's MatMuls have K = 120 or 240: 4 + 16 * ceil(K / 32) / K = 4.533 with float16 scales
      // (MatMulNBits pads K to 128/256 and keeps float32 scales: 4 * 128/120 + 32 * 4/120 = 5.333).
      expect(storage.bits_per_weight).toBeCloseTo(format === 'qdq' ? 4 + (16 * 4) / 120 : 5 + 1 / 3, 6);
      expect(storage.file_bytes).toBe(statSync(out).size);
      expect(Math.abs(storage.file_bytes - storage.predicted_file_bytes)).toBeLessThan(
        OVERHEAD_PER_WEIGHT_BYTES * storage.layers.length,
      );
      expect(doc.settings).toMatchObject({ mode: 'weights-only', format, activations: 'float' });
    },
  );

  it('--dynamic int8/per-token writes MatMulInteger layers without data', async () => {
    const { code, doc } = await quantize(['-o', join(work, 'rec-dyn.onnx'), '--dynamic', 'int8/per-token']);
    expect(code).toBe(0);
    expect(doc.layers).toHaveLength(9);
    expect(doc.layers.every((l) => l.scheme === 'int8/per-channel')).toBe(true);
    expect(doc.settings).toMatchObject({ mode: 'dynamic', activations: 'int8/per-token' });
  });

  it('rejects an unknown --format and a dynamic scheme it cannot compute', async () => {
    expect((await quantize(['-o', join(work, 'x.onnx'), '--weights-only', '--format', 'gguf'])).code).toBe(2);
    // A bad option value is a command-line error (exit 2), found before the model is read.
    const bad = await quantize(['-o', join(work, 'y.onnx'), '--dynamic', 'int4/per-token']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dynamic 'int4\/per-token': expected int8\/per-token or uint8\/per-tensor/);
  });

  it('--weights-only with an explicit int8/per-channel quantizes every weight op, Conv included', async () => {
    const out = join(work, 'rec-int8-weights.onnx');
    const { code, doc } = await quantize(['-o', out, '--weights-only', '--weights', 'int8/per-channel']);
    expect(code).toBe(0);
    const ops = new Set(doc.layers.map((l) => l.op));
    expect(ops.has('Conv')).toBe(true);
    expect(ops.has('MatMul')).toBe(true);
    expect(doc.layers.every((l) => l.scheme === 'int8/per-channel' && l.input === null)).toBe(true);
    // int8 weights: about a quarter of the float file.
    expect(statSync(out).size / statSync(realModel('ppocr-v4-rec').path).size).toBeLessThan(0.3);
  });
});
