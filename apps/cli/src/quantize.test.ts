import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel } from '@qgrain/onnx';
import { decodeNpy, encodeNpy } from '@qgrain/pipeline';
import type { Tensor } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { leadingSamples, readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';
import type { QuantizationReportDocument } from '@qgrain/pipeline';

/**
 * Stored bytes over the float model's. int8 weights alone are 25% of a float model; det and rec
 * (large convs and MatMuls) stay under 30%. The 0.57 MB direction classifier cannot: about 9
 * weights a channel in its depthwise layers means its int32 biases and float32 per-channel scales
 * (what onnxruntime's integer kernels take) add ~7% and the Q/DQ graph ~12%, so it lands near
 * 40% (the report's size breakdown shows the parts); the bound there only guards against growth.
 */
const MAX_SIZE_RATIO: Record<string, number> = { det: 0.3, rec: 0.3, cls: 0.42 };
const WEIGHT_OPS = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

let work: string;
const data: Record<string, string> = {};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-quantize-'));
  const det = readOcrArray('calibration', 'calib_det.npy.gz');
  const rec = readOcrArray('calibration', 'calib_rec.npy.gz');
  // Few samples keep the test quick; accuracy on the full sets is measured by pnpm eval:ocr.
  const write = (name: string, t: Tensor) => {
    const path = join(work, `${name}.npy`);
    writeFileSync(path, encodeNpy(t));
    data[name] = path;
  };
  write('det', leadingSamples(det, 3));
  write('rec', leadingSamples(rec, 8));
  write('cls', leadingSamples(rec, 8, 192)); // the direction classifier reads 48x192 crops of text lines
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = capturedIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

const MODELS = [
  ['ppocr-v4-det', 'det'],
  ['ppocr-v4-rec', 'rec'],
  ['ppocr-cls', 'cls'],
] as const;
const METHODS = ['default', 'minmax', 'percentile', 'entropy', 'mse'] as const;

describe.each(MODELS)('qgrain quantize %s', (id, set) => {
  it.each(METHODS)('%s: loads and runs in onnxruntime-node, weights int8, size bound', async (method) => {
    const source = realModel(id).path;
    const before = readFileSync(source);
    const out = join(work, `${id}-${method}.onnx`);
    const args = ['quantize', source, '-o', out, '--data', data[set]!];
    const reportPath = join(work, `${id}-${method}.json`);
    if (method !== 'default') args.push('--method', method);
    else args.push('--report', reportPath);
    const result = await run(args);
    expect(result.stderr).toContain('size ');
    expect(result.code).toBe(0);
    expect(readFileSync(source).equals(before)).toBe(true);
    expect(statSync(out).size / statSync(source).size).toBeLessThanOrEqual(MAX_SIZE_RATIO[set]!);

    const model = await readModel(out);
    // Every constant weight is stored as int8 behind a DequantizeLinear; MatMuls of two
    // activations (attention) have no weight.
    let weights = 0;
    for (const node of model.graph.nodes.filter((n) => WEIGHT_OPS.has(n.opType))) {
      const name = node.input[1]!;
      expect(model.graph.initializer(name), `float weight '${name}' left on ${node.name}`).toBeUndefined();
      const dq = model.graph.producer(name);
      if (dq?.opType !== 'DequantizeLinear') continue;
      expect(model.graph.initializer(dq.input[0]!)?.dtype, `weight '${dq.input[0]}'`).toBe('int8');
      weights++;
    }
    expect(weights).toBeGreaterThan(10);
    if (method === 'default') {
      // The size breakdown: one byte per weight element of the report's layers, the rest of the
      // file elsewhere.
      const doc = JSON.parse(readFileSync(reportPath, 'utf8')) as QuantizationReportDocument;
      const elements = new Map(doc.layers.map((l) => [l.weight, l.shape.reduce((a, b) => a * b, 1)]));
      const b = doc.size.breakdown;
      expect(b.quantized_weights).toBe([...elements.values()].reduce((a, b) => a + b, 0));
      expect(b.int32_biases).toBeGreaterThan(0);
      expect(b.scales_and_zero_points).toBeGreaterThan(0);
      expect(b.graph).toBeGreaterThan(0);
      expect(result.stderr).toMatch(/quantized weights .* int32 biases .* graph /);
    }
    const session = await ort.InferenceSession.create(out);
    const first = decodeNpy(readFileSync(data[set]!), data[set]!).sample(0) as Tensor<'float32'>;
    const x = new ort.Tensor('float32', first.data, first.shape);
    const y = (await session.run({ [session.inputNames[0]!]: x }))[session.outputNames[0]!]!;
    expect((y.data as Float32Array).every(Number.isFinite)).toBe(true);
    await session.release();
  });
});

describe('qgrain quantize safety', () => {
  it('refuses to overwrite its input and leaves it unchanged', async () => {
    const copy = join(work, 'rec-copy.onnx');
    writeFileSync(copy, readFileSync(realModel('ppocr-v4-rec').path));
    const before = readFileSync(copy);
    const result = await run(['quantize', copy, '-o', copy, '--data', data.rec!]);
    expect(result.code).toBe(2);
    expect(readFileSync(copy).equals(before)).toBe(true);
  });

  it('a failing run (data of the wrong shape) exits 1 and leaves no output file behind', async () => {
    const dir = mkdtempSync(join(work, 'fail-'));
    const out = join(dir, 'out.onnx');
    const result = await run([
      'quantize',
      realModel('ppocr-v4-rec').path,
      '-o',
      out,
      '--data',
      data.det!,
      '--report',
      join(dir, 'r.json'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/input 'x': expected float32/);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it('is deterministic: two runs write byte-identical models', async () => {
    const a = join(work, 'det-a.onnx');
    const b = join(work, 'det-b.onnx');
    for (const out of [a, b])
      expect(
        (await run(['quantize', realModel('ppocr-v4-det').path, '-o', out, '--data', data.det!])).code,
      ).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });
});
