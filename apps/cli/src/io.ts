/** Where a command writes: data to `out` (stdout), progress and logs to `err` (stderr). */
export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stderr is a terminal: only then are progress bars drawn. */
  readonly interactive: boolean;
}

/** The process's own streams. */
export function processIO(): CliIO {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    interactive: process.stderr.isTTY === true,
  };
}

/**
 * A progress line on stderr, redrawn in place on a terminal and silent otherwise (logs and pipes
 * stay clean). `done()` clears the line.
 */
export function progress(
  io: CliIO,
  label: string,
): { update(done: number, total: number): void; done(): void } {
  let last = '';
  return {
    update(done, total) {
      if (!io.interactive) return;
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      // An unknown total (0) shows the count alone: `3/0` reads as a bar that never ends.
      const count = total > 0 ? `${done}/${total}` : `${done}`;
      const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count}`;
      if (line !== last) io.err(`\r${line}`);
      last = line;
    },
    done() {
      if (io.interactive && last) io.err(`\r${' '.repeat(last.length)}\r`);
      last = '';
    },
  };
}

/** Renders rows as an aligned text table; numbers are right-aligned. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [header, ...rows].map((row) => row.map((c) => String(c)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const numeric = header.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every(
        (row) => typeof row[i] === 'number' || /^[-+]?[\d.]+(e[-+]?\d+)?$|^inf$|^-$/.test(String(row[i])),
      ),
  );
  return cells
    .map((row) =>
      row
        .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
