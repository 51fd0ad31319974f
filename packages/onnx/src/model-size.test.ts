import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realModels } from '@qgrain/test-harness';
import { Tensor } from '@qgrain/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createModel,
  inlineModelSize,
  liftConstants,
  readModel,
  serializeModel,
  writeModel,
} from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-size-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('inlineModelSize', () => {
  it.each(realModels())('$id: equals the length serializeModel gives', async ({ path }) => {
    const model = await readModel(path);
    expect(inlineModelSize(model)).toBe(serializeModel(model).byteLength);
    // Lifted constants move tensors from node attributes into initializers: still exact.
    liftConstants(model);
    expect(inlineModelSize(model)).toBe(serializeModel(model).byteLength);
  });

  it('counts external tensors by their length without reading them, length prefixes included', async () => {
    // Sizes around the varint steps of the nested messages' length prefixes (128, 16 KiB, 2 MiB).
    const sizes = [100, 127, 128, 4000, 16383, 16384, 600_000];
    const initializers = Object.fromEntries(
      sizes.map((n, i) => [
        `w${i}`,
        new Tensor(
          'float32',
          [n],
          Float32Array.from({ length: n }, (_, k) => k % 7),
        ),
      ]),
    );
    const model = createModel({
      opset: 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1] }],
      initializers,
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    const path = join(work, 'external.onnx');
    await writeModel(model, path, { externalData: true, threshold: 0 });
    const external = await readModel(path);
    expect(external.graph.initializers().every((i) => i.storage === 'external')).toBe(true);
    const reads: string[] = [];
    const reader = external.externalData!;
    const read = reader.read.bind(reader);
    reader.read = (info, name) => {
      reads.push(name);
      return read(info, name);
    };
    const counted = inlineModelSize(external);
    expect(reads).toEqual([]);
    expect(counted).toBe(serializeModel(external).byteLength);
    expect(counted).toBe(serializeModel(model).byteLength);
  });
});
