import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import { Command, CommanderError, Option } from 'commander';
import { BACKEND_CHOICES, DEFAULT_BACKEND } from './backend-option.js';
import { addAdviseCommand } from './commands/advise.js';
import { addCalibrateCommand } from './commands/calibrate.js';
import { addCompareCommand } from './commands/compare.js';
import { addInspectCommand } from './commands/inspect.js';
import { addPrepareCommand } from './commands/prepare.js';
import { addQuantizeCommand } from './commands/quantize.js';
import { EXIT_OK, EXIT_USAGE, reportFailure } from './exit.js';
import { type CliIO, processIO } from './io.js';
import { checkOptionValues } from './option-checks.js';

/** Set by the single-file build, which runs with no package.json beside it. */
declare const QGRAIN_BUNDLED_VERSION: string | undefined;

/** The package version; package.json sits one folder above both src/ and dist/. */
function packageVersion(): string {
  if (typeof QGRAIN_BUNDLED_VERSION === 'string') return QGRAIN_BUNDLED_VERSION;
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Commands whose first argument is the model they read. */
const MODEL_COMMANDS = new Set(['inspect', 'prepare', 'calibrate', 'quantize']);

/** The model file of the command that ran, per program, recorded just before its action. */
const modelArgument = new WeakMap<Command, string>();

/**
 * A malformed-model error with the model file filled in where the thrower did not know it
 * (a pass deep in the graph knows the node, not the file), so the message names both.
 */
export function withModelFile(error: unknown, model: string | undefined): unknown {
  if (model === undefined || !QgrainError.isInstance(error) || error.code !== 'invalid-model' || error.file) {
    return error;
  }
  return QgrainError.withContext(error, { file: model });
}

/**
 * The `qgrain` command tree. Commander never exits the process here: it throws, and `main`
 * turns that into an exit code, so tests and embedders can run commands in-process.
 */
export function createProgram(io: CliIO = processIO()): Command {
  const program: Command = new Command('qgrain')
    .description('Quantize ONNX models at the granularity each layer needs.')
    .version(packageVersion(), '-V, --version')
    .addOption(
      new Option('--backend <kind>', 'kernels to compute with')
        .choices(BACKEND_CHOICES)
        .default(DEFAULT_BACKEND),
    )
    // Set before the subcommands are added: commander copies these settings to each of them.
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      // Usage errors are one line, in the same 'qgrain: ...' form as every other failure
      // (commander puts its "Did you mean ...?" suggestion on a line of its own).
      outputError: (text, write) =>
        write(
          `qgrain: ${text
            .replace(/^error: /, '')
            .trim()
            .replace(/\s*\n\s*/g, ' ')} (see qgrain --help)\n`,
        ),
    });
  // Option values are checked before any command reads a file (exit 2 for a bad value).
  program.hook('preAction', checkOptionValues);
  program.hook('preAction', (_, command) => {
    if (MODEL_COMMANDS.has(command.name()) && command.args[0] !== undefined) {
      modelArgument.set(program, resolve(command.args[0]));
    }
  });
  addInspectCommand(program, io);
  addPrepareCommand(program, io);
  addCalibrateCommand(program, io);
  addQuantizeCommand(program, io);
  addCompareCommand(program, io);
  addAdviseCommand(program, io);
  return program;
}

/**
 * Runs the command line `args` (without the node and script paths) and returns the exit code:
 * 0 done, 1 the work failed, 2 the command line was wrong. Never throws, never calls process.exit.
 */
export async function main(args: readonly string[], io: CliIO = processIO()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // `qgrain` with no command prints the help on stderr: that is a usage error, not `--help`.
    if (error instanceof CommanderError && error.code === 'commander.help' && error.exitCode !== 0) {
      return EXIT_USAGE;
    }
    return reportFailure(withModelFile(error, modelArgument.get(program)), io);
  }
}
