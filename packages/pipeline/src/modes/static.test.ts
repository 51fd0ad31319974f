import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sqnr } from '@qgrain/granularity';
import { createModel, parseModel, prepareModel, readModel, serializeModel } from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { SeededRandom, randomFloat32, realModel } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { FeedSource } from '../calibrate/calibrate.js';
import { modelInputSpecs } from '../calibrate/calibrate-model.js';
import { feedSourceFromData } from '../calibrate/calibration-cache.js';
import { bindDataSource, zipSources } from '../data/data-source.js';
import { randomSource } from '../data/random-source.js';
import { quantize } from '../quantize.js';
import { nodeRunnerFactory } from '../runner/runner.js';

// A small two-branch CNN: conv_a and conv_b share one weight (tied), conv_c has two channels whose
// weights are ~0 next to a large bias (their int32 biases would overflow), and a Gemm head.
function smallModel() {
  const rng = new SeededRandom(7);
  const w = (n: number, scale = 0.3) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const tied = new Tensor('float32', [4, 3, 3, 3], w(108));
  const cWeights = w(4 * 4 * 3 * 3);
  cWeights.fill(1e-30, 0, 36); // output channels 0 and 2: dead filters
  cWeights.fill(-1e-30, 72, 108);
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 5] }],
    initializers: {
      tied,
      bias_ab: new Tensor('float32', [4], w(4)),
      w_c: new Tensor('float32', [4, 4, 3, 3], cWeights),
      b_c: new Tensor('float32', [4], Float32Array.of(5, 0.1, -4, 0.3)),
      w_g: new Tensor('float32', [64, 5], w(320, 0.1)),
      b_g: new Tensor('float32', [5], w(5)),
      shape: new Tensor('int64', [2], BigInt64Array.of(1n, -1n)),
      pool_axes: new Tensor('int64', [1], BigInt64Array.of(2n)),
    },
    nodes: [
      {
        name: 'conv_a',
        opType: 'Conv',
        inputs: ['x', 'tied', 'bias_ab'],
        outputs: ['a'],
        attributes: { pads: [1, 1, 1, 1] },
      },
      {
        name: 'conv_b',
        opType: 'Conv',
        inputs: ['x', 'tied', 'bias_ab'],
        outputs: ['b'],
        attributes: { pads: [1, 1, 1, 1] },
      },
      { name: 'relu_a', opType: 'Relu', inputs: ['a'], outputs: ['ra'] },
      { name: 'add', opType: 'Add', inputs: ['ra', 'b'], outputs: ['s'] },
      {
        name: 'conv_c',
        opType: 'Conv',
        inputs: ['s', 'w_c', 'b_c'],
        outputs: ['c'],
        attributes: { pads: [1, 1, 1, 1], strides: [2, 2] },
      },
      { name: 'flat', opType: 'Reshape', inputs: ['c', 'shape'], outputs: ['f'] },
      { name: 'head', opType: 'Gemm', inputs: ['f', 'w_g', 'b_g'], outputs: ['y'] },
    ],
  });
}

const feeds: FeedSource = async function* () {
  for (let i = 0; i < 6; i++) yield { x: new Tensor('float32', [1, 3, 8, 8], randomFloat32(192, 100 + i)) };
};

async function quantized(options: Parameters<typeof quantize>[1] = {}) {
  const model = smallModel();
  const result = await quantize(model, { data: feeds, runner: nodeRunnerFactory(), ...options });
  return { model, ...result, bytes: serializeModel(model) };
}

describe('static quantize on a small CNN', () => {
  it('stores a tied weight once, as int8 read through one DequantizeLinear', async () => {
    const { model, report } = await quantized();
    const tied = report.weights.find((w) => w.name === 'tied')!;
    expect(tied.nodes).toEqual(['conv_a', 'conv_b']);
    const inits = model.graph.initializers();
    expect(inits.filter((i) => i.name.startsWith('tied_q'))).toHaveLength(1);
    expect(inits.find((i) => i.name === 'tied')).toBeUndefined();
    const conv = (name: string) => model.graph.nodes.find((n) => n.name === name)!;
    expect(conv('conv_a').input[1]).toBe(conv('conv_b').input[1]);
    for (const w of inits.filter((i) => i.name.endsWith('_q') && !i.name.startsWith('b'))) {
      expect(['int8', 'int32']).toContain(w.dtype);
    }
  });

  it('widens the scales of dead channels so that their biases fit int32, and says so in one note', async () => {
    const { model, report } = await quantized();
    const bias = report.biases.find((b) => b.name === 'b_c')!;
    expect(bias.quantized).toBe(true);
    const notes = report.notes.filter((n) => n.startsWith("weight 'w_c'"));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /^weight 'w_c' channels 0, 2: scales widened from at most \S+ to at most \S+ so that bias 'b_c' fits int32$/,
    );
    const q = model.graph.initializers().find((i) => i.name.startsWith('b_c_q'))!;
    expect(q.dtype).toBe('int32');
  });

  it('a per-tensor weight scale is widened to the widest need of all its channels', async () => {
    // Every weight is ~0, so the one per-tensor scale is tiny; channel 0's bias needs more than
    // channel 1's. A later, smaller need must not undo an earlier, larger one.
    const model = createModel({
      opset: 13,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2, 8, 8] }],
      initializers: {
        w: new Tensor('float32', [2, 3, 1, 1], new Float32Array(6).fill(1e-30)),
        b: new Tensor('float32', [2], Float32Array.of(10, 5)),
      },
      nodes: [{ name: 'conv', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'] }],
    });
    const { report } = await quantize(model, {
      data: feeds,
      runner: nodeRunnerFactory(),
      weights: 'int8/per-tensor',
    });
    expect(report.biases.find((b) => b.name === 'b')!.quantized).toBe(true);
    expect(report.notes.filter((n) => n.startsWith("weight 'w'"))).toEqual([
      expect.stringMatching(
        /^weight 'w' channel 0: scale widened from \S+ to \S+ so that bias 'b' fits int32$/,
      ),
    ]);
  });

  it('keeps an excluded node float: no DequantizeLinear feeds it and its weight stays float32', async () => {
    const { model, report } = await quantized({ exclude: ['head'] });
    expect(report.excluded).toEqual(['head']);
    const head = model.graph.nodes.find((n) => n.name === 'head')!;
    expect(head.input[1]).toBe('w_g');
    expect(model.graph.initializer('w_g')?.dtype).toBe('float32');
    expect(model.graph.producer(head.input[0]!)?.opType).not.toBe('DequantizeLinear');
  });

  it('excluding an op type keeps every node of that type float', async () => {
    const { model } = await quantized({ exclude: ['Conv'] });
    for (const name of ['tied', 'w_c']) expect(model.graph.initializer(name)?.dtype).toBe('float32');
    expect(model.graph.initializer('w_g')).toBeUndefined();
  });

  it("leaves out all-zero zero points (but a Gemm weight's), and onnxruntime still runs every Conv and the Gemm on integers", async () => {
    const { model, bytes } = await quantized();
    const constantDequantize = model.graph.nodes.filter(
      (n) => n.opType === 'DequantizeLinear' && model.graph.initializer(n.input[0]!),
    );
    // tied, w_c, w_g and the three biases.
    expect(constantDequantize).toHaveLength(6);
    // onnxruntime 1.30 fuses a Gemm into QGemm only when its weight's zero points are explicit.
    for (const n of constantDequantize) expect(n.input, n.name).toHaveLength(n.name === 'w_g_DQ' ? 3 : 2);
    const optimized = join(mkdtempSync(join(tmpdir(), 'qgrain-fused-')), 'optimized.onnx');
    try {
      const session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'extended',
        optimizedModelFilePath: optimized,
      });
      await session.release();
      const ops = (await readModel(optimized)).graph.nodes.map((n) => n.opType);
      expect(ops.filter((op) => op === 'QLinearConv')).toHaveLength(3);
      expect(ops).toContain('QGemm');
      expect(ops.filter((op) => op === 'Conv' || op === 'Gemm')).toEqual([]);
    } finally {
      rmSync(dirname(optimized), { recursive: true, force: true });
    }
  });

  it('without data, names the activations that lack a range, and says when a cache did not cover them', async () => {
    const missing = await quantize(smallModel()).then(
      () => undefined,
      (error: unknown) => error,
    );
    // A typed error a program can branch on: the code, the first tensor and the option to give.
    expect(QgrainError.isInstance(missing)).toBe(true);
    expect(missing).toMatchObject({ code: 'missing-data', tensor: 'x', option: 'data' });
    expect((missing as Error).message).toMatch(/^\d+ activations need calibration data \(e\.g\. 'x'\)/);
    // The library speaks of its options, not of the command line's flags.
    expect((missing as Error).message).not.toMatch(/--/);
    // A cache for other tensor names (another qgrain's prepare passes, other include/exclude).
    await expect(quantize(smallModel(), { ranges: { renamed: { min: 0, max: 1 } } })).rejects.toThrow(
      /the calibration cache has no range for them .*calibrate again/,
    );
  });

  it('is deterministic: quantizing twice gives identical bytes', async () => {
    const first = await quantized();
    const second = await quantized();
    expect(Buffer.from(first.bytes).equals(Buffer.from(second.bytes))).toBe(true);
  });

  it('gives a model onnxruntime runs, close to the float one', async () => {
    const { bytes } = await quantized();
    // int8 end to end on a random 4-layer net calibrated on 6 samples measures ~17 dB; a wrong
    // scale, axis or zero point anywhere drops it below 0 dB.
    expect(await outputSqnr(bytes)).toBeGreaterThan(12);
    expect(parseModel(bytes).opsetVersion()).toBe(13);
  });
});

// SQNR of the quantized model's output against the float model's on one seeded input.
async function outputSqnr(bytes: Uint8Array): Promise<number> {
  const float = await ort.InferenceSession.create(serializeModel(smallModel()));
  const quant = await ort.InferenceSession.create(bytes);
  const x = new ort.Tensor('float32', randomFloat32(192, 999), [1, 3, 8, 8]);
  const a = (await float.run({ x })).y!.data as Float32Array;
  const b = (await quant.run({ x })).y!.data as Float32Array;
  return sqnr(a, b);
}

describe('static quantize with schemes that need QuantizeLinear/DequantizeLinear-21', () => {
  it.each([
    ['int16 activations', { activations: 'int16/per-tensor' }, 'int16'],
    ['int4 per-channel weights', { weights: 'int4/per-channel' }, 'int4'],
    ['int16 per-channel weights', { weights: 'int16/per-channel' }, 'int16'],
    ['int8 per-block conv and Gemm weights', { weights: 'int8/per-block:16' }, 'int8'],
  ] as const)('%s: opset 21, and onnxruntime runs it', async (_, options, storage) => {
    const { bytes, report } = await quantized(options);
    const model = parseModel(bytes);
    expect(model.opsetVersion()).toBe(21);
    expect(report.opset.to).toBe(21);
    const dtypes = new Set(model.graph.initializers().map((i) => i.dtype));
    expect(dtypes.has(storage)).toBe(true);
    // int4 weights keep ~8 levels a side; the others stay close to the int8 model's ~17 dB.
    expect(await outputSqnr(bytes)).toBeGreaterThan(storage === 'int4' ? 3 : 12);
  });

  it('calibrates each activation for its own bits: MSE keeps more of the tails for int16 than for uint8', async () => {
    const range = (report: Awaited<ReturnType<typeof quantized>>['report']) =>
      new Map(report.activations.map((a) => [a.tensor, [a.min, a.max] as const]));
    const eight = range((await quantized({ method: 'mse' })).report);
    const sixteen = range((await quantized({ method: 'mse', activations: 'int16/per-tensor' })).report);
    let wider = 0;
    for (const [tensor, [lo, hi]] of eight) {
      const [lo16, hi16] = sixteen.get(tensor)!;
      expect(lo16, tensor).toBeLessThanOrEqual(lo);
      expect(hi16, tensor).toBeGreaterThanOrEqual(hi);
      if (lo16 < lo || hi16 > hi) wider++;
    }
    expect(wider).toBeGreaterThan(0);
  });

  it('a blocked conv weight keeps the [O, I*kh*kw] view behind its DequantizeLinear and a Reshape restores the shape; its bias stays float', async () => {
    const { model, report } = await quantized({ weights: 'int8/per-block:16' });
    const q = model.graph.initializers().find((i) => i.name === 'w_c_q')!;
    expect(q.dims).toEqual([4, 36]);
    expect(model.graph.initializers().find((i) => i.name === 'w_c_s')!.dims).toEqual([4, 3]);
    const conv = model.graph.nodes.find((n) => n.name === 'conv_c')!;
    const reshape = model.graph.producer(conv.input[1]!)!;
    expect(reshape.opType).toBe('Reshape');
    expect(model.graph.producer(reshape.input[0]!)?.opType).toBe('DequantizeLinear');
    const bias = report.biases.find((b) => b.name === 'b_c')!;
    expect(bias.quantized).toBe(false);
    expect(bias.note).toContain('per block');
    expect(model.graph.initializer('b_c')?.dtype).toBe('float32');
  });
});

describe('a model whose weights live in subgraphs', () => {
  it('weight-only quantizes the Conv/Gemm weights inside If branches, each with its graph path', async () => {
    const model = await readModel(realModel('silero-vad-ifless').path);
    const { report } = await quantize(model, { weightsOnly: true });
    expect(report.weights).toHaveLength(16);
    expect(new Set(report.weights.flatMap((w) => w.readerGraphs ?? []))).toEqual(
      new Set(['node_cond__1.then_branch', 'node_cond__1.else_branch']),
    );
    expect(report.notes.filter((n) => /stay float|no weight quantized/.test(n))).toEqual([]);
  });

  it('static calibrates inside If branches through extra If outputs, and says which branch no batch took', async () => {
    const model = await readModel(realModel('silero-vad-ifless').path);
    prepareModel(model);
    const inputs = modelInputSpecs(model);
    // 16 kHz audio windows, a zero state: only the 16 kHz branch runs.
    const audio = randomSource({
      inputs: inputs.filter((i) => i.name !== 'sr'),
      count: 4,
      seed: 1,
      low: -1,
      high: 1,
      shapes: { input: [1, 512], state: [2, 1, 128] },
    });
    const rate = randomSource({
      inputs: inputs.filter((i) => i.name === 'sr'),
      count: 4,
      seed: 2,
      low: 16000,
      high: 16000,
    });
    const data = bindDataSource(zipSources([audio, rate]), inputs);
    const { report } = await quantize(model, { data: feedSourceFromData(data), runner: nodeRunnerFactory() });
    expect(report.weights).toHaveLength(16);
    // The 16 kHz branch's Conv/Gemm inputs and outputs are calibrated; the 8 kHz branch's are not.
    expect(report.activations.length).toBeGreaterThan(0);
    expect(
      report.notes.some((n) => /activations .*: in an If branch that no calibration batch took/.test(n)),
    ).toBe(true);
    const session = await ort.InferenceSession.create(serializeModel(model));
    await session.release();
  });
});
