import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { MAX_TENSOR_ELEMENTS, MAX_TENSOR_RANK } from './bounds.js';
import { parseModel, prepareModel, readModel, writeModel } from './index.js';
import type { GraphProto, ModelProto, TensorProto } from './proto-types.js';
import { bigIntToInt64 } from './proto-types.js';
import { onnxTypes } from './schema.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-bounds-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const WAKE = realModel('openwakeword-hello-deepa').path;

function decode(path: string): ModelProto {
  return onnxTypes.model.decode(readFileSync(path)) as unknown as ModelProto;
}

function encode(proto: ModelProto): Uint8Array {
  return onnxTypes.model.encode(proto as never).finish();
}

/** The largest raw_data initializer of a decoded model: the one a forged dim hurts most. */
function biggest(proto: ModelProto): TensorProto {
  return [...proto.graph!.initializer].sort((a, b) => b.rawData.length - a.rawData.length)[0]!;
}

function refusal(bytes: Uint8Array): QgrainError {
  try {
    parseModel(bytes, { source: 'forged.onnx' });
  } catch (error) {
    if (QgrainError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('parseModel accepted a forged model');
}

const forgedDims: [string, (t: TensorProto) => void, RegExp][] = [
  ['first dim 2^31', (t) => (t.dims[0] = 2 ** 31), /more than 4294967296 elements/],
  ['first dim doubled', (t) => (t.dims[0] = 2 * Number(t.dims[0])), /holds \d+ bytes of data/],
  ['first dim -1', (t) => (t.dims[0] = -1), /negative dimension -1/],
  ['dim beyond 2^53', (t) => (t.dims[0] = bigIntToInt64(2n ** 60n)), /more than \d+ elements/],
  ['dim -2^63', (t) => (t.dims[0] = bigIntToInt64(-(2n ** 63n))), /negative dimension/],
  [
    'dims whose product overflows int64',
    (t) => (t.dims = [bigIntToInt64(2n ** 40n), bigIntToInt64(2n ** 40n)]),
    /more than \d+ elements/,
  ],
  ['an extra dim', (t) => t.dims.push(3), /holds \d+ bytes/],
  ['rank beyond the limit', (t) => (t.dims = Array(MAX_TENSOR_RANK + 1).fill(1)), /rank 65/],
  ['raw_data cut short', (t) => (t.rawData = t.rawData.subarray(0, t.rawData.length - 4)), /holds \d+ bytes/],
  ['data type changed to double', (t) => (t.dataType = 11), /DOUBLE dims/],
  ['data type no ONNX defines', (t) => (t.dataType = 99), /data type 99/],
];

describe('sizes are checked as the model is read', () => {
  it.each(forgedDims)('%s: invalid-model naming file and tensor', (_, forge, message) => {
    const proto = decode(WAKE);
    const target = biggest(proto);
    forge(target);
    const error = refusal(encode(proto));
    expect(error.code).toBe('invalid-model');
    expect(error.tensor).toBe(target.name);
    expect(error.file).toBe('forged.onnx');
    expect(error.message).toContain(`'${target.name}'`);
    expect(error.message).toMatch(message);
  });

  it('typed fields must hold one entry per element', () => {
    const proto = decode(WAKE);
    const target = biggest(proto);
    const floats = new Float32Array(Uint8Array.from(target.rawData).buffer);
    target.rawData = new Uint8Array(0);
    target.floatData = Array.from(floats.subarray(0, floats.length - 1));
    expect(refusal(encode(proto)).message).toMatch(/floatData has \d+ entries/);
  });

  it('an external data length that disagrees with the dims is refused before the file is opened', () => {
    const proto = decode(WAKE);
    const target = biggest(proto);
    target.rawData = new Uint8Array(0);
    target.dataLocation = 1;
    target.externalData = [
      { key: 'location', value: 'w.data' },
      { key: 'length', value: '8' },
    ];
    expect(refusal(encode(proto)).message).toMatch(/external data length is 8/);
  });

  it('attribute tensors are checked like initializers', () => {
    // PP-OCRv4 det keeps its weights in Constant nodes.
    const proto = decode(realModel('ppocr-v4-det').path);
    const node = proto.graph!.node.find((n) => n.attribute.some((a) => a.t && a.t.rawData.length > 0))!;
    const attr = node.attribute.find((a) => a.t && a.t.rawData.length > 0)!;
    attr.t!.dims = [2 ** 31];
    const error = refusal(encode(proto));
    expect(error.message).toContain(`attribute '${attr.name}' of node '${node.name}'`);
  });

  it('a graph input declaring a dimension beyond 2^53 is refused', () => {
    const proto = decode(WAKE);
    const dim = proto.graph!.input[0]!.type!.tensorType!.shape!.dim;
    dim[dim.length - 1] = { dimValue: bigIntToInt64(2n ** 62n) } as never;
    expect(refusal(encode(proto)).message).toMatch(/declares dimension 4611686018427387904/);
  });

  it('subgraphs nested deeper than protobuf allows are refused', () => {
    const proto = decode(WAKE);
    let inner: GraphProto = onnxTypes.graph.create({ name: 'leaf' }) as unknown as GraphProto;
    for (let k = 0; k <= 40; k++) {
      const node = onnxTypes.node.create({
        name: `if${k}`,
        opType: 'If',
        attribute: [onnxTypes.attribute.create({ name: 'then_branch', type: 5, g: inner })],
      });
      inner = onnxTypes.graph.create({ name: `g${k}`, node: [node] }) as unknown as GraphProto;
    }
    proto.graph!.node.push(...inner.node);
    // The encoder has the same limit as the decoder: lift it to forge the file.
    const limit = protobuf.util.recursionLimit;
    protobuf.util.recursionLimit = 1000;
    let bytes: Uint8Array;
    try {
      bytes = encode(proto);
    } finally {
      protobuf.util.recursionLimit = limit;
    }
    expect(refusal(bytes)).toMatchObject({ code: 'invalid-model', message: /max depth exceeded/ });
  });

  it('a node without outputs is refused, naming the node', () => {
    const proto = decode(realModel('ppocr-cls').path);
    const node = proto.graph!.node.find((n) => n.opType === 'BatchNormalization') ?? proto.graph!.node[0]!;
    node.output = [];
    const error = refusal(encode(proto));
    expect(error).toMatchObject({ code: 'invalid-model', node: node.name });
    expect(error.message).toContain('has no outputs');
  });

  it('the limit is the size of the largest typed array', () => {
    expect(MAX_TENSOR_ELEMENTS).toBe(2 ** 32);
  });

  it('a model with a 2^31 first dim fails fast and small in prepare (not gigabytes in a fold)', async () => {
    const proto = decode(WAKE);
    biggest(proto).dims[0] = 2 ** 31;
    const file = join(work, 'dim31.onnx');
    writeFileSync(file, encode(proto));
    const started = performance.now();
    await expect(readModel(file)).rejects.toMatchObject({ code: 'invalid-model', file });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('external data files', () => {
  async function withExternal(name: string): Promise<{ dir: string; model: string; data: string }> {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const model = await readModel(WAKE);
    prepareModel(model);
    const file = join(dir, 'model.onnx');
    const { dataPath } = await writeModel(model, file, { externalData: true });
    return { dir, model: file, data: dataPath! };
  }

  it('a FIFO in place of the data file is refused without being opened', async () => {
    const { model, data } = await withExternal('fifo');
    rmSync(data);
    execFileSync('mkfifo', [data]);
    const error = await readModel(model).catch((e: unknown) => e as QgrainError);
    expect(error).toMatchObject({ code: 'io' });
    expect((error as QgrainError).message).toMatch(/is a FIFO, not a regular file/);
  });

  it('a directory in place of the data file is refused clearly', async () => {
    const { model, data } = await withExternal('directory');
    rmSync(data);
    mkdirSync(data);
    await expect(readModel(model)).rejects.toThrow(/is a directory, not a regular file/);
  });

  it("location '.' names the model's folder, and says so", async () => {
    const { model } = await withExternal('dot');
    const proto = decode(model);
    for (const t of proto.graph!.initializer) {
      t.externalData = t.externalData.map((e) =>
        e.key === 'location' ? { key: 'location', value: '.' } : e,
      );
    }
    writeFileSync(model, encode(proto));
    await expect(readModel(model)).rejects.toThrow(/names the model's folder itself/);
  });

  it('a data file shorter than the ranges it should hold is refused at load', async () => {
    const { model, data } = await withExternal('short');
    const bytes = readFileSync(data);
    writeFileSync(data, bytes.subarray(0, bytes.length - 1));
    await expect(readModel(model)).rejects.toMatchObject({ code: 'invalid-model' });
  });
});
