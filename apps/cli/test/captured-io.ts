import type { CliIO } from '../src/index.js';

/** A CliIO that keeps what a command wrote, for running commands in-process in tests. */
export interface CapturedIO extends CliIO {
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
}

/** Collects stdout and stderr in memory; never interactive, so no progress bars. */
export function capturedIO(): CapturedIO {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    interactive: false,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
