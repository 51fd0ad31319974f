import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { prepareModel, readModel } from '@qgrain/onnx';
import {
  type CalibrationCache,
  type CalibrationShard,
  type CalibrationState,
  DEFAULT_CALIBRATION_BUDGET_BYTES,
  DEFAULT_CALIBRATION_METHOD,
  calibrateModel,
  calibrateShard,
  mergeCalibrationStates,
  nodeRunnerFactory,
  readCalibrationState,
  sha256Hex,
  shardBatchRange,
  writeCalibrationCache,
  writeCalibrationState,
} from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BACKEND, type GlobalOptions, resolveBackend } from '../backend-option.js';
import { type DataOptions, addDataOptions, openModelData } from '../data-options.js';
import { UsageError } from '../exit.js';
import { type CliIO, progress } from '../io.js';
import { refuseOverwritingInput } from '../output-guard.js';

const MIB = 1024 * 1024;

interface CalibrateCommandOptions extends DataOptions {
  readonly method: string;
  readonly budget?: number;
  readonly output?: string;
  readonly json?: boolean;
  readonly shard?: CalibrationShard;
}

/** Parses `--shard <i>/<n>`: shard i (from 0, as a batch system's job index) of n. */
export function parseShard(text: string): CalibrationShard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidArgumentError('expected <index>/<count> with shards numbered from 0, e.g. 0/4');
  }
  if (!(index < count)) {
    throw new InvalidArgumentError(
      `shard index ${index} is not one of 0..${count - 1} (shards are numbered from 0)`,
    );
  }
  return { index, count };
}

function positiveMiB(text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0))
    throw new InvalidArgumentError('expected a positive number of MiB, e.g. 512');
  return value;
}

function summaryJson(input: string, output: string, cache: CalibrationCache): Record<string, unknown> {
  return {
    input,
    output,
    model_sha256: cache.model_sha256,
    method: cache.method,
    tensors: Object.keys(cache.tensors).length,
    batches: cache.batches ?? null,
    samples: cache.samples ?? null,
    passes: cache.passes ?? null,
    data: cache.data ?? null,
    random: cache.random === true,
    skipped: cache.skipped?.length ?? 0,
  };
}

function summaryLine(output: string, cache: CalibrationCache): string {
  const passes = cache.passes === 1 ? '1 pass' : `${cache.passes} passes`;
  return (
    `qgrain: calibrated ${Object.keys(cache.tensors).length} activations with ${cache.method} on ` +
    `${cache.samples} samples in ${cache.batches} batches (${passes}); wrote ${output}\n`
  );
}

/**
 * Reads, prepares (Constant lifting, BatchNorm folding: the graph `qgrain quantize` plans on)
 * and calibrates a model on the given data, then writes the cache atomically.
 */
export async function calibrateCommand(
  path: string,
  options: CalibrateCommandOptions,
  globals: Partial<GlobalOptions>,
  io: CliIO,
): Promise<
  | { output: string; cache: CalibrationCache; state?: never }
  | { output: string; state: CalibrationState; cache?: never }
> {
  // Checked here, not by commander: it checks a parent's required options for `calibrate merge` too.
  if (!options.data?.length) throw new UsageError("required option '--data <input=path>' not specified");
  if (!options.output) throw new UsageError("required option '-o, --output <cache.json>' not specified");
  const model = await readModel(path);
  const output = resolve(options.output);
  await refuseOverwritingInput(model, [output]);
  const modelSha256 = await sha256Hex(new Uint8Array(await readFile(model.source)));
  prepareModel(model, { foldBatchNorm: true });
  const batchSize = options.batchSize ?? 1;
  const source = await openModelData(model, options, io);
  const backend = await resolveBackend(globals.backend ?? DEFAULT_BACKEND, io);
  const bar = progress(io, 'calibrating');
  const batches = source.count === undefined ? 0 : Math.ceil(source.count / batchSize);
  const calibration = {
    model,
    modelSha256,
    source,
    method: options.method,
    runner: nodeRunnerFactory(),
    budgetBytes: options.budget === undefined ? DEFAULT_CALIBRATION_BUDGET_BYTES : options.budget * MIB,
    observer: { backend },
  };
  try {
    if (options.shard) {
      const share = shardBatchRange(batches, options.shard);
      const shardBatches = share.to - share.from;
      const state = await calibrateShard({
        ...calibration,
        shard: options.shard,
        onProgress: (e) => bar.update((e.pass - 1) * shardBatches + e.batch, e.passes * shardBatches),
      });
      await writeCalibrationState(output, state);
      return { output, state };
    }
    const cache = await calibrateModel({
      ...calibration,
      onProgress: (e) => bar.update((e.pass - 1) * batches + e.batch, e.passes * batches),
    });
    await writeCalibrationCache(output, cache);
    return { output, cache };
  } finally {
    bar.done();
  }
}

function stateSummaryJson(input: string, output: string, state: CalibrationState): Record<string, unknown> {
  return {
    input,
    output,
    model_sha256: state.model_sha256,
    method: state.method,
    shard: state.shard,
    tensors: Object.keys(state.observers).length,
    total_batches: state.total_batches,
    batches: state.batches,
    samples: state.samples,
    passes: state.passes,
    data: state.data ?? null,
    random: state.random === true,
    skipped: state.skipped?.length ?? 0,
  };
}

function stateSummaryLine(output: string, state: CalibrationState): string {
  const { index, count } = state.shard;
  const { from, to } = shardBatchRange(state.total_batches, state.shard);
  return (
    `qgrain: observed ${Object.keys(state.observers).length} activations with ${state.method} on shard ${index}/${count}: ` +
    `${state.samples} samples in batches ${from + 1}-${to} of ${state.total_batches}; wrote ${output} ` +
    `(merge every shard's state with qgrain calibrate merge)\n`
  );
}

interface MergeCommandOptions {
  readonly output?: string;
  readonly json?: boolean;
}

/** Reads every shard state, merges them into one cache and writes it atomically. */
export async function calibrateMergeCommand(
  paths: readonly string[],
  options: MergeCommandOptions,
  globals: Partial<GlobalOptions>,
  io: CliIO,
): Promise<{ output: string; cache: CalibrationCache }> {
  if (!options.output) throw new UsageError("required option '-o, --output <cache.json>' not specified");
  const output = resolve(options.output);
  const inputs = paths.map((p) => resolve(p));
  if (inputs.includes(output)) {
    throw new UsageError(
      `refusing to write ${output}: it is one of the shard states; choose another output path with -o`,
    );
  }
  const states = [];
  for (const path of inputs) states.push(await readCalibrationState(path));
  const backend = await resolveBackend(globals.backend ?? DEFAULT_BACKEND, io);
  const cache = mergeCalibrationStates(states, { origins: inputs, backend });
  await writeCalibrationCache(output, cache);
  return { output, cache };
}

/**
 * Adds `qgrain calibrate <model.onnx> --data ... -o <cache.json>`: measures the activation
 * ranges `qgrain quantize` needs, once, into a cache tied to the model's bytes. With
 * `--shard <i>/<n>` it observes only shard i's batches and writes the raw observer state, and
 * `qgrain calibrate merge <state.json>... -o <cache.json>` turns every shard's state into the cache.
 */
export function addCalibrateCommand(program: Command, io: CliIO): void {
  const command = program
    .command('calibrate')
    .description(
      'run the float model over calibration data and save the activation ranges quantization needs to a cache file',
    )
    .argument('<model>', 'the .onnx file (never modified)')
    .option(
      '--method <method>',
      'minmax, moving-average[:c], percentile[:P], entropy or mse',
      DEFAULT_CALIBRATION_METHOD,
    )
    .option(
      '--budget <MiB>',
      `memory for the activations fetched in one run; above it the data is read in several passes (default ${DEFAULT_CALIBRATION_BUDGET_BYTES / MIB})`,
      positiveMiB,
    )
    .option(
      '--shard <i/n>',
      'observe only shard i (from 0) of n, a contiguous share of the batches, and write the raw observer state for qgrain calibrate merge',
      parseShard,
    )
    .option('-o, --output <cache.json>', 'where to write the calibration cache (required)')
    .option('--json', 'write a JSON summary on stdout instead of the line on stderr');
  addDataOptions(command, false).action(
    async (path: string, options: CalibrateCommandOptions, command: Command) => {
      const result = await calibrateCommand(
        path,
        options,
        command.optsWithGlobals<Partial<GlobalOptions>>(),
        io,
      );
      const input = resolve(path);
      if (result.state) {
        if (options.json)
          io.out(`${JSON.stringify(stateSummaryJson(input, result.output, result.state), null, 2)}\n`);
        else io.err(stateSummaryLine(result.output, result.state));
      } else if (options.json) {
        io.out(`${JSON.stringify(summaryJson(input, result.output, result.cache), null, 2)}\n`);
      } else io.err(summaryLine(result.output, result.cache));
    },
  );
  command
    .command('merge')
    .description(
      'merge the observer states of every shard (qgrain calibrate --shard) into the calibration cache of all the data',
    )
    .argument('<state.json...>', "each shard's state, in any order")
    .option('-o, --output <cache.json>', 'where to write the calibration cache (required)')
    .option('--json', 'write a JSON summary on stdout instead of the line on stderr')
    .action(async (paths: string[], _options: MergeCommandOptions, merge: Command) => {
      // `calibrate` declares -o and --json too and takes them first, so read them through it.
      const options = merge.optsWithGlobals<MergeCommandOptions & Partial<GlobalOptions>>();
      const { output, cache } = await calibrateMergeCommand(paths, options, options, io);
      const summary = summaryJson('', output, cache);
      delete summary['input'];
      if (options.json)
        io.out(`${JSON.stringify({ states: paths.map((p) => resolve(p)), ...summary }, null, 2)}\n`);
      else
        io.err(
          `qgrain: merged ${paths.length} shard states; ${summaryLine(output, cache).slice('qgrain: '.length)}`,
        );
    });
}
