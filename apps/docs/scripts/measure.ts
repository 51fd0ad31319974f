// Regenerates the measured page: runs the repository's OCR evaluation and quantize benchmark
// (both need `pnpm build` first, and the shared OCR data beside the repository), saves their JSON
// to pages/measured/ppocr-v4.json and writes the tables the page includes.
//
//   pnpm --filter @qgrain/docs measure [--runs N]
//   pnpm --filter @qgrain/docs measure --render   (rewrites the tables from the saved JSON only)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { type Measurement, measuredMarkdown } from '../src/measured.js';

const repo = resolve(import.meta.dirname, '../../..');
const out = resolve(import.meta.dirname, '../pages/measured');
const runsAt = process.argv.indexOf('--runs');
const runs = runsAt >= 0 ? process.argv[runsAt + 1]! : '5';

function run(label: string, command: string, args: string[]): unknown {
  console.error(`measure: ${label}: ${command} ${args.join(' ')}`);
  const started = performance.now();
  const text = execFileSync(command, args, {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  console.error(`measure: ${label} took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return JSON.parse(text);
}

if (process.argv.includes('--render')) {
  const saved = JSON.parse(readFileSync(join(out, 'ppocr-v4.json'), 'utf8')) as Measurement;
  writeFileSync(join(out, 'ppocr-v4.results.md'), measuredMarkdown(saved));
  console.error('measure: rewrote ppocr-v4.results.md from ppocr-v4.json');
  process.exit(0);
}

const evalArgs = ['--tsconfig', 'tsconfig.json', 'apps/cli/eval/ocr.ts', '--json'];
const benchArgs = ['apps/cli/bench/quantize.mjs', '--json', '--runs', runs];
const measurement: Measurement = {
  date: new Date().toISOString().slice(0, 10),
  machine: {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    node: process.versions.node,
  },
  commands: ['pnpm eval:ocr --json', `node ${benchArgs.join(' ')}`],
  eval: run('OCR accuracy', process.execPath, [
    join(repo, 'node_modules/tsx/dist/cli.mjs'),
    ...evalArgs,
  ]) as Measurement['eval'],
  bench: run('quantize benchmark', process.execPath, benchArgs) as Measurement['bench'],
};
writeFileSync(join(out, 'ppocr-v4.json'), `${JSON.stringify(measurement, null, 2)}\n`);
writeFileSync(join(out, 'ppocr-v4.results.md'), measuredMarkdown(measurement));
console.error(`measure: wrote ${join('pages/measured', 'ppocr-v4.json')} and ppocr-v4.results.md`);
