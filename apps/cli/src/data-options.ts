import type { Model } from '@qgrain/onnx';
import { type DataSource, bindDataSource, modelInputSpecs, openDataSources } from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { parseDataArgument } from './data-argument.js';
import type { CliIO } from './io.js';

/** The data flags shared by calibrate, quantize and compare. */
export interface DataOptions {
  readonly data?: readonly string[];
  readonly preprocess?: string;
  readonly filter?: string;
  readonly batchSize?: number;
}

/** Collects `--data` values, checking each as it is parsed so a malformed one exits 2 before any work. */
function collectData(value: string, previous: readonly string[] = []): string[] {
  parseDataArgument(value);
  return [...previous, value];
}

/** Parses a positive whole number flag value. */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('expected a positive whole number');
  }
  return value;
}

/** Adds --data/--preprocess/--filter/--batch-size to a command. */
export function addDataOptions(command: Command, required: boolean): Command {
  const data = '--data <input=path>';
  const help =
    'data: <input>=<file or folder>, a bare path for a single-input model, or [<input>=]random:seed=N[,range=LO..HI][,shape=AxB] (repeatable); .npy, .npy.gz, .npz, .json or an image folder';
  (required ? command.requiredOption(data, help, collectData) : command.option(data, help, collectData))
    .option(
      '--preprocess <spec>',
      'how image folders become tensors, e.g. "size=640x640,mean=imagenet,std=imagenet"',
    )
    .option('--filter <glob>', 'image file names to use from a folder, e.g. "det_*.png"')
    .option(
      '--batch-size <n>',
      'samples per model run when the batch dimension is symbolic (default 1)',
      positiveInteger,
    );
  return command;
}

/**
 * Opens the data flags as one source bound to the model's inputs (shapes and dtypes checked,
 * batched). Random data is allowed only when asked for, and always warned about.
 */
export async function openModelData(model: Model, options: DataOptions, io: CliIO): Promise<DataSource> {
  const inputs = modelInputSpecs(model);
  const raw = await openDataSources((options.data ?? []).map(parseDataArgument), {
    modelInputs: inputs,
    ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
    ...(options.filter !== undefined ? { filter: options.filter } : {}),
  });
  const source = bindDataSource(raw, inputs, { batchSize: options.batchSize ?? 1 });
  if (source.random) {
    io.err(
      `qgrain: warning: using random data (${source.description}); ranges and errors measured on it do not describe real inputs, so use it for smoke tests only\n`,
    );
  }
  return source;
}
