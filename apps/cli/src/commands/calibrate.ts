import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { prepareModel, readModel } from '@qgrain/onnx';
import {
  type CalibrationCache,
  DEFAULT_CALIBRATION_BUDGET_BYTES,
  DEFAULT_CALIBRATION_METHOD,
  calibrateModel,
  nodeRunnerFactory,
  sha256Hex,
  writeCalibrationCache,
} from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BACKEND, type GlobalOptions, resolveBackend } from '../backend-option.js';
import { type DataOptions, addDataOptions, openModelData } from '../data-options.js';
import { type CliIO, progress } from '../io.js';
import { refuseOverwritingInput } from '../output-guard.js';

const MIB = 1024 * 1024;

interface CalibrateCommandOptions extends DataOptions {
  readonly method: string;
  readonly budget?: number;
  readonly output: string;
  readonly json?: boolean;
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
): Promise<{ output: string; cache: CalibrationCache }> {
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
  try {
    const cache = await calibrateModel({
      model,
      modelSha256,
      source,
      method: options.method,
      runner: nodeRunnerFactory(),
      budgetBytes: options.budget === undefined ? DEFAULT_CALIBRATION_BUDGET_BYTES : options.budget * MIB,
      observer: { backend },
      onProgress: (e) => bar.update((e.pass - 1) * batches + e.batch, e.passes * batches),
    });
    await writeCalibrationCache(output, cache);
    return { output, cache };
  } finally {
    bar.done();
  }
}

/**
 * Adds `qgrain calibrate <model.onnx> --data ... -o <cache.json>`: measures the activation
 * ranges `qgrain quantize` needs, once, into a cache tied to the model's bytes.
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
    .requiredOption('-o, --output <cache.json>', 'where to write the calibration cache')
    .option('--json', 'write a JSON summary on stdout instead of the line on stderr');
  addDataOptions(command, true).action(
    async (path: string, options: CalibrateCommandOptions, command: Command) => {
      const { output, cache } = await calibrateCommand(
        path,
        options,
        command.optsWithGlobals<Partial<GlobalOptions>>(),
        io,
      );
      if (options.json) io.out(`${JSON.stringify(summaryJson(resolve(path), output, cache), null, 2)}\n`);
      else io.err(summaryLine(output, cache));
    },
  );
}
