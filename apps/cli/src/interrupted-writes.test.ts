import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onnxTypes } from '@qgrain/onnx';
import { realModel } from '@qgrain/test-harness';
import { afterAll, describe, expect, it } from 'vitest';

// Runs the built CLI and SIGKILLs it at points spread over its run: whatever the moment, the
// output must be the old model or the complete new one, beside the data file it names, and the
// next run must leave no temporary file behind.
const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'qgrain-cli-kill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const KILLS = 20;

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function run(args: readonly string[]): void {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
}

/** The external data file names a model refers to. */
function dataFiles(model: Uint8Array): string[] {
  const proto = onnxTypes.model.decode(model) as unknown as {
    graph: { initializer: { externalData: { key: string; value: string }[] }[] };
  };
  const names = new Set<string>();
  for (const t of proto.graph.initializer) {
    for (const e of t.externalData) if (e.key === 'location') names.add(e.value);
  }
  return [...names];
}

/** The model at `path` and the content of each data file it names (undefined when missing). */
function snapshot(path: string): { model: string; data: Record<string, string | undefined> } {
  const bytes = readFileSync(path);
  const data: Record<string, string | undefined> = {};
  for (const name of dataFiles(bytes)) {
    const file = join(dirname(path), name);
    data[name] = existsSync(file) ? sha(readFileSync(file)) : undefined;
  }
  return { model: sha(bytes), data };
}

/** When to kill: after a time, or a delay after something shows in the output folder. */
type KillPoint = { readonly afterMs: number } | { readonly when: RegExp; readonly delayMs: number };

/** Runs `args` and kills it with SIGKILL at `point` (or lets it finish first). */
function killAt(args: readonly string[], dir: string, point: KillPoint): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'ignore' });
    const kill = () => child.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    if ('afterMs' in point) timer = setTimeout(kill, point.afterMs);
    else {
      // Watch the folder (every millisecond) for the file that marks the moment, e.g. a temporary data file.
      const seen = new Set(readdirSync(dir));
      poll = setInterval(() => {
        const hit = readdirSync(dir).some((f) => !seen.has(f) && point.when.test(f));
        if (!hit) return;
        clearInterval(poll);
        poll = undefined;
        timer = setTimeout(kill, point.delayMs);
      }, 1);
    }
    child.on('exit', () => {
      clearTimeout(timer);
      clearInterval(poll);
      done();
    });
  });
}

async function durationOf(args: readonly string[], dir: string): Promise<number> {
  const started = performance.now();
  await killAt(args, dir, { afterMs: 600_000 });
  return performance.now() - started;
}

/**
 * Puts the old pair in place at `out`, kills `newArgs` at each of `marks` (with a few delays) and
 * at times spread over the run (KILLS points in all), and after each kill checks that `out` is
 * the old pair or the new pair, complete.
 */
async function killPoints(
  name: string,
  oldArgs: string[],
  newArgs: string[],
  marks: readonly RegExp[],
): Promise<{ old: number; new: number }> {
  const dir = join(work, name);
  const reference = join(work, `${name}-reference`);
  mkdirSync(dir);
  mkdirSync(reference);
  const out = join(dir, 'out.onnx');
  const withOutput = (args: string[], path: string) => args.map((a) => (a === 'OUT' ? path : a));
  run(withOutput(newArgs, join(reference, 'out.onnx')));
  const fresh = snapshot(join(reference, 'out.onnx'));
  run(withOutput(oldArgs, out));
  const old = snapshot(out);
  const oldFiles = [out, ...Object.keys(old.data).map((n) => join(dir, n))].map(
    (f) => [f, readFileSync(f)] as const,
  );
  expect(old.model).not.toBe(fresh.model);

  const full = await durationOf(withOutput(newArgs, join(reference, 'timing.onnx')), reference);
  // The moments files appear, each with a few delays (the write window is milliseconds long),
  // then times spread over the run for the rest.
  const delays = [0, 1, 2, 4, 8, 16, 32];
  const points: KillPoint[] = marks.flatMap((when) => delays.map((delayMs) => ({ when, delayMs })));
  const timed = KILLS - points.length;
  for (let k = 0; k < timed; k++) points.push({ afterMs: full * (0.2 + (k + 0.5) / timed) });
  const outcomes = { old: 0, new: 0 };
  for (const point of points) {
    await killAt(withOutput(newArgs, out), dir, point);
    const now = snapshot(out);
    for (const [file, hash] of Object.entries(now.data)) expect(hash, `data file ${file}`).toBeDefined();
    if (now.model === old.model) {
      expect(now.data).toEqual(old.data);
      outcomes.old++;
    } else {
      expect(now).toEqual(fresh);
      outcomes.new++;
      // Back to the old pair for the next kill; leftover temporary files stay, for the last check.
      for (const f of readdirSync(dir)) if (!f.endsWith('.tmp')) rmSync(join(dir, f));
      for (const [file, bytes] of oldFiles) writeFileSync(file, bytes);
    }
  }
  // A run to the end removes what the killed runs left, and leaves the new pair only.
  run(withOutput(newArgs, out));
  expect(snapshot(out)).toEqual(fresh);
  expect(readdirSync(dir).sort()).toEqual(['out.onnx', ...Object.keys(fresh.data)].sort());
  expect(outcomes.old + outcomes.new).toBe(KILLS);
  if (process.env['QGRAIN_KILL_LOG']) console.log(name, outcomes);
  return outcomes;
}

describe('SIGKILL at any point of a write', () => {
  const cls = realModel('ppocr-cls').path;
  const wake = realModel('openwakeword-hello-deepa').path;

  it('prepare --external-data: the old pair or the new pair, never a mix', async () => {
    await killPoints(
      'prepare',
      ['prepare', cls, '-o', 'OUT', '--external-data', '--no-fold-bn'],
      ['prepare', cls, '-o', 'OUT', '--external-data'],
      // The temporary data file, then the data file in place (the model is not yet renamed).
      [/\.data\.tmp$/, /^out\.onnx\.[0-9a-f]{16}\.data$/],
    );
  }, 300_000);

  it('quantize (static): the old model or the complete new one', async () => {
    await killPoints(
      'quantize',
      ['quantize', wake, '-o', 'OUT', '--data', 'random:seed=2', '--activations', 'int8/per-tensor'],
      ['quantize', wake, '-o', 'OUT', '--data', 'random:seed=1'],
      // The temporary model file.
      [/^\.out\.onnx\.\d+\.[0-9a-f]{8}\.tmp$/],
    );
  }, 300_000);
});
