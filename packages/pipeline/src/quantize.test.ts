import { sqnr } from '@qgrain/granularity';
import { type Model, createModel, serializeModel } from '@qgrain/onnx';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { SeededRandom } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { FeedSource } from './calibrate/calibrate.js';
import { type QuantizeOptions, type QuantizeResult, quantize } from './quantize.js';
import { nodeRunnerFactory } from './runner/runner.js';

const K = 64;
const N = 48;
const ROWS = 4;

/** x [4, 64] -> MatMul (64x48 weight) -> Relu -> y: every mode has one weight to take. */
function matmulModel(): Model {
  const rng = new SeededRandom(11);
  return createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [ROWS, K] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [ROWS, N] }],
    initializers: {
      w: new Tensor(
        'float32',
        [K, N],
        Float32Array.from({ length: K * N }, () => rng.normal() * 0.2),
      ),
    },
    nodes: [
      { name: 'mm', opType: 'MatMul', inputs: ['x', 'w'], outputs: ['h'] },
      { name: 'relu', opType: 'Relu', inputs: ['h'], outputs: ['y'] },
    ],
  });
}

function input(seed: number): Tensor {
  const rng = new SeededRandom(seed);
  return new Tensor(
    'float32',
    [ROWS, K],
    Float32Array.from({ length: ROWS * K }, () => rng.normal()),
  );
}

const feeds: FeedSource = async function* () {
  for (let i = 0; i < 4; i++) yield { x: input(100 + i) };
};

/** onnxruntime-node runs the model on one input: the oracle for every emitted model. */
async function run(model: Model, x: Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(serializeModel(model));
  const out = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, [ROWS, K]) });
  return out.y!.data as Float32Array;
}

async function quantizedAndRun(
  options: QuantizeOptions,
): Promise<{ result: QuantizeResult; model: Model; sqnrDb: number }> {
  const x = input(999);
  const float = await run(matmulModel(), x);
  const model = matmulModel();
  const result = await quantize(model, options);
  return { result, model, sqnrDb: sqnr(float, await run(model, x)) };
}

const ops = (model: Model) => model.graph.nodes.map((n) => n.opType);

describe('quantize: one entry, one result type for every mode', () => {
  it('static (the default mode): calibrates, writes Q/DQ pairs on the activation and the weight', async () => {
    const { result, model, sqnrDb } = await quantizedAndRun({ data: feeds, runner: nodeRunnerFactory() });
    expect(result.mode).toBe('static');
    expect(result.report.mode).toBe('static');
    expect(result.schemes).toEqual({ weights: 'int8/per-channel', activations: 'uint8/per-tensor' });
    expect(result.plan?.weights.map((w) => w.initializer)).toEqual(['w']);
    expect(result.report.weights.map((w) => w.name)).toEqual(['w']);
    expect(result.report.activations.map((a) => a.tensor)).toContain('x');
    expect(result.report.calibration).toMatchObject({ batches: 4 });
    expect(ops(model)).toContain('QuantizeLinear');
    expect(sqnrDb).toBeGreaterThan(25);
  });

  it('weight-only with a per-block scheme (the mode default): blocked weights, activations float', async () => {
    const { result, model, sqnrDb } = await quantizedAndRun({ mode: 'weight-only' });
    expect(result.mode).toBe('weight-only');
    expect(result.report.mode).toBe('weight-only');
    expect(result.schemes).toEqual({ weights: 'int4/per-block:32', activations: 'float' });
    expect(result.plan).toBeUndefined();
    expect(result.report.weights).toHaveLength(1);
    expect(result.report.weights[0]!.form).toBe('qdq');
    expect(result.report.activations).toEqual([]);
    expect(result.report.totals?.elements).toBe(K * N);
    expect(ops(model)).not.toContain('QuantizeLinear');
    expect(
      model.graph.nodes.find((n) => n.opType === 'DequantizeLinear')?.attribute.map((a) => a.name),
    ).toContain('block_size');
    expect(sqnrDb).toBeGreaterThan(15);
  });

  it('weight-only with a per-channel scheme goes through the static planner with no activation', async () => {
    const { result, model, sqnrDb } = await quantizedAndRun({
      mode: 'weight-only',
      weights: 'int8/per-channel',
    });
    expect(result.mode).toBe('weight-only');
    expect(result.report.mode).toBe('weight-only');
    expect(result.schemes).toEqual({ weights: 'int8/per-channel', activations: 'float' });
    expect(result.plan?.activations).toEqual([]);
    expect(result.report.weights.map((w) => w.scheme)).toEqual(['int8/per-channel']);
    expect(ops(model)).not.toContain('QuantizeLinear');
    expect(ops(model)).toContain('DequantizeLinear');
    expect(sqnrDb).toBeGreaterThan(30);
  });

  it('dynamic: MatMulInteger with activations quantized at run time, no data', async () => {
    const { result, model, sqnrDb } = await quantizedAndRun({ mode: 'dynamic' });
    expect(result.mode).toBe('dynamic');
    expect(result.report.mode).toBe('dynamic');
    expect(result.report.dynamic).toBe('int8/per-token');
    expect(result.schemes).toEqual({ weights: 'int8/per-channel', activations: 'int8/per-token' });
    expect(result.report.weights.map((w) => w.name)).toEqual(['w']);
    expect(ops(model)).toContain('MatMulInteger');
    expect(sqnrDb).toBeGreaterThan(25);
  });

  it('refuses an unknown mode with a typed error naming the option', async () => {
    const error = await quantize(matmulModel(), { mode: 'fast' as QuantizeOptions['mode'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(QgrainError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'invalid-argument', option: 'mode', value: 'fast' });
  });
});
