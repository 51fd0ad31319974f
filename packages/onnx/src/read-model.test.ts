import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import { realModel } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';
import { readModel, writeModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function failure(path: string): Promise<QgrainError> {
  try {
    await readModel(path);
  } catch (error) {
    if (QgrainError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`readModel(${path}) succeeded`);
}

// A PNG signature and IHDR chunk: what a renamed image starts with.
const PNG_HEAD = Uint8Array.of(
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
  0x00,
  0x00,
  0x00,
  0x0d,
  0x49,
  0x48,
  0x44,
  0x52,
  0x00,
  0x00,
  0x00,
  0x10,
  0x00,
  0x00,
  0x00,
  0x10,
  0x08,
  0x06,
  0x00,
  0x00,
  0x00,
  0x1f,
  0xf3,
  0xff,
  0x61,
);

describe('readModel errors', () => {
  it.each([
    ['a missing file', () => join(work, 'missing.onnx'), 'io', /no such file/],
    ['a directory', () => work, 'io', /is a directory/],
    [
      'a PNG renamed .onnx',
      () => {
        const file = join(work, 'image.onnx');
        writeFileSync(file, PNG_HEAD);
        return file;
      },
      'invalid-model',
      /not (a valid ONNX|an ONNX) model/,
    ],
    [
      'a truncated model',
      () => {
        const file = join(work, 'truncated.onnx');
        const bytes = readFileSync(realModel('ppocr-cls').path);
        writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
        return file;
      },
      'invalid-model',
      /not a valid ONNX model/,
    ],
  ] as const)('%s gives a one-line error naming the file', async (_, makePath, code, pattern) => {
    const path = makePath();
    const error = await failure(path);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(pattern);
    expect(error.message).toContain(path);
    expect(error.message).not.toContain('\n');
  });
});

describe('writeModel', () => {
  it('replaces the target atomically and never touches the input file', async () => {
    const input = join(work, 'input.onnx');
    copyFileSync(realModel('openwakeword-hello-deepa').path, input);
    const before = readFileSync(input);
    const mtime = statSync(input).mtimeMs;
    const model = await readModel(input);
    const out = join(work, 'out.onnx');
    writeFileSync(out, 'old contents');
    await writeModel(model, out);
    expect(readFileSync(input)).toEqual(before);
    expect(statSync(input).mtimeMs).toBe(mtime);
    expect((await readModel(out)).graph.nodes.length).toBe(model.graph.nodes.length);
    // No temporary files are left behind.
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reports a folder that does not exist as an io error', async () => {
    const model = await readModel(realModel('openwakeword-hello-deepa').path);
    await expect(writeModel(model, join(work, 'no', 'such', 'dir', 'm.onnx'))).rejects.toMatchObject({
      code: 'io',
    });
  });
});
