import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBitEqual, realModelInputs, realModels, runSession, seededFeeds } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EXTERNAL_DATA_ALIGNMENT, liftConstants, readModel, serializeModel, writeModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-rw-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function outputsOf(model: string | Uint8Array, id: string) {
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model)
      : await ort.InferenceSession.create(model);
  try {
    return await runSession(session, seededFeeds(session, 7, realModelInputs(id)));
  } finally {
    await session.release();
  }
}

function expectSameOutputs(
  actual: Awaited<ReturnType<typeof outputsOf>>,
  expected: typeof actual,
  what: string,
) {
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
  for (const name of Object.keys(expected)) {
    expect(actual[name]!.dims).toEqual(expected[name]!.dims);
    assertBitEqual(actual[name]!.data, expected[name]!.data, `${what}: output '${name}'`);
  }
}

describe.each(realModels())('$id survives read -> write', ({ id, path }) => {
  it('runs bit-identically in onnxruntime and reads back equal', async () => {
    const original = await outputsOf(path, id);
    const model = await readModel(path);
    const bytes = serializeModel(model);
    expectSameOutputs(await outputsOf(bytes, id), original, id);

    const again = serializeModel(await readModel(await writeTo(bytes, id)));
    expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
  });

  it('runs bit-identically with its weights in external data', async () => {
    const original = await outputsOf(path, id);
    const model = await readModel(path);
    // Most corpus models keep weights in Constant nodes; as initializers they can go external.
    liftConstants(model);
    const target = join(work, `${id}-ext`, 'model.onnx');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(work, `${id}-ext`), { recursive: true }));
    const result = await writeModel(model, target, { externalData: true });
    expect(result.externalTensors).toBeGreaterThan(0);
    expect(result.modelBytes).toBeLessThan(readFileSync(path).byteLength / 2);
    expectSameOutputs(await outputsOf(target, id), original, `${id} (external data)`);

    // Read back: every external tensor sits at a page-aligned offset and holds the same bytes.
    const back = await readModel(target);
    const before = new Map(model.graphs().flatMap((g) => g.initializers().map((i) => [i.name, i] as const)));
    let external = 0;
    for (const graph of back.graphs()) {
      for (const init of graph.initializers()) {
        const info = init.externalData;
        if (info) {
          external++;
          expect(info.offset % EXTERNAL_DATA_ALIGNMENT).toBe(0);
          expect(info.location).toMatch(/^model\.onnx\.[0-9a-f]{16}\.data$/);
        }
        expect(Buffer.compare(Buffer.from(init.bytes()), Buffer.from(before.get(init.name)!.bytes()))).toBe(
          0,
        );
      }
    }
    expect(external).toBe(result.externalTensors);
    // Reading and writing inline again gives the bytes the in-memory model gives.
    expect(Buffer.compare(Buffer.from(serializeModel(back)), Buffer.from(serializeModel(model)))).toBe(0);
  });
});

async function writeTo(bytes: Uint8Array, id: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const file = join(work, `${id}.onnx`);
  await writeFile(file, bytes);
  return file;
}
