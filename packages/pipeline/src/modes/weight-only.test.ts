import { readFileSync } from 'node:fs';
import { maxAbsError, sqnr } from '@qgrain/granularity';
import { type Model, createModel, prepareModel, readModel, serializeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { SeededRandom, ocrDataPath, realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { gunzipBytes } from '../data/gzip.js';
import { decodeNpy } from '../data/npy.js';
import { quantize } from '../quantize.js';

/** Text lines of the real calibration set fed to rec: a few keep the test quick. */
const LINES = 4;
/**
 * The two forms compute the same function up to float32 summation order; on rec's softmax
 * outputs (probabilities in [0, 1]) they measured 2.2e-6 apart, so 1e-5 is float noise.
 */
const FORM_AGREEMENT = 1e-5;
/**
 * onnxruntime's optimizer fuses DequantizeLinear(block) -> MatMul into MatMulNBits with
 * accuracy_level 4 (int8 A) unless told otherwise; level 1 keeps that fused QDQ form in float,
 * so both forms are compared as written.
 */
const SESSION = { extra: { session: { qdq_matmulnbits_accuracy_level: '1' } } };

let input: ort.Tensor;

beforeAll(() => {
  const path = ocrDataPath('calibration', 'calib_rec.npy.gz');
  const rec = decodeNpy(gunzipBytes(readFileSync(path), path), path).tensor();
  const per = rec.data.length / rec.shape[0]!;
  const lines = (rec.data as Float32Array).slice(0, LINES * per);
  input = new ort.Tensor('float32', lines, [LINES, ...rec.shape.slice(1)]);
});

async function rec(): Promise<Model> {
  const model = await readModel(realModel('ppocr-v4-rec').path);
  prepareModel(model, { foldBatchNorm: true });
  return model;
}

async function run(model: Model): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(serializeModel(model), SESSION);
  try {
    const out = await session.run({ x: input });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

describe('weight-only int4 blocks on PP-OCRv4 rec', () => {
  it('runs in onnxruntime-node as blocked DequantizeLinear and as MatMulNBits, and the two agree', async () => {
    const float = await run(await rec());
    const qdqModel = await rec();
    const qdq = (
      await quantize(qdqModel, { mode: 'weight-only', weights: 'int4/per-block:32', format: 'qdq' })
    ).report;
    const nbitsModel = await rec();
    const nbits = (
      await quantize(nbitsModel, { mode: 'weight-only', weights: 'int4/per-block:32', format: 'matmulnbits' })
    ).report;
    expect(qdq.weights).toHaveLength(9);
    expect(nbits.weights.every((w) => w.form === 'matmulnbits')).toBe(true);
    expect(nbitsModel.graph.nodes.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(9);
    expect(qdqModel.opsetVersion()).toBe(21);
    expect(nbitsModel.opsetVersion('com.microsoft')).toBe(1);
    const a = await run(qdqModel);
    const b = await run(nbitsModel);
    expect(maxAbsError(a, b)).toBeLessThan(FORM_AGREEMENT);
    // And both are the int4 model, not the float one: int4 weights move the output measurably.
    expect(maxAbsError(float, a)).toBeGreaterThan(100 * FORM_AGREEMENT);
  });

  it('reports bits per weight as theory gives them: 4 + 16 * ceil(K / 32) / K with float16 scales', async () => {
    const model = await rec();
    const report = (await quantize(model, { mode: 'weight-only', weights: 'int4/per-block:32/f16-scale' }))
      .report;
    for (const w of report.weights) {
      const k = w.shape[0]!;
      expect(w.bitsPerWeight, w.name).toBeCloseTo(4 + (16 * Math.ceil(k / 32)) / k, 10);
    }
    // Each weight's scales are stored as float16 (as a DequantizeLinear's `_s` or a MatMulNBits
    // `_nbits_scale`), and the all-zero zero points are left out.
    const names = new Set(model.graph.initializers().map((i) => i.name));
    for (const w of report.weights) {
      const scale = [`${w.name}_s`, `${w.name}_nbits_scale`].filter((n) => names.has(n));
      expect(scale, w.name).toHaveLength(1);
      expect(model.graph.initializer(scale[0]!)!.dtype, w.name).toBe('float16');
      expect(names.has(`${w.name}_zp`) || names.has(`${w.name}_nbits_zero_point`), w.name).toBe(false);
    }
  });

  it('the MSE clip search raises the median MatMul weight SQNR over round-to-nearest', async () => {
    const report = (
      await quantize(await rec(), { mode: 'weight-only', weights: 'int4/per-block:32', clip: 'mse' })
    ).report;
    for (const w of report.weights) expect(w.sqnrDb, w.name).toBeGreaterThanOrEqual(w.rtnSqnrDb!);
    const gain =
      median(report.weights.map((w) => w.sqnrDb)) - median(report.weights.map((w) => w.rtnSqnrDb!));
    expect(gain).toBeGreaterThan(0.5);
  });
});

describe('MatMulNBits packing', () => {
  // K = 40 is not a multiple of the block (a padded last block); asymmetric uint4 needs packed zero points.
  it.each([
    ['uint4/per-block:16', 40, 6],
    ['int4/per-block:16', 40, 5],
    ['int8/per-block:32', 40, 3],
    ['int4/per-block:32/asym', 64, 3],
  ] as const)(
    '%s, K=%i, N=%i: MatMulNBits computes what DequantizeLinear + MatMul computes',
    async (scheme, k, n) => {
      const rng = new SeededRandom(k * n);
      const weight = Float32Array.from({ length: k * n }, () => rng.normal() + 0.3);
      const x = Float32Array.from({ length: 2 * k }, () => rng.normal());
      const build = () =>
        createModel({
          opset: 13,
          inputs: [{ name: 'x', dtype: 'float32', shape: [2, k] }],
          outputs: [{ name: 'y', dtype: 'float32', shape: [2, n] }],
          initializers: { w: new Tensor('float32', [k, n], weight) },
          nodes: [{ name: 'mm', opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
        });
      const results: Float32Array[] = [];
      for (const format of ['qdq', 'matmulnbits'] as const) {
        const model = build();
        await quantize(model, { mode: 'weight-only', weights: scheme, format });
        const session = await ort.InferenceSession.create(serializeModel(model), SESSION);
        const out = await session.run({ x: new ort.Tensor('float32', x, [2, k]) });
        results.push(out.y!.data as Float32Array);
        await session.release();
      }
      expect(maxAbsError(results[0]!, results[1]!)).toBeLessThan(FORM_AGREEMENT * 10);
      expect(sqnr(results[0]!, results[1]!)).toBeGreaterThan(80);
    },
  );
});

describe('dynamic W8A8 on PP-OCRv4 rec', () => {
  it('per-token activations beat per-tensor ones on real text lines, and both run in onnxruntime-node', async () => {
    const float = await run(await rec());
    const outcome: Record<string, number> = {};
    for (const scheme of ['int8/per-token', 'uint8/per-tensor']) {
      const model = await rec();
      const report = (await quantize(model, { mode: 'dynamic', activations: scheme })).report;
      expect(report.weights).toHaveLength(9);
      expect(model.graph.nodes.filter((n) => n.opType === 'MatMulInteger')).toHaveLength(9);
      expect(model.graph.nodes.some((n) => n.opType === 'DynamicQuantizeLinear')).toBe(
        scheme === 'uint8/per-tensor',
      );
      outcome[scheme] = sqnr(float, await run(model));
    }
    expect(outcome['int8/per-token']!).toBeGreaterThan(outcome['uint8/per-tensor']!);
  });
});
