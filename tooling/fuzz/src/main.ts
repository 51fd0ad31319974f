import { type ChildProcess, execFile, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MODELS, loadSeeds } from './corpus.js';
import { MIB, memoryLimit, SLOW_MS } from './limits.js';
import { mutate } from './mutate.js';
import { Rng } from './random.js';
import { runTarget } from './target.js';
import type { Job, Report } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const CLI = join(repo, 'apps/cli/dist/cli.js');

// Past these the child is killed rather than waited for: an input that hangs or allocates
// gigabytes must not take the machine with it.
const HARD_TIMEOUT_MS = 30_000;
const HARD_MEMORY = 1536 * MIB;

const USAGE = `usage: pnpm fuzz [--iterations N] [--seed S] [--jobs J] [--models id,...] [--cli-every K] [--out DIR] [--ci] [--only I]`;

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '1' },
    models: { type: 'string', default: DEFAULT_MODELS.join(',') },
    'cli-every': { type: 'string', default: '200' },
    out: { type: 'string', default: join(repo, 'fuzz-findings') },
    only: { type: 'string' },
    ci: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function count(name: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    console.error(`fuzz: --${name} expects a whole number, got '${text}'\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const iterations = count('iterations', values.iterations);
const seed = count('seed', values.seed);
const jobs = Math.max(1, count('jobs', values.jobs));
const cliEvery = count('cli-every', values['cli-every']);
const models = values.models.split(',').filter((m) => m !== '');
const out = resolve(values.out);
const seeds = loadSeeds(models);
const started = performance.now();

function mutantOf(index: number) {
  return mutate(seeds, new Rng(seed, index));
}

// `--only I`: replay one input in this process, with its stack, to debug a reproducer.
if (values.only !== undefined) {
  const index = count('only', values.only);
  const { seed: base, mutant } = mutantOf(index);
  console.log(`input ${index} of seed ${seed}: ${base.id}, ${mutant.steps.join('; ')}`);
  const outcome = await runTarget(mutant.bytes, index);
  console.log(outcome.kind === 'failure' ? outcome.stack : outcome);
  process.exit(0);
}

/** Tallies of the run. */
const tally = {
  ok: 0,
  codes: new Map<string, number>(),
  failures: 0,
  slow: 0,
  memory: 0,
  killed: 0,
  slowestMs: 0,
  slowestWallMs: 0,
  slowWall: 0,
  remeasured: 0,
  heaviest: { peak: 0, limit: 0 },
  unmeasured: 0,
  cliRuns: 0,
  cliBad: 0,
  saved: 0,
  mutatorErrors: 0,
};

function save(kind: string, index: number, note: string): void {
  mkdirSync(out, { recursive: true });
  const { seed: base, mutant } = mutantOf(index);
  const name = `${kind}-s${seed}-i${index}`;
  writeFileSync(join(out, `${name}.onnx`), mutant.bytes);
  writeFileSync(
    join(out, `${name}.txt`),
    [
      `${kind}: input ${index} of seed ${seed}, from ${base.id}`,
      `mutations: ${mutant.steps.join('; ')}`,
      `replay: pnpm fuzz --seed ${seed} --models ${models.join(',')} --only ${index}`,
      '',
      note,
      '',
    ].join('\n'),
  );
  tally.saved++;
}

// A line on stderr every tenth of the run, so a long run shows it is alive.
let done = 0;
const progressEvery = Math.max(1, Math.ceil(iterations / 10));

function record(report: Extract<Report, { type: 'done' }>): void {
  const { index, outcome, ms, cpuMs, peak, bytes } = report;
  if (++done % progressEvery === 0) {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    console.error(`fuzz: ${done}/${iterations} inputs, ${tally.failures} failures, ${s} s`);
  }
  if (outcome.kind === 'ok') tally.ok++;
  else if (outcome.kind === 'qgrain') tally.codes.set(outcome.code, (tally.codes.get(outcome.code) ?? 0) + 1);
  else {
    tally.failures++;
    save('failure', index, outcome.stack || outcome.message);
  }
  if (report.remeasured) tally.remeasured++;
  tally.slowestMs = Math.max(tally.slowestMs, cpuMs);
  tally.slowestWallMs = Math.max(tally.slowestWallMs, ms);
  // The limit is on processor time, which another process on the machine cannot inflate; wall
  // time past the limit is counted apart, as a sign of a loaded machine or of waiting.
  if (ms > SLOW_MS) tally.slowWall++;
  if (cpuMs > SLOW_MS) {
    tally.slow++;
    save('slow', index, `took ${cpuMs.toFixed(0)} ms of processor time (${ms.toFixed(0)} ms wall)`);
  }
  const limit = memoryLimit(bytes);
  if (peak < 0) tally.unmeasured++;
  else {
    if (peak > tally.heaviest.peak) tally.heaviest = { peak, limit };
    if (peak > limit) {
      tally.memory++;
      save(
        'memory',
        index,
        `peak resident growth ${(peak / MIB).toFixed(1)} MiB, limit ${(limit / MIB).toFixed(1)} MiB`,
      );
    }
  }
}

/** Resident set of a child, in bytes, from /proc (0 where that is not available). */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs inputs [from, to) in child processes, restarting after any input that had to be killed. */
function runRange(from: number, to: number): Promise<void> {
  return new Promise((done) => {
    let child: ChildProcess;
    let current = -1;
    let startedAt = 0;
    let next = from;
    let why = '';
    const start = (): void => {
      if (next >= to) {
        done();
        return;
      }
      current = -1;
      why = '';
      child = fork(join(here, 'worker.ts'), [], {
        execArgv: [...process.execArgv, '--expose-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (report: Report) => {
        if (report.type === 'start') {
          current = report.index;
          startedAt = performance.now();
        } else if (report.type === 'skipped') {
          tally.mutatorErrors++;
          console.error(`fuzz: the mutator failed on input ${report.index}: ${report.message}`);
          next = report.index + 1;
        } else {
          record(report);
          current = -1;
          next = report.index + 1;
        }
      });
      child.on('exit', (code, signal) => {
        clearInterval(watchdog);
        if (current >= 0) {
          // The input in flight was killed by the watchdog or crashed the child.
          tally.killed++;
          save('killed', current, why || `child exited with ${signal ?? code} during this input`);
          next = current + 1;
        } else if (code !== 0 && next < to) {
          // The child died between inputs: a fault of the fuzzer. Skip one input so that a
          // fault that repeats cannot restart children forever.
          tally.mutatorErrors++;
          console.error(`fuzz: a child exited with ${signal ?? code} before input ${next}; skipping it`);
          next++;
        }
        start();
      });
      const watchdog = setInterval(() => {
        if (current < 0 || !child.pid) return;
        const elapsed = performance.now() - startedAt;
        const rss = rssOf(child.pid);
        if (elapsed > HARD_TIMEOUT_MS) why = `still running after ${HARD_TIMEOUT_MS} ms`;
        else if (rss > HARD_MEMORY) why = `resident set reached ${(rss / MIB).toFixed(0)} MiB`;
        if (why) child.kill('SIGKILL');
      }, 50);
      child.send({ seed, models, from: next, to } satisfies Job);
    };
    start();
  });
}

// A JS stack frame as Node prints it: "    at fn (file.js:1:2)" or "    at file.js:1:2".
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;

/** Runs the built CLI's `inspect` on one input and checks the command-line contract. */
function runCli(index: number, folder: string): Promise<void> {
  const file = join(folder, `input-${index}.onnx`);
  writeFileSync(file, mutantOf(index).mutant.bytes);
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, 'inspect', file],
      {
        timeout: HARD_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * MIB,
        env: { ...process.env, QGRAIN_DEBUG: '' },
      },
      (error, stdout, stderr) => {
        tally.cliRuns++;
        const code = error ? (error as { code?: number }).code : 0;
        const signal = error ? (error as { signal?: string | null }).signal : null;
        const text = `${stdout}\n${stderr}`;
        const problems = [
          signal ? `ended by signal ${signal}` : '',
          typeof code === 'number' && code !== 0 && code !== 1 ? `exit code ${code}` : '',
          STACK_FRAME.test(text) ? 'printed a JavaScript stack trace' : '',
          /unexpected error/.test(stderr) ? "printed 'unexpected error'" : '',
        ].filter((p) => p !== '');
        if (problems.length > 0) {
          tally.cliBad++;
          save('cli', index, `qgrain inspect: ${problems.join(', ')}\n\nstderr:\n${stderr.slice(0, 4000)}`);
        }
        rmSync(file, { force: true });
        done();
      },
    );
  });
}

const per = Math.ceil(iterations / jobs);
const ranges: Promise<void>[] = [];
// One child per job for its whole share; a new one only after an input had to be killed.
for (let j = 0; j < jobs; j++) {
  const from = j * per;
  const to = Math.min(iterations, from + per);
  if (from < to) ranges.push(runRange(from, to));
}
const cliChecks = (async () => {
  if (cliEvery === 0) return;
  if (!existsSync(CLI)) {
    console.error(`fuzz: ${CLI} is not built; run pnpm build to check the CLI on a sample of inputs`);
    return;
  }
  const folder = mkdtempSync(join(tmpdir(), 'qgrain-fuzz-cli-'));
  try {
    for (let index = 0; index < iterations; index += cliEvery) await runCli(index, folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
})();
await Promise.all([...ranges, cliChecks]);

const seconds = (performance.now() - started) / 1000;
const rows: [string, number | string][] = [
  ['ok', tally.ok],
  ...[...tally.codes.entries()].sort().map(([code, n]): [string, number] => [`QgrainError ${code}`, n]),
  ['other errors (failures)', tally.failures],
  [`slow (> ${SLOW_MS} ms of processor time)`, tally.slow],
  ['memory (> 64 MiB + 4x input)', tally.memory],
  ['killed (hang, crash or > 1.5 GiB)', tally.killed],
  ['fuzzer errors (inputs not run)', tally.mutatorErrors],
];
const width = Math.max(...rows.map(([label]) => label.length));
console.log(
  `fuzz: seed ${seed}, ${iterations} inputs from ${models.join(', ')}, ${jobs} job(s), ${seconds.toFixed(1)} s`,
);
for (const [label, n] of rows) console.log(`  ${label.padEnd(width)}  ${n}`);
console.log(
  `  slowest input ${tally.slowestMs.toFixed(0)} ms of processor time; slowest wall time ${tally.slowestWallMs.toFixed(0)} ms, ${tally.slowWall} input(s) over ${SLOW_MS} ms wall`,
);
console.log(`  measured twice (over a limit once, the smaller figures counted): ${tally.remeasured}`);
console.log(
  tally.unmeasured > 0
    ? `  peak memory not measured for ${tally.unmeasured} inputs (needs Linux /proc/self/clear_refs)`
    : `  largest peak memory growth ${(tally.heaviest.peak / MIB).toFixed(1)} MiB (its limit ${(tally.heaviest.limit / MIB).toFixed(1)} MiB)`,
);
console.log(
  `  CLI sample: ${tally.cliRuns} runs of qgrain inspect, ${tally.cliBad} with a signal, a bad exit code or a stack trace`,
);
if (tally.saved > 0) console.log(`  reproducers: ${tally.saved} in ${out}`);
const bad = tally.failures + tally.slow + tally.memory + tally.killed + tally.cliBad + tally.mutatorErrors;
process.exitCode = values.ci && bad > 0 ? 1 : 0;
