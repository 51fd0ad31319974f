// Measures the Granularity Explorer's first load on the built site: bytes transferred until the
// weight table is shown, and the time from navigation to the table, in headless chromium, each run
// in a fresh browser context (empty cache). Writes pages/explorer-first-load.json, which the
// explorer page states.
//
//   pnpm --filter @qgrain/docs build && pnpm --filter @qgrain/docs measure:explorer [--runs N]
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '@qgrain/test-harness';
import { SITE_DIR, type Served, serveSite } from '../src/serve.js';

const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 7;
const out = resolve(import.meta.dirname, '../pages/explorer-first-load.json');

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

let served: Served[] = [];
const server = await serveSite(SITE_DIR, (file) => served.push(file));
const browser = await launchChromium();
const runs: { bytes: number; gzipBytes: number; prefetchBytes: number; tableMs: number; files: number }[] =
  [];
try {
  for (let run = 0; run < RUNS; run++) {
    served = [];
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.origin}/explorer.html`);
    const table = await page.waitForSelector('.explorer[data-table-ms]', { timeout: 120_000 });
    const tableMs = Number(await table.getAttribute('data-table-ms'));
    // Pages the site prefetches for links in view are not needed for the table; counted apart.
    const files = served.filter((f) => !f.prefetch);
    const prefetchBytes = served.filter((f) => f.prefetch).reduce((sum, f) => sum + f.bytes, 0);
    await context.close();
    // What a host that compresses text would send: gzip of every file but the already dense ones.
    const gzipBytes = files.reduce(
      (sum, { file, bytes }) =>
        sum + (/\.(onnx|wasm|woff2|png)$/.test(file) ? bytes : gzipSync(readFileSync(file)).length),
      0,
    );
    runs.push({
      bytes: files.reduce((sum, f) => sum + f.bytes, 0),
      gzipBytes,
      prefetchBytes,
      tableMs,
      files: files.length,
    });
    console.error(
      `run ${run + 1}: ${files.length} files, ${runs.at(-1)!.bytes} bytes, table after ${tableMs} ms`,
    );
    if (run === 0) {
      for (const f of served)
        console.error(`  ${relative(SITE_DIR, f.file)} ${f.bytes}${f.prefetch ? ' (prefetch)' : ''}`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}

const result = {
  date: new Date().toISOString().slice(0, 10),
  machine: {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    node: process.versions.node,
  },
  browser: 'headless chromium (Debian), fresh context per run, site served from 127.0.0.1',
  runs: RUNS,
  files: median(runs.map((r) => r.files)),
  bytes_median: median(runs.map((r) => r.bytes)),
  gzip_bytes_median: median(runs.map((r) => r.gzipBytes)),
  prefetch_bytes_median: median(runs.map((r) => r.prefetchBytes)),
  table_ms_median: median(runs.map((r) => r.tableMs)),
  table_ms: runs.map((r) => r.tableMs),
};
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.error(
  `explorer first load: ${result.bytes_median} bytes (${result.gzip_bytes_median} gzipped), table after ${result.table_ms_median} ms (median of ${RUNS})`,
);
