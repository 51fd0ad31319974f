import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIN_PARALLEL_ELEMENTS } from '@qgrain/pipeline';
import { realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStack } from '../bench/scale/generate-stack.mjs';

// The single-file CLI (`pnpm build` writes it; `pnpm test` builds first), run as a user would run
// a downloaded file: plain node, in a folder with nothing else in it.
const single = fileURLToPath(new URL('../dist/single/qgrain.mjs', import.meta.url));

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'qgrain-single-'));
  copyFileSync(single, join(folder, 'qgrain.mjs'));
  copyFileSync(realModel('openwakeword-hello-deepa').path, join(folder, 'model.onnx'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function qgrain(...args: string[]) {
  const run = spawnSync(process.execPath, ['qgrain.mjs', ...args], {
    cwd: folder,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the single-file CLI', () => {
  it('runs inspect and a weight-only quantize with no node_modules, then static once onnxruntime-node is added', () => {
    const size = statSync(single).size;
    console.log(`single-file CLI: ${(size / 1024).toFixed(1)} KiB`);
    expect(readdirSync(folder).sort()).toEqual(['model.onnx', 'qgrain.mjs']);

    const inspected = qgrain('inspect', 'model.onnx', '--json');
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout).totals.weights).toBe(3);

    const weightOnly = qgrain(
      'quantize',
      'model.onnx',
      '-o',
      'int8.onnx',
      '--weights-only',
      '--weights',
      'int8/per-channel',
    );
    expect(weightOnly.code, weightOnly.stderr).toBe(0);
    expect(existsSync(join(folder, 'int8.onnx'))).toBe(true);

    // Running a model needs onnxruntime-node, and says so in one line.
    const without = qgrain(
      'quantize',
      'model.onnx',
      '-o',
      'static.onnx',
      '--data',
      'random:seed=1,range=-1..1',
    );
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/needs the optional peer dependency 'onnxruntime-node'/);

    // Added as npm would add it: node_modules/onnxruntime-node (the workspace's installed copy).
    const ort = dirname(
      realpathSync(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')),
    );
    mkdirSync(join(folder, 'node_modules'));
    symlinkSync(ort, join(folder, 'node_modules', 'onnxruntime-node'), 'dir');
    const withOrt = qgrain(
      'quantize',
      'model.onnx',
      '-o',
      'static.onnx',
      '--data',
      'random:seed=1,range=-1..1',
      '--json',
    );
    expect(withOrt.code, withOrt.stderr).toBe(0);
    const report = JSON.parse(withOrt.stdout) as {
      layers: unknown[];
      model_output_sqnr_db: Record<string, unknown>;
    };
    expect(report.layers).toHaveLength(3);
    expect(Object.keys(report.model_output_sqnr_db)).toEqual(['39']);
  });

  it("is its own weight workers' script: --threads 2 writes the file of --threads 1", async () => {
    // 2^24 weight elements, the fewest a pool starts for (64 MiB of float32 in external data).
    const stack = await generateStack({ hidden: 1024, layers: 2, out: join(folder, 'stack') });
    expect(stack.parameters).toBeGreaterThanOrEqual(MIN_PARALLEL_ELEMENTS);
    for (const threads of ['1', '2']) {
      const run = qgrain(
        'quantize',
        stack.model,
        '-o',
        `stack-${threads}.onnx`,
        '--weights-only',
        '--threads',
        threads,
      );
      expect(run.code, run.stderr).toBe(0);
    }
    expect(
      readFileSync(join(folder, 'stack-2.onnx')).equals(readFileSync(join(folder, 'stack-1.onnx'))),
    ).toBe(true);
  });
});
