import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, writeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedIO, capturedIO } from '../test/captured-io.js';
import { main } from './program.js';

let work: string;
let tiny: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-consistency-'));
  tiny = join(work, 'tiny.onnx');
  // x[batch, 4] -> MatMul -> y: a weight for every mode.
  const model = createModel({
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
    initializers: { w: new Tensor('float32', [4, 2], Float32Array.of(1, -1, 0.5, 2, -0.25, 0, 1, 1)) },
    nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'], name: 'matmul' }],
  });
  await writeModel(model, tiny);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], io: CapturedIO = capturedIO()) {
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

const RANDOM = ['--data', 'random:seed=1,range=-1..1'];

/** Keys whose objects are keyed by data (tensor names, scheme texts, dtypes), not by field names. */
const DATA_KEYED = new Set([
  'model_output_sqnr_db',
  'sqnr_db',
  'bytes',
  'median_sqnr_db',
  'below_floor',
  'dtypes',
  'opsets',
  'ops',
]);

/** Every field name of a JSON document that is not snake_case, with its path. */
function badKeys(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => badKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const here = `${path}.${key}`;
    const own = /^[a-z][a-z0-9_]*$/.test(key) ? [] : [here];
    return DATA_KEYED.has(key) ? own : [...own, ...badKeys(v, here)];
  });
}

describe('CLI consistency', () => {
  it('draws the quantize progress bar against the true number of calibration batches', async () => {
    const io = { ...capturedIO(), interactive: true };
    const out = join(work, 'progress.onnx');
    const result = await run(['quantize', tiny, '-o', out, ...RANDOM], io);
    expect(result.code, result.stderr).toBe(0);
    // 8 random samples: one held back, seven calibrated.
    expect(result.stderr).toContain('] 7/7');
    expect(result.stderr).not.toMatch(/\d\/0\b/);
  });

  it('states each warning once, in text and with --json', async () => {
    for (const json of [false, true]) {
      const out = join(work, `warn-${json}.onnx`);
      const result = await run(['quantize', tiny, '-o', out, ...RANDOM, ...(json ? ['--json'] : [])]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.match(/random data/g), result.stderr).toHaveLength(1);
      if (json)
        expect(JSON.parse(result.stdout).data).toEqual({
          source: 'random (seed 1, values -1..1)',
          random: true,
        });
    }
  });

  it('writes snake_case keys in every JSON document', async () => {
    const docs: Record<string, unknown> = {};
    for (const [name, flags] of [
      ['static', []],
      ['weight-only', ['--weights-only']],
      ['dynamic', ['--dynamic', 'int8/per-token']],
    ] as const) {
      const result = await run([
        'quantize',
        tiny,
        '-o',
        join(work, `${name}.onnx`),
        ...RANDOM,
        ...flags,
        '--json',
      ]);
      expect(result.code, result.stderr).toBe(0);
      docs[`quantize ${name}`] = JSON.parse(result.stdout);
    }
    const compared = await run([
      'compare',
      tiny,
      join(work, 'static.onnx'),
      ...RANDOM,
      '--layerwise',
      '--coverage',
      '--json',
    ]);
    docs.compare = JSON.parse(compared.stdout);
    expect((docs.compare as { coverage: { rows: unknown[] } }).coverage.rows.length).toBeGreaterThan(0);
    // A dynamic model has no calibrated ranges to cover.
    const dynamic = await run(['compare', tiny, join(work, 'dynamic.onnx'), ...RANDOM, '--coverage']);
    expect(dynamic.code).toBe(1);
    expect(dynamic.stderr).toMatch(
      /dynamic\.onnx quantizes no activation with a calibrated range.*needs a statically quantized model/,
    );
    docs.inspect = JSON.parse((await run(['inspect', tiny, '--json'])).stdout);
    docs.prepare = JSON.parse((await run(['prepare', tiny, '-o', join(work, 'p.onnx'), '--json'])).stdout);
    const calibrated = await run(['calibrate', tiny, ...RANDOM, '-o', join(work, 'c.json'), '--json']);
    docs.calibrate = JSON.parse(calibrated.stdout);
    expect((docs['quantize static'] as { activations: unknown[] }).activations[0]).toHaveProperty(
      'zero_point',
    );
    expect(Object.fromEntries(Object.entries(docs).map(([name, doc]) => [name, badKeys(doc)]))).toEqual(
      Object.fromEntries(Object.keys(docs).map((name) => [name, []])),
    );
  });

  it("quotes tensor names in text: a graph output named 39 reads '39', not a number", async () => {
    const path = realModel('openwakeword-hello-deepa').path;
    const result = await run(['quantize', path, '-o', join(work, 'wake.onnx'), '--weights-only', ...RANDOM]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/model output SQNR vs float \(8 held-back batches\): '39' [\d.]+ dB/);
  });

  it('names the graph of each layer inside an If body in the text report', async () => {
    const path = realModel('silero-vad-v5').path;
    const result = await run([
      'quantize',
      path,
      '-o',
      join(work, 'v5.onnx'),
      '--weights-only',
      '--weights',
      'int8/per-channel',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^layer +graph +op /m);
    expect(result.stderr).toMatch(
      /If_0\.then_branch > If_0_then_branch__Inline_0__\/decoder\/If_1\.(then|else)_branch +LSTM/,
    );
  });

  it('follows the stdout/stderr rule: results on stdout, summaries of written files and warnings on stderr', async () => {
    const text = {
      prepare: await run(['prepare', tiny, '-o', join(work, 'r1.onnx')]),
      calibrate: await run(['calibrate', tiny, ...RANDOM, '-o', join(work, 'r2.json')]),
      quantize: await run(['quantize', tiny, '-o', join(work, 'r3.onnx'), ...RANDOM]),
      inspect: await run(['inspect', tiny]),
      compare: await run(['compare', tiny, join(work, 'r3.onnx'), ...RANDOM]),
    };
    for (const name of ['prepare', 'calibrate', 'quantize'] as const) {
      expect(text[name].stdout, name).toBe('');
      expect(text[name].stderr, name).not.toBe('');
    }
    for (const name of ['inspect', 'compare'] as const) expect(text[name].stdout, name).not.toBe('');
    // Random data: the one warning is on stderr for every command that reads data.
    for (const name of ['calibrate', 'quantize', 'compare'] as const)
      expect(text[name].stderr.match(/warning: using random data/g), name).toHaveLength(1);
  });
});
