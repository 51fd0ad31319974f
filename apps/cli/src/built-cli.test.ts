import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ocrDataPath, realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// These tests run the bundled binary, as a user would: exit codes, stdout and stderr are the contract.
const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../dist/cli.js');
const version = (JSON.parse(readFileSync(resolve(here, '../package.json'), 'utf8')) as { version: string })
  .version;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function qgrain(...args: string[]): Run {
  const run = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, QGRAIN_DEBUG: '' },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Stderr is exactly one line and carries no stack frame. */
function expectOneLine(stderr: string): void {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
}

const rec = realModel('ppocr-v4-rec').path;
const cls = realModel('ppocr-cls').path;
let dir: string;

beforeAll(() => {
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource(here)) {
    throw new Error(
      `${cli} is missing or older than apps/cli/src; run \`pnpm --filter qgrain build\` (the root \`pnpm test\` builds first)`,
    );
  }
  dir = mkdtempSync(join(tmpdir(), 'qgrain-cli-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('qgrain binary: files that are not models exit 1 with one line naming the file', () => {
  const cases: { what: string; make: () => string }[] = [
    { what: 'a missing file', make: () => join(dir, 'missing.onnx') },
    {
      what: 'a directory',
      make: () => {
        const path = join(dir, 'folder.onnx');
        mkdirSync(path);
        return path;
      },
    },
    {
      what: 'a PNG renamed .onnx',
      make: () => {
        const path = join(dir, 'picture.onnx');
        copyFileSync(ocrDataPath('calibration', 'images/rec_00.png'), path);
        return path;
      },
    },
    {
      what: 'a truncated model',
      make: () => {
        const bytes = readFileSync(cls);
        const path = join(dir, 'truncated.onnx');
        writeFileSync(path, bytes.subarray(0, bytes.byteLength >> 1));
        return path;
      },
    },
  ];
  it.each(cases)('$what', ({ make }) => {
    const path = make();
    for (const args of [
      ['inspect', path],
      ['prepare', path, '-o', join(dir, 'out.onnx')],
    ]) {
      const run = qgrain(...args);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expectOneLine(run.stderr);
      expect(run.stderr).toContain(path);
    }
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
  });
});

describe('qgrain binary: command-line mistakes exit 2 with one line', () => {
  const cases = [
    { what: 'unknown flag', args: () => ['inspect', '--bogus', rec], says: "unknown option '--bogus'" },
    { what: 'unknown command', args: () => ['inspekt', rec], says: "unknown command 'inspekt'" },
    { what: 'missing argument', args: () => ['inspect'], says: "missing required argument 'model'" },
    { what: 'bad backend', args: () => ['--backend', 'gpu', 'inspect', rec], says: "'gpu' is invalid" },
    { what: 'missing -o', args: () => ['prepare', rec], says: "'-o, --output <path>' not specified" },
    {
      what: 'bad threshold',
      args: () => ['prepare', rec, '-o', join(dir, 'x.onnx'), '--external-data-threshold', '1k'],
      says: "'1k' is invalid",
    },
  ];
  it.each(cases)('$what', ({ args, says }) => {
    const run = qgrain(...args());
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expectOneLine(run.stderr);
    expect(run.stderr).toContain(says);
  });

  it('no command at all prints the help on stderr and exits 2', () => {
    const run = qgrain();
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: qgrain');
  });

  it('--help and --version exit 0 on stdout', () => {
    const help = qgrain('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/inspect \[options\] <model>/);
    expect(help.stdout).toMatch(/prepare \[options\] <model>/);
    const shown = qgrain('--version');
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim()).toBe(version);
  });
});

describe('qgrain binary: prepare never replaces its input', () => {
  it('refuses the same file spelt differently or through a symlink, and leaves it untouched', () => {
    const input = join(dir, 'cls.onnx');
    copyFileSync(cls, input);
    const link = join(dir, 'cls-link.onnx');
    symlinkSync(input, link);
    const before = sha256(input);
    for (const output of [join(dir, '.', 'cls.onnx'), link]) {
      const run = qgrain('prepare', input, '-o', output);
      expect(run.code).toBe(2);
      expectOneLine(run.stderr);
      expect(run.stderr).toContain('refusing to write');
    }
    expect(sha256(input)).toBe(before);
  });
});

describe('qgrain binary: inspect', () => {
  it('prints the weight table on stdout and nothing on stderr when not on a terminal', () => {
    const run = qgrain('inspect', rec);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^weight +op +shape +dw +t8 dB +c8 dB +b8 dB +b4 dB +float KiB/m);
    expect(run.stdout).toMatch(/^linear_85\.w_0 +MatMul +120x6625 +no /m);
    expect(run.stdout).toMatch(/^verdict +int8\/per-tensor /m);
  });
});

describe('qgrain binary: the README shows actual output', () => {
  const readme = readFileSync(resolve(here, '../README.md'), 'utf8');
  /** The output printed under `$ <command>` in a console block of the README. */
  function shown(command: string): string {
    const start = readme.indexOf(`$ ${command}\n`);
    expect(start).toBeGreaterThanOrEqual(0);
    const body = readme.slice(start + command.length + 3);
    return body.slice(0, body.indexOf('```'));
  }

  it('inspect on PP-OCRv4 rec', () => {
    const assets = dirname(rec);
    const run = spawnSync(process.execPath, [cli, 'inspect', 'ch_PP-OCRv4_rec_infer.onnx'], {
      cwd: assets,
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(shown('qgrain inspect ch_PP-OCRv4_rec_infer.onnx'));
  });

  it('prepare on PP-OCRv4 det', () => {
    copyFileSync(realModel('ppocr-v4-det').path, join(dir, 'ch_PP-OCRv4_det_infer.onnx'));
    const run = spawnSync(
      process.execPath,
      [cli, 'prepare', 'ch_PP-OCRv4_det_infer.onnx', '-o', 'det-prepared.onnx'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(shown('qgrain prepare ch_PP-OCRv4_det_infer.onnx -o det-prepared.onnx'));
  });
});

describe('qgrain binary: the sharded calibration shell example of the README', () => {
  const readme = readFileSync(resolve(here, '../README.md'), 'utf8');
  /** The first fenced block of `language` at or after the line holding `marker`, and what follows it. */
  function block(language: string, marker: string): string {
    const from = readme.indexOf(`\`\`\`${language}\n`, readme.indexOf(marker));
    const body = readme.slice(from + language.length + 4);
    return body.slice(0, body.indexOf('```'));
  }

  it('runs as shown and merges into the single-process cache', () => {
    const work = mkdtempSync(join(dir, 'shards-'));
    const bin = join(work, 'bin');
    mkdirSync(bin);
    // `qgrain` on PATH, as after `npm install -g qgrain`.
    writeFileSync(join(bin, 'qgrain'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, {
      mode: 0o755,
    });
    symlinkSync(rec, join(work, 'ch_PP-OCRv4_rec_infer.onnx'));
    symlinkSync(ocrDataPath('calibration', 'calib_rec.npy.gz'), join(work, 'calib_rec.npy.gz'));
    const script = block('sh', 'Plain background jobs on one machine');
    expect(script).toContain('--shard "$i/4"');
    const run = spawnSync('sh', ['-e', '-c', script], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, QGRAIN_DEBUG: '' },
    });
    expect(run.status).toBe(0);
    const printed = run.stderr.replaceAll(`${work}/`, '').split('\n');
    for (const line of block('text', 'Plain background jobs on one machine').split('\n')) {
      if (line !== '...') expect(printed).toContain(line);
    }
    // The same command without --shard, from the same folder (the cache names its data file).
    const single = spawnSync(
      'sh',
      [
        '-c',
        'qgrain calibrate ch_PP-OCRv4_rec_infer.onnx --data calib_rec.npy.gz --batch-size 4 --method minmax -o single.json',
      ],
      { cwd: work, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
    );
    expect(single.status).toBe(0);
    expect(readFileSync(join(work, 'rec-cache.json'), 'utf8')).toBe(
      readFileSync(join(work, 'single.json'), 'utf8'),
    );
  });
});
