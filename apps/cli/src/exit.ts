import { QgrainError } from '@qgrain/tensor';
import { CommanderError } from 'commander';
import type { CliIO } from './io.js';

/** Exit codes: 0 done, 1 the work failed (bad model, bad data, I/O), 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A usage error found after parsing (a flag value that makes no sense): exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Turns anything a command threw into one line on stderr and an exit code. Stack traces are for
 * qgrain's developers: they appear only with QGRAIN_DEBUG=1.
 */
export function reportFailure(error: unknown, io: CliIO): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message (help, version, or what was wrong).
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    ) {
      return EXIT_OK;
    }
    return EXIT_USAGE;
  }
  if (process.env.QGRAIN_DEBUG === '1' && error instanceof Error && error.stack) io.err(`${error.stack}\n`);
  if (error instanceof UsageError) {
    io.err(`qgrain: ${error.message} (see qgrain --help)\n`);
    return EXIT_USAGE;
  }
  if (QgrainError.isInstance(error)) {
    io.err(`qgrain: ${oneLine(error.message)}\n`);
    return EXIT_FAILED;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`qgrain: unexpected error: ${oneLine(message)} (rerun with QGRAIN_DEBUG=1 for details)\n`);
  return EXIT_FAILED;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
