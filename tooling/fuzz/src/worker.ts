import { readFileSync, writeFileSync } from 'node:fs';
import { mutate } from './mutate.js';
import { Rng } from './random.js';
import { loadSeeds } from './corpus.js';
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
      readonly ms: number;
      /** Growth of the resident set during the input, in bytes; -1 when it cannot be measured. */
      readonly peak: number;
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
    const measured = resetPeak();
    const before = measured ? statusKib('VmRSS') : 0;
    const started = performance.now();
    const outcome = await runTarget(mutant.bytes, index);
    const ms = performance.now() - started;
    const peak = measured ? Math.max(0, statusKib('VmHWM') - before) * KIB : -1;
    process.send!({ type: 'done', index, bytes: mutant.bytes.length, ms, peak, outcome } satisfies Report);
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
