import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ModelProto, type TensorProto, bigIntToInt64, onnxTypes } from '@qgrain/onnx';
import { QgrainError } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { reportFailure } from './exit.js';
import { createProgram, main } from './program.js';

// The catalogue of bad inputs and faults (apps/cli/README.md, "Bad inputs and faults"): each row
// runs the command a user would, in-process, and checks the exit code, the QgrainError code and
// the one line printed. Keep the two in step.

const work = mkdtempSync(join(tmpdir(), 'qgrain-bad-inputs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const WAKE = realModel('openwakeword-hello-deepa').path;
const CLS = realModel('ppocr-cls').path;
const MISSING = join(work, 'no-such-model.onnx');

let counter = 0;
function file(name: string, bytes: Uint8Array | string): string {
  const dir = join(work, `case-${counter++}`);
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function decode(path: string): ModelProto {
  return onnxTypes.model.decode(readFileSync(path)) as unknown as ModelProto;
}

function encode(proto: ModelProto): Uint8Array {
  return onnxTypes.model.encode(proto as never).finish();
}

/** The wake-word model with one edit, written to a fresh folder. */
function forged(edit: (proto: ModelProto) => void, source = WAKE): string {
  const proto = decode(source);
  edit(proto);
  return file('forged.onnx', encode(proto));
}

function weight(proto: ModelProto, name = 'layer1.weight'): TensorProto {
  return proto.graph!.initializer.find((t) => t.name === name)!;
}

function float32At(t: TensorProto, index: number, value: number): void {
  const copy = Uint8Array.from(t.rawData);
  new DataView(copy.buffer).setFloat32(index * 4, value, true);
  t.rawData = copy;
}

/** Protobuf bytes of fields (number, payload): varints for numbers, length-delimited otherwise. */
function message(...fields: [number, number | string | Uint8Array][]): Uint8Array {
  const out: number[] = [];
  const varint = (v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v & 0x7f) | 0x80);
    out.push(v);
  };
  for (const [n, value] of fields) {
    if (typeof value === 'number') {
      varint(n * 8);
      varint(value);
    } else {
      const bytes = typeof value === 'string' ? Buffer.from(value) : value;
      varint(n * 8 + 2);
      varint(bytes.length);
      out.push(...bytes);
    }
  }
  return Uint8Array.from(out);
}

/**
 * A model whose graph holds an If whose branch holds an If... `depth` levels deep, encoded by
 * hand: protobufjs' own encoder refuses to nest that deep, as its decoder does.
 */
function nestedModel(depth: number): Uint8Array {
  let graph = message([2, 'leaf']);
  for (let k = 0; k < depth; k++) {
    const branch = message([1, 'then_branch'], [6, graph], [20, 5]);
    graph = message([1, message([2, 'y'], [4, 'If'], [5, branch])], [2, `g${k}`]);
  }
  return message([1, 8], [7, graph], [8, message([2, 17])]);
}

/** A .npy file (format 1.0) of float32 values. */
function npy(shape: readonly number[], values: Float32Array): string {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  // The header is padded with spaces so that the data starts at a multiple of 64 bytes.
  const padded = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ');
  const head = new Uint8Array(10 + padded.length + 1);
  head.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(head.buffer).setUint16(8, padded.length + 1, true);
  head.set(Buffer.from(`${padded}\n`), 10);
  const out = new Uint8Array(head.length + values.byteLength);
  out.set(head);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), head.length);
  return file('data.npy', out);
}

/** A model written with external data, and the path of its data file. */
async function withExternalData(): Promise<{ model: string; data: string }> {
  const dir = join(work, `case-${counter++}`);
  mkdirSync(dir);
  const model = join(dir, 'model.onnx');
  const io = capturedIO();
  await createProgram(io).parseAsync(['prepare', WAKE, '-o', model, '--external-data', '--json'], {
    from: 'user',
  });
  return { model, data: (JSON.parse(io.stdout()) as { data_path: string }).data_path };
}

/** The external data model with every location replaced by `location`. */
async function externalAt(location: string): Promise<string> {
  const { model } = await withExternalData();
  const proto = decode(model);
  for (const t of proto.graph!.initializer) {
    t.externalData = t.externalData.map((e) =>
      e.key === 'location' ? { key: 'location', value: location } : e,
    );
  }
  writeFileSync(model, encode(proto));
  return model;
}

interface Outcome {
  readonly exit: number;
  readonly code: string | undefined;
  readonly stderr: string;
  readonly stdout: string;
}

async function qgrain(args: readonly string[]): Promise<Outcome> {
  const io = capturedIO();
  try {
    await createProgram(io).parseAsync([...args], { from: 'user' });
    return { exit: 0, code: undefined, stderr: io.stderr(), stdout: io.stdout() };
  } catch (error) {
    const exit = reportFailure(error, io);
    const code = QgrainError.isInstance(error) ? error.code : undefined;
    return { exit, code, stderr: io.stderr(), stdout: io.stdout() };
  }
}

const out = () => join(work, `out-${counter++}.onnx`);

interface Case {
  readonly fault: string;
  readonly args: () => Promise<string[]> | string[];
  readonly exit: 0 | 1 | 2;
  /** The QgrainError code (undefined: a usage error or a success). */
  readonly code?: string;
  readonly message: RegExp;
}

const CASES: Case[] = [
  // ---- the model file
  {
    fault: 'missing model file',
    args: () => ['inspect', MISSING],
    exit: 1,
    code: 'io',
    message: /no such file/,
  },
  {
    fault: 'a directory as the model',
    args: () => ['inspect', work],
    exit: 1,
    code: 'io',
    message: /is a directory/,
  },
  {
    fault: 'empty file',
    args: () => ['inspect', file('empty.onnx', '')],
    exit: 1,
    code: 'invalid-model',
    message: /is empty/,
  },
  {
    fault: 'truncated model',
    args: () => ['inspect', file('half.onnx', readFileSync(CLS).subarray(0, 200_000))],
    exit: 1,
    code: 'invalid-model',
    message: /not a valid ONNX model/,
  },
  {
    fault: 'an image renamed .onnx',
    args: () => ['inspect', file('image.onnx', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'))],
    exit: 1,
    code: 'invalid-model',
    message: /not (a valid ONNX|an ONNX) model/,
  },
  {
    fault: 'weight dim forged to 2^31',
    args: () => ['inspect', forged((p) => (weight(p).dims[0] = 2 ** 31))],
    exit: 1,
    code: 'invalid-model',
    message: /tensor 'layer1\.weight' .* more than 4294967296 elements/,
  },
  {
    fault: 'weight dim forged to -1',
    args: () => ['prepare', forged((p) => (weight(p).dims[0] = -1)), '-o', out()],
    exit: 1,
    code: 'invalid-model',
    message: /tensor 'layer1\.weight' .*negative dimension -1/,
  },
  {
    fault: 'weight dim beyond 2^53',
    args: () => [
      'quantize',
      forged((p) => (weight(p).dims[0] = bigIntToInt64(2n ** 60n))),
      '-o',
      out(),
      '--weights-only',
    ],
    exit: 1,
    code: 'invalid-model',
    message: /'layer1\.weight'/,
  },
  {
    fault: 'dims that do not match the data',
    args: () => ['inspect', forged((p) => (weight(p).dims[0] = 64))],
    exit: 1,
    code: 'invalid-model',
    message: /\(307200 bytes\) but holds 307200|needs|holds 307200 bytes/,
  },
  {
    fault: 'raw_data cut short',
    args: () => ['inspect', forged((p) => (weight(p).rawData = weight(p).rawData.subarray(0, 100)))],
    exit: 1,
    code: 'invalid-model',
    message: /holds 100 bytes of data/,
  },
  {
    fault: 'typed data with too few entries',
    args: () => [
      'inspect',
      forged((p) => {
        const t = weight(p, 'layer1.bias');
        t.floatData = [1, 2, 3];
        t.rawData = new Uint8Array(0);
      }),
    ],
    exit: 1,
    code: 'invalid-model',
    message: /floatData has 3 entries \(32 expected\)/,
  },
  {
    fault: 'a data type ONNX does not define',
    args: () => ['inspect', forged((p) => (weight(p).dataType = 99))],
    exit: 1,
    code: 'invalid-model',
    message: /data type 99/,
  },
  {
    fault: 'rank above 64',
    args: () => ['inspect', forged((p) => (weight(p, 'layer1.bias').dims = [32, ...Array(64).fill(1)]))],
    exit: 1,
    code: 'invalid-model',
    message: /rank 65/,
  },
  {
    fault: 'a node without outputs',
    args: () => ['prepare', forged((p) => (p.graph!.node[1]!.output = [])), '-o', out()],
    exit: 1,
    code: 'invalid-model',
    message: /node '\/layer1\/Gemm' \(Gemm\) has no outputs/,
  },
  {
    fault: 'a Dropout without input (found by the fuzzer)',
    args: () => {
      const path = forged((p) => {
        const node = p.graph!.node.find((n) => n.name === '/layernorm1/Constant')!;
        node.opType = 'Dropout';
        node.attribute = [];
      });
      return ['prepare', path, '-o', out()];
    },
    exit: 1,
    code: 'invalid-model',
    message: /node '\/layernorm1\/Constant' \(Dropout\) has no input/,
  },
  {
    fault: 'a ReduceMean without input, raised to a newer opset (found by the fuzzer)',
    args: () => {
      const path = forged((p) => (p.graph!.node.find((n) => n.opType === 'ReduceMean')!.input = []));
      return ['quantize', path, '-o', out(), '--weights-only'];
    },
    exit: 1,
    code: 'invalid-model',
    message: /\(ReduceMean\) has no data input/,
  },
  {
    fault: 'a graph input dimension beyond 2^53',
    args: () => [
      'inspect',
      forged(
        (p) =>
          (p.graph!.input[0]!.type!.tensorType!.shape!.dim[1] = {
            dimValue: bigIntToInt64(2n ** 62n),
          } as never),
      ),
    ],
    exit: 1,
    code: 'invalid-model',
    message: /declares dimension 4611686018427387904/,
  },
  {
    fault: 'subgraphs nested deeper than protobuf allows',
    args: () => ['inspect', file('deep.onnx', nestedModel(40))],
    exit: 1,
    code: 'invalid-model',
    message: /max depth exceeded/,
  },
  {
    fault: 'control characters in a name from the file',
    args: () => [
      'inspect',
      forged((p) => {
        const t = weight(p);
        t.dims[0] = -1;
        t.name = 'evil\u001b[31mname';
      }),
    ],
    exit: 1,
    code: 'invalid-model',
    message: /evil\\x1b\[31mname/,
  },
  // ---- external data
  {
    fault: 'external data is a FIFO',
    args: async () => {
      const { model, data } = await withExternalData();
      rmSync(data);
      execFileSync('mkfifo', [data]);
      return ['inspect', model];
    },
    exit: 1,
    code: 'io',
    message: /is a FIFO, not a regular file/,
  },
  {
    fault: 'external data is a directory',
    args: async () => {
      const { model, data } = await withExternalData();
      rmSync(data);
      mkdirSync(data);
      return ['inspect', model];
    },
    exit: 1,
    code: 'io',
    message: /is a directory, not a regular file/,
  },
  {
    fault: "external data location '.'",
    args: async () => ['inspect', await externalAt('.')],
    exit: 1,
    code: 'unsafe-path',
    message: /names the model's folder itself/,
  },
  {
    fault: "external data location with '..'",
    args: async () => ['inspect', await externalAt('../model.onnx')],
    exit: 1,
    code: 'unsafe-path',
    message: /contains a '\.\.' component/,
  },
  {
    fault: 'external data location absolute',
    args: async () => ['inspect', await externalAt('/etc/hostname')],
    exit: 1,
    code: 'unsafe-path',
    message: /is an absolute path/,
  },
  {
    fault: 'external data through a symlink out of the folder',
    args: async () => {
      const { model, data } = await withExternalData();
      rmSync(data);
      symlinkSync(WAKE, data);
      return ['inspect', model];
    },
    exit: 1,
    code: 'unsafe-path',
    message: /outside/,
  },
  {
    fault: 'external data file truncated',
    args: async () => {
      const { model, data } = await withExternalData();
      writeFileSync(data, readFileSync(data).subarray(0, 1000));
      return ['inspect', model];
    },
    exit: 1,
    code: 'invalid-model',
    message: /has only 1000/,
  },
  // ---- non-finite values
  {
    fault: 'a NaN weight in quantize',
    args: () => [
      'quantize',
      forged((p) => float32At(weight(p), 5, Number.NaN)),
      '-o',
      out(),
      '--weights-only',
    ],
    exit: 1,
    code: 'non-finite-range',
    message: /weight 'layer1\.weight' holds 1 NaN value\(s\) \(first at element 5\)/,
  },
  {
    fault: 'an infinite weight in quantize',
    args: () => [
      'quantize',
      forged((p) => float32At(weight(p), 5, Number.POSITIVE_INFINITY)),
      '-o',
      out(),
      '--weights-only',
    ],
    exit: 1,
    code: 'non-finite-range',
    message: /'layer1\.weight'.*not finite/,
  },
  {
    fault: 'a NaN weight in inspect (marked, not refused)',
    args: () => ['inspect', forged((p) => float32At(weight(p), 5, Number.NaN)), '--json'],
    exit: 0,
    message: /^$/,
  },
  {
    fault: 'calibration data that is all NaN',
    args: () => [
      'quantize',
      WAKE,
      '-o',
      out(),
      '--data',
      npy([1, 25, 96], new Float32Array(2400).fill(Number.NaN)),
    ],
    exit: 1,
    code: 'non-finite-range',
    message: /activation '[^']+' saw only NaN or Inf \(2400 values\) in 1 calibration batch/,
  },
  {
    fault: 'calibration data with some NaN (dropped, counted)',
    args: () => {
      const values = new Float32Array(4 * 2400).map((_, i) => Math.sin(i));
      values[7] = Number.NaN;
      values[2400 + 9] = Number.POSITIVE_INFINITY;
      return ['quantize', WAKE, '-o', out(), '--data', npy([4, 25, 96], values), '--holdout', '0'];
    },
    exit: 0,
    message: /warning: calibration left out \d+ NaN\/Inf value\(s\) seen by \d+ activation\(s\)/,
  },
  // ---- the command line (checked before any file is read: the model here does not exist)
  {
    fault: 'unknown calibration method',
    args: () => ['quantize', MISSING, '-o', out(), '--method', 'bogus'],
    exit: 2,
    message: /--method: .*unknown method 'bogus'/,
  },
  {
    fault: 'block size 0',
    args: () => ['quantize', MISSING, '-o', out(), '--weights', 'int8/per-block:0'],
    exit: 2,
    message: /--weights: .*block size must be at least 1/,
  },
  {
    fault: 'per-channel activations',
    args: () => ['quantize', MISSING, '-o', out(), '--activations', 'int8/per-channel'],
    exit: 2,
    message: /--activations 'int8\/per-channel': static activations are quantized per tensor/,
  },
  {
    fault: 'dynamic int4 activations',
    args: () => ['quantize', MISSING, '-o', out(), '--dynamic', 'int4/per-token'],
    exit: 2,
    message: /--dynamic 'int4\/per-token': expected int8\/per-token or uint8\/per-tensor/,
  },
  {
    fault: 'weight-only blocks of 8',
    args: () => ['quantize', MISSING, '-o', out(), '--weights-only', '--weights', 'int4/per-block:8'],
    exit: 2,
    message: /blocks hold 16 to 256 weights/,
  },
  {
    fault: 'dynamic with int4 weights',
    args: () => [
      'quantize',
      MISSING,
      '-o',
      out(),
      '--dynamic',
      'int8/per-token',
      '--weights',
      'int4/per-channel',
    ],
    exit: 2,
    message: /dynamic weights are symmetric int8/,
  },
  {
    fault: '--weights-only with --dynamic',
    args: () => ['quantize', MISSING, '-o', out(), '--weights-only', '--dynamic', 'int8/per-token'],
    exit: 2,
    message: /two different modes/,
  },
  {
    fault: 'calibrate with an unknown method',
    args: () => ['calibrate', MISSING, '-o', out(), '--data', 'random:seed=1', '--method', 'p99'],
    exit: 2,
    message: /--method: .*unknown method 'p99'/,
  },
  {
    fault: 'a scheme that does not parse',
    args: () => ['quantize', MISSING, '-o', out(), '--weights', 'int8'],
    exit: 2,
    message: /--weights: invalid scheme 'int8'/,
  },
  {
    fault: 'bad --holdout value',
    args: () => ['quantize', MISSING, '-o', out(), '--holdout', '-1'],
    exit: 2,
    message: /expected a whole number/,
  },
  {
    fault: '--exclude naming nothing',
    args: () => ['quantize', WAKE, '-o', out(), '--weights-only', '--exclude', '/layer1/Gemn'],
    exit: 2,
    message: /--exclude names no node.*'\/layer1\/Gemn' \(near: '\/layer1\/Gemm'/,
  },
  {
    fault: 'a .npy given as calibration cache',
    args: () => ['quantize', WAKE, '-o', out(), '--calibration', npy([2], Float32Array.of(1, 2))],
    exit: 1,
    code: 'invalid-argument',
    message: /is a NumPy \.npy array, not a JSON calibration cache|a NumPy \.npy array/,
  },
  {
    fault: 'output over the input',
    args: () => ['prepare', WAKE, '-o', WAKE],
    exit: 2,
    message: /refusing to write .*: it is the input model/,
  },
  {
    fault: '--report-html over the input model',
    args: () => ['quantize', WAKE, '-o', out(), '--weights-only', '--report-html', WAKE],
    exit: 2,
    message: /refusing to write .*: it is the input model/,
  },
  {
    fault: '--report-html naming the output model',
    args: () => {
      const path = out();
      return ['quantize', WAKE, '-o', path, '--weights-only', '--report-html', path];
    },
    exit: 2,
    message: /--report-html and -o name the same file/,
  },
  {
    fault: 'a plan file made for another model',
    args: () => ['quantize', WAKE, '-o', out(), '--plan', planFile('f'.repeat(64), {})],
    exit: 1,
    code: 'plan-mismatch',
    message: /was made for another model \('other\.onnx'/,
  },
  {
    fault: 'a plan file that is not JSON (never echoed)',
    args: () => ['quantize', WAKE, '-o', out(), '--plan', npy([2], Float32Array.of(1, 2))],
    exit: 1,
    code: 'invalid-argument',
    message: /is not JSON; give the plan file qgrain advise wrote/,
  },
  {
    fault: 'a plan file of another format',
    args: () => [
      'quantize',
      WAKE,
      '-o',
      out(),
      '--plan',
      file('cache.json', '{"format":"qgrain-calibration/1"}'),
    ],
    exit: 1,
    code: 'invalid-argument',
    message: /is not a valid qgrain plan: format is "qgrain-calibration\/1"/,
  },
  {
    fault: '--plan with --weights',
    args: () => [
      'quantize',
      WAKE,
      '-o',
      out(),
      '--plan',
      planFile('f'.repeat(64), {}),
      '--weights',
      'int8/per-tensor',
    ],
    exit: 2,
    message: /--plan sets every scheme/,
  },
  {
    fault: 'advise without a budget, or with two',
    args: () => ['advise', WAKE, '--data', 'random:seed=1', '-o', join(work, 'plan.json')],
    exit: 2,
    message: /advise needs a budget/,
  },
  {
    fault: 'an advise candidate that does not parse',
    args: () => [
      'advise',
      WAKE,
      '--data',
      'random:seed=1',
      '-o',
      join(work, 'plan.json'),
      '--target-sqnr',
      '30',
      '--activations-candidates',
      'uint8,int8/per-channel',
    ],
    exit: 2,
    message: /--activations-candidates: activations candidate 'int8\/per-channel'/,
  },
];

/** A plan file for a model with SHA-256 `sha`, with `weights` and nothing else planned. */
function planFile(sha: string, weights: Record<string, unknown>): string {
  return file(
    `plan-${counter++}.json`,
    JSON.stringify({
      format: 'qgrain-plan/1',
      model_sha256: sha,
      model: 'other.onnx',
      budget: {},
      exclude: [],
      weights,
      activations: {},
      predicted: { output_sqnr_db: 0, bytes: 0 },
    }),
  );
}

describe('bad inputs and faults (the catalogue)', () => {
  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES.map((c) => [c.fault, c] as const))('%s', async (_, c) => {
    const result = await qgrain(await c.args());
    expect(result.exit, result.stderr).toBe(c.exit);
    expect(result.code).toBe(c.code);
    if (c.exit === 0) {
      // Successes print their report; warnings are lines of it.
      expect(`${result.stderr}${result.stdout}`).toMatch(c.message.source === '^$' ? /./ : c.message);
    } else {
      expect(result.stderr).toMatch(c.message);
      // One line, no stack frame, no internal error, no raw file bytes.
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toMatch(/unexpected error|NUMPY|\u0089PNG/);
    }
  });

  it('an error thrown deep in a pass still names the model file', async () => {
    // An attribute beyond 2^53 is found by the pass that reads it, which knows the node only.
    const path = forged((p) => {
      const gemm = p.graph!.node.find((n) => n.opType === 'Gemm')!;
      gemm.attribute = [
        onnxTypes.attribute.create({ name: 'transB', type: 2, i: bigIntToInt64(2n ** 60n) }) as never,
      ];
    });
    const io = capturedIO();
    expect(await main(['inspect', path], io)).toBe(1);
    expect(io.stderr()).toMatch(/beyond 2\^53/);
    expect(io.stderr()).toContain(path);
  });

  it('inspect marks a NaN weight non-finite instead of calling it holds', async () => {
    const result = await qgrain(['inspect', forged((p) => float32At(weight(p), 5, Number.NaN)), '--json']);
    const doc = JSON.parse(result.stdout) as {
      weights: { name: string; verdict: string; non_finite: number }[];
      verdict: string;
    };
    const entry = doc.weights.find((w) => w.name === 'layer1.weight')!;
    expect(entry).toMatchObject({ verdict: 'non-finite', non_finite: 1 });
    expect(doc.verdict).toMatch(/1 weight\(s\) hold NaN or Inf \('layer1\.weight'\)/);
  });
});
