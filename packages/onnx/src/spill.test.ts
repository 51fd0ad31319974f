import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Tensor } from '@qgrain/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { ExternalDataSpill, Model, createModel, readModel, serializeModel, writeModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-spill-'));
for (const folder of ['plain', 'spilled']) mkdirSync(join(work, folder));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function stack() {
  const initializers: Record<string, Tensor> = {};
  for (let l = 0; l < 3; l++) {
    initializers[`w${l}`] = new Tensor(
      'float32',
      [16, 16],
      Float32Array.from({ length: 256 }, (_, i) => Math.sin(i + l)),
    );
  }
  return createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 16] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 16] }],
    initializers,
    nodes: [0, 1, 2].map((l) => ({
      opType: 'MatMul',
      inputs: [l === 0 ? 'x' : `h${l - 1}`, `w${l}`],
      outputs: [l === 2 ? 'y' : `h${l}`],
    })),
  });
}

describe('ExternalDataSpill', () => {
  it('moves tensors out of memory; the model writes the same bytes, inline or with external data', async () => {
    const reference = stack();
    const inline = serializeModel(reference);
    const plain = await writeModel(reference, join(work, 'plain', 'model.onnx'), { externalData: true });

    const spilled = stack();
    const spill = ExternalDataSpill.create(work, 'model.onnx');
    // In use but nameless: nothing is left in the folder if the process dies.
    if (process.platform !== 'win32') expect(existsSync(spill.path)).toBe(false);
    for (const init of spilled.graph.initializers()) spill.spill(init.proto, init.bytes());
    expect(spilled.graph.initializers().map((i) => i.storage)).toEqual(['external', 'external', 'external']);
    expect(spill.bytes).toBe(2 * 4096 + 1024);
    const model = new Model(spilled.proto, { externalData: spill.over(undefined) });
    expect(serializeModel(model)).toEqual(inline);
    const written = await writeModel(model, join(work, 'spilled', 'model.onnx'), { externalData: true });
    expect(readFileSync(join(work, 'spilled', 'model.onnx'))).toEqual(
      readFileSync(join(work, 'plain', 'model.onnx')),
    );
    // The data file is named after its content, so the same tensors give the same name.
    expect(basename(written.dataPath!)).toBe(basename(plain.dataPath!));
    expect(readFileSync(written.dataPath!)).toEqual(readFileSync(plain.dataPath!));
    spill.remove();
    expect(existsSync(spill.path)).toBe(false);
    expect(() => serializeModel(model)).toThrow(/already removed/);
  });

  it('reads other locations through the model reader it layers over', async () => {
    const path = join(work, 'external.onnx');
    await writeModel(stack(), path, { externalData: true });
    const read = await readModel(path);
    const spill = ExternalDataSpill.create(work, 'external.onnx');
    const [first] = read.graph.initializers();
    spill.spill(first!.proto, first!.bytes());
    const model = new Model(read.proto, { externalData: spill.over(read.externalData) });
    expect(serializeModel(model)).toEqual(serializeModel(stack()));
    spill.remove();
  });
});
