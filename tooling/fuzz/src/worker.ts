import { readFileSync, writeFileSync } from 'node:fs';
import { mutate } from './mutate.js';
import { Rng } from './random.js';
import { loadSeeds } from './corpus.js';
import { memoryLimit, SLOW_MS } from './limits.js';
import { runTarget } from './target.js';

// A child process of the fuzzer: runs a range of inputs one after the other and reports each.
// It is a process of its own so that the driver can kill it when an input hangs or takes too
// much memory, and so that its peak memory can be measured per input.

/** The driver's request: inputs [from, to) of the run with `seed`, mutating `models`. */
export interface Job {
  readonly seed: number;
  readonly models: readonly string[];
  readonly from: number;
  readonly to: number;
}

/** What the child reports. */
export type Report =
  | { readonly type: 'start'; readonly index: number }
  | { readonly type: 'skipped'; readonly index: number; readonly message: string }
  | {
      readonly type: 'done';
      readonly index: number;
      readonly bytes: number;
      /** Wall time of the input, in milliseconds. */
      readonly ms: number;
      /** Processor time (user + system) of the input, in milliseconds. */
      readonly cpuMs: number;
      /** Growth of the resident set during the input, in bytes; -1 when it cannot be measured. */
      readonly peak: number;
      /** True when the input went over a limit once and was measured again (the smaller figures count). */
      readonly remeasured: boolean;
      readonly outcome: Awaited<ReturnType<typeof runTarget>>;
    };

const KIB = 1024;

/** Resets the kernel's peak-RSS mark for this process (Linux 4.0+); false where that is not possible. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function statusKib(field: 'VmHWM' | 'VmRSS'): number {
  const text = readFileSync('/proc/self/status', 'utf8');
  const match = new RegExp(`${field}:\\s*(\\d+) kB`).exec(text);
  return match ? Number(match[1]) : 0;
}

/** Runs one input once, measuring its wall time, processor time and peak resident-set growth. */
async function measure(bytes: Uint8Array, index: number) {
  const measured = resetPeak();
  const before = measured ? statusKib('VmRSS') : 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const outcome = await runTarget(bytes, index);
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - started;
  const peak = measured ? Math.max(0, statusKib('VmHWM') - before) * KIB : -1;
  return { outcome, ms, cpuMs: (used.user + used.system) / 1000, peak };
}

async function runJob(job: Job): Promise<void> {
  const seeds = loadSeeds(job.models);
  const gc = (globalThis as { gc?: () => void }).gc;
  const baseline = process.memoryUsage().rss;
  for (let index = job.from; index < job.to; index++) {
    // Start each input from a collected heap once garbage has piled up, so one input's peak is
    // not another's leftovers.
    if (gc && process.memoryUsage().rss > baseline + 32 * KIB * KIB) gc();
    let mutant: ReturnType<typeof mutate>['mutant'];
    try {
      mutant = mutate(seeds, new Rng(job.seed, index)).mutant;
    } catch (error) {
      // A bug of the fuzzer itself, not of qgrain: reported apart, and the run goes on.
      process.send!({
        type: 'skipped',
        index,
        message: String((error as Error).stack ?? error),
      } satisfies Report);
      continue;
    }
    process.send!({ type: 'start', index } satisfies Report);
    let run = await measure(mutant.bytes, index);
    // Time and resident-set growth are properties of the input, but one measurement can also
    // catch a garbage collection of earlier inputs' leftovers or another process taking the
    // core. An input over a limit is measured once more from a collected heap: a real finding
    // repeats (the same input allocates and computes the same), noise does not.
    const over = run.cpuMs > SLOW_MS || run.peak > memoryLimit(mutant.bytes.length);
    if (over) {
      gc?.();
      const again = await measure(mutant.bytes, index);
      run = {
        ...run,
        ms: Math.min(run.ms, again.ms),
        cpuMs: Math.min(run.cpuMs, again.cpuMs),
        peak: Math.min(run.peak, again.peak),
      };
    }
    process.send!({
      type: 'done',
      index,
      bytes: mutant.bytes.length,
      ...run,
      remeasured: over,
    } satisfies Report);
  }
}

process.on('message', (job: Job) => {
  runJob(job).then(
    () => process.disconnect(),
    (error: unknown) => {
      console.error(error);
      process.exit(70);
    },
  );
});
