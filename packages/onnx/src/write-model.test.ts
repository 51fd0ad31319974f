import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '@qgrain/tensor';
import { randomFloat32 } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel, readModel, writeModel } from './index.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-onnx-write-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function weightModel(seed: number) {
  return createModel({
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 256] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 256] }],
    initializers: { w: new Tensor('float32', [256, 256], randomFloat32(256 * 256, seed)) },
    nodes: [{ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  });
}

function folder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function weightOf(path: string): Promise<Float32Array> {
  return (await readModel(path)).graph.initializer('w')!.toTensor().data as Float32Array;
}

describe('writeModel: model and external data as one unit', () => {
  it('replacing a model replaces its data file and removes the old one', async () => {
    const dir = folder('replace');
    const path = join(dir, 'm.onnx');
    const first = await writeModel(weightModel(1), path, { externalData: true });
    const second = await writeModel(weightModel(2), path, { externalData: true });
    expect(second.dataPath).not.toBe(first.dataPath);
    expect(readdirSync(dir).sort()).toEqual([second.dataPath!.slice(dir.length + 1), 'm.onnx'].sort());
    expect(await weightOf(path)).toEqual(weightModel(2).graph.initializer('w')!.toTensor().data);
  });

  it('the same model written twice gives the same file names and bytes', async () => {
    const dir = folder('same');
    const a = await writeModel(weightModel(3), join(dir, 'm.onnx'), { externalData: true });
    const b = await writeModel(weightModel(3), join(dir, 'm.onnx'), { externalData: true });
    expect(b.dataPath).toBe(a.dataPath);
    expect(existsSync(a.dataPath!)).toBe(true);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('writing inline after external data removes the data file the old model used', async () => {
    const dir = folder('inline-after');
    const path = join(dir, 'm.onnx');
    await writeModel(weightModel(4), path, { externalData: true });
    await writeModel(weightModel(4), path);
    expect(readdirSync(dir)).toEqual(['m.onnx']);
  });

  it('concurrent writers to one path leave a model whose data is its own', async () => {
    const dir = folder('concurrent');
    const path = join(dir, 'm.onnx');
    const models = [5, 6, 7, 8].map(weightModel);
    await Promise.all(models.map((m) => writeModel(m, path, { externalData: true })));
    const got = await weightOf(path);
    const match = models.filter(
      (m) => Buffer.compare(Buffer.from(m.graph.initializer('w')!.bytes()), Buffer.from(got.buffer)) === 0,
    );
    expect(match).toHaveLength(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('removes temporary files of our pattern left by dead processes, and nothing else', async () => {
    const dir = folder('stale');
    // Process ids above the kernel's pid_max (4194304 at most) never run.
    const stale = ['.m.onnx.99999999.deadbeef.tmp', '.m.onnx.99999998.0badf00d.data.tmp'];
    const kept = [
      `.m.onnx.${process.pid}.cafebabe.tmp`, // a live process: still writing
      '.other.onnx.99999999.deadbeef.tmp', // another target
      'm.onnx.99999999.deadbeef.tmp', // not hidden: not ours
      'notes.txt',
    ];
    for (const name of [...stale, ...kept]) writeFileSync(join(dir, name), 'x');
    await writeModel(weightModel(9), join(dir, 'm.onnx'), { externalData: true });
    const left = readdirSync(dir);
    for (const name of stale) expect(left).not.toContain(name);
    for (const name of kept) expect(left).toContain(name);
  });

  it('a temporary file registered for removal is gone after SIGTERM, and the process ends by the signal', async () => {
    const dir = folder('signal');
    const temp = join(dir, '.m.onnx.1.00000000.tmp');
    writeFileSync(temp, 'partial');
    const script = [
      `const { removeOnSignal } = await import(${JSON.stringify(new URL('./temp-files.ts', import.meta.url).href)});`,
      `removeOnSignal(${JSON.stringify(temp)});`,
      "process.send('ready');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(existsSync(temp)).toBe(false);
  });
});
