import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../..');
/** "Memory does not grow with the dataset" (design.md), read as: 10x the batches, at most 10% more. */
const GROWTH_LIMIT = 1.1;

interface ProbeResult {
  readonly batches: number;
  readonly tensors: number;
  readonly rss: number;
  readonly arrayBuffers: number;
  readonly liveHeap: number;
  readonly liveArrayBuffers: number;
  readonly medianLive: number;
  readonly settledLive: number;
  readonly lastPassLive: number;
}

/** Runs calibration-memory-probe.ts in a fresh Node (sources through tsx, GC exposed). */
function probe(repeats: number, method: string): ProbeResult {
  const tsx = createRequire(join(repo, 'package.json')).resolve('tsx');
  const text = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      tsx,
      join(here, '../../test/calibration-memory-probe.ts'),
      String(repeats),
      method,
    ],
    { cwd: repo, env: { ...process.env, TSX_TSCONFIG_PATH: join(repo, 'tsconfig.json') }, encoding: 'utf8' },
  );
  return JSON.parse(text) as ProbeResult;
}

const MIB = 1024 * 1024;
/**
 * Each case runs 528 calibration batches in two child processes: about 40 s on a quiet 2-core
 * machine, over 120 s when the rest of the suite shares those cores. This is a memory test; its
 * time limit only guards against a hang.
 */
const PROBE_TIMEOUT_MS = 400_000;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`;

describe('calibration memory does not grow with the number of batches', () => {
  it.each(['minmax', 'mse'])(
    '%s: 480 batches need no more than 48 (PP-OCR cls, one line per batch)',
    (method) => {
      const small = probe(1, method);
      const large = probe(10, method);
      expect(small.batches).toBe(48);
      expect(large.batches).toBe(480);
      expect(large.tensors).toBe(small.tensors);
      console.log(
        `${method}: 48 vs 480 batches: median live ${mib(small.medianLive)} vs ${mib(large.medianLive)}, ` +
          `live heap peak ${mib(small.liveHeap)} vs ${mib(large.liveHeap)}, ` +
          `live ArrayBuffers peak ${mib(small.liveArrayBuffers)} vs ${mib(large.liveArrayBuffers)}, ` +
          `raw RSS peak ${mib(small.rss)} vs ${mib(large.rss)}; ` +
          `480-batch run: live median of passes 3-4 ${mib(large.settledLive)}, of pass 10 ${mib(large.lastPassLive)}`,
      );
      // The JS heap holds the observers' state: it must not grow at all beyond noise.
      expect(large.liveHeap).toBeLessThanOrEqual(small.liveHeap * GROWTH_LIMIT);
      // Live ArrayBuffers (runtime outputs) step up once, ~29 -> ~36 MiB during the third pass, then
      // stay flat (see the probe): the last pass may not need more than passes 3-4.
      expect(large.lastPassLive).toBeLessThanOrEqual(large.settledLive * GROWTH_LIMIT);
      // And the step is bounded: never more than a third above the 48-batch run.
      expect(large.medianLive).toBeLessThanOrEqual(small.medianLive * GROWTH_LIMIT);
    },
    PROBE_TIMEOUT_MS,
  );
});
