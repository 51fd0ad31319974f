// Loaded with `node --import` by bench-scale.mjs: at exit, writes the process's peak resident set
// (VmHWM, which starts afresh with the process; getrusage's maximum can carry the parent's over
// through fork) to stderr as `qgrain-peak-rss-kib <n>`. Linux only; elsewhere nothing is written.
import { readFileSync } from 'node:fs';

process.on('exit', () => {
  try {
    const peak = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (peak) process.stderr.write(`qgrain-peak-rss-kib ${peak[1]}\n`);
  } catch {
    // No /proc: the bench reports the peak as unknown.
  }
});
