import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel, readModel, serializeModel, writeModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-ext-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function matmulModel() {
  return createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 64] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 64] }],
    initializers: {
      w: new Tensor('float32', [64, 64], randomFloat32(64 * 64, 1)),
      small: new Tensor('float32', [64], randomFloat32(64, 5)),
    },
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['m'] },
      { opType: 'Mul', inputs: ['m', 'small'], outputs: ['unused'] },
      { opType: 'Identity', inputs: ['m'], outputs: ['y'] },
    ],
  });
}

/** Writes a model with external data in a fresh folder, then points tensor 'w' at `location`. */
async function modelWithLocation(name: string, location: string): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const model = matmulModel();
  await writeModel(model, join(dir, 'model.onnx'), { externalData: true, dataFileName: 'model.onnx.data' });
  const written = await readModel(join(dir, 'model.onnx'));
  const w = written.graph.proto.initializer.find((t) => t.name === 'w')!;
  w.externalData = w.externalData.map((e) =>
    e.key === 'location' ? { key: 'location', value: location } : e,
  );
  const file = join(dir, 'tampered.onnx');
  // serializeModel would inline the data; encode the proto as it is to keep the tampered location.
  const { onnxTypes } = await import('./schema.js');
  writeFileSync(file, onnxTypes.model.encode(written.proto as never).finish());
  return file;
}

async function refusal(path: string): Promise<QgrainError> {
  try {
    await readModel(path);
  } catch (error) {
    if (QgrainError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`readModel(${path}) did not refuse the model`);
}

describe('external data', () => {
  it('writes big initializers page-aligned to one data file and keeps small ones inline', async () => {
    const dir = join(work, 'aligned');
    mkdirSync(dir);
    const model = matmulModel();
    const result = await writeModel(model, join(dir, 'm.onnx'), { externalData: true, threshold: 1024 });
    expect(result.externalTensors).toBe(1);
    // The data file is named after the model and its content's hash (model and data are one unit).
    expect(result.dataPath).toMatch(/\/m\.onnx\.[0-9a-f]{16}\.data$/);
    const dataName = result.dataPath!.slice(dir.length + 1);
    const back = await readModel(join(dir, 'm.onnx'));
    expect(back.graph.initializer('w')!.externalData).toEqual({
      location: dataName,
      offset: 0,
      length: 64 * 64 * 4,
    });
    expect(back.graph.initializer('small')!.storage).toBe('raw');
    expect(back.graph.initializer('w')!.toTensor().data).toEqual(
      model.graph.initializer('w')!.toTensor().data,
    );

    // Same model -> same bytes, and the session gives the same output as the inline model.
    await writeModel(model, join(dir, 'again.onnx'), { externalData: true, dataFileName: 'm.onnx.data.2' });
    expect(readFileSync(join(dir, 'm.onnx.data.2'))).toEqual(readFileSync(result.dataPath!));
    const x = new ort.Tensor('float32', randomFloat32(64, 2), [1, 64]);
    const inline = await ort.InferenceSession.create(serializeModel(model));
    const external = await ort.InferenceSession.create(join(dir, 'm.onnx'));
    expect((await external.run({ x }))['y']!.data).toEqual((await inline.run({ x }))['y']!.data);
  });

  it('offsets every external tensor to a multiple of 4096', async () => {
    const dir = join(work, 'pages');
    mkdirSync(dir);
    const model = createModel({
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 300] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 300] }],
      initializers: {
        a: new Tensor('float32', [300, 300], randomFloat32(90000, 3)),
        b: new Tensor('float32', [300, 300], randomFloat32(90000, 4)),
      },
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'a'], outputs: ['h'] },
        { opType: 'MatMul', inputs: ['h', 'b'], outputs: ['y'] },
      ],
    });
    await writeModel(model, join(dir, 'm.onnx'), { externalData: true });
    const back = await readModel(join(dir, 'm.onnx'));
    const offsets = back.graph.initializers().map((i) => i.externalData!.offset);
    expect(offsets).toEqual([0, Math.ceil((90000 * 4) / 4096) * 4096]);
  });

  it('refuses an absolute location, naming the tensor and the location', async () => {
    const error = await refusal(await modelWithLocation('absolute', '/etc/passwd'));
    expect(error.code).toBe('unsafe-path');
    expect(error.message).toContain("tensor 'w'");
    expect(error.message).toContain("'/etc/passwd'");
  });

  it("refuses a location with '..'", async () => {
    const error = await refusal(await modelWithLocation('dotdot', '../aligned/m.onnx.data'));
    expect(error.code).toBe('unsafe-path');
    expect(error.message).toContain("'../aligned/m.onnx.data'");
  });

  it('refuses a symlink that points out of the model folder', async () => {
    const path = await modelWithLocation('symlink', 'link.data');
    symlinkSync(join(work, 'aligned', 'm.onnx.data.2'), join(work, 'symlink', 'link.data'));
    const error = await refusal(path);
    expect(error.code).toBe('unsafe-path');
    expect(error.message).toContain("tensor 'w'");
    expect(error.message).toContain("'link.data'");
  });

  it('accepts a symlink that stays inside the model folder', async () => {
    const path = await modelWithLocation('inner-link', 'inner.data');
    symlinkSync(join(work, 'inner-link', 'model.onnx.data'), join(work, 'inner-link', 'inner.data'));
    const model = await readModel(path);
    expect(model.graph.initializer('w')!.toTensor().size).toBe(64 * 64);
  });
});
