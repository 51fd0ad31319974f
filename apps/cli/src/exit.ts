import { basename } from 'node:path';
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
    io.err(`qgrain: ${printable(error.message)} (see qgrain --help)\n`);
    return EXIT_USAGE;
  }
  if (QgrainError.isInstance(error)) {
    const advice = flagAdvice(error);
    io.err(`qgrain: ${printable(withFile(error))}${advice ? ` (${advice})` : ''}\n`);
    return EXIT_FAILED;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(`qgrain: unexpected error: ${printable(message)} (rerun with QGRAIN_DEBUG=1 for details)\n`);
  return EXIT_FAILED;
}

/**
 * What to type to fix an error, for the library options that have a flag. The libraries name the
 * option at fault in the error's `option` field and speak of options, never of flags: the
 * command line is the one place that knows its own flags.
 */
const FLAG_ADVICE: Readonly<Record<string, string>> = {
  data: 'pass --data <input>=<file or folder>, or a calibration cache with --calibration',
  preprocess: 'pass --preprocess, e.g. --preprocess "size=224x224,mean=imagenet,std=imagenet"',
  activations: 'set --activations; per-token activations are --dynamic int8/per-token',
  ranges: 'make a cache for this model with qgrain calibrate <model> --data ... -o <cache.json>',
  format: 'use --format qdq',
  plan: 'make a plan for this model with qgrain advise <model> --data ... -o <plan.json>',
  holdout: 'give more data batches or set --holdout',
  'random.shape': "give the input's whole shape in --data, e.g. --data state=random:seed=1,shape=2x1x128",
  'random.range': 'write the range as --data random:seed=1,range=<lo>..<hi> with lo <= hi',
};

/** The flag advice for a library error, when the option it names has a flag. */
export function flagAdvice(error: QgrainError): string | undefined {
  return error.option === undefined ? undefined : FLAG_ADVICE[error.option];
}

/** The message, led by the file it concerns when the error knows it and the message does not say it. */
function withFile(error: QgrainError): string {
  const file = error.file;
  if (file === undefined || error.message.includes(file) || error.message.includes(basename(file))) {
    return error.message;
  }
  return `${file}: ${error.message}`;
}

// A message past this length is cut: names and values in it can come from a hostile file, and
// one error must stay one readable line.
const MAX_MESSAGE_CHARS = 2000;

/**
 * One line of text safe to print on a terminal: line breaks joined, other control characters
 * (escape sequences from names in a hostile file) shown as \xNN, the length capped.
 */
export function printable(text: string): string {
  const line = text
    .replace(/\s*\n\s*/g, ' ')
    .trim()
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]/g, (c) =>
      c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}...` : line;
}
