import { basename, resolve } from 'node:path';
import {
  DEFAULT_EXTERNAL_THRESHOLD,
  type PrepareSummary,
  type WriteResult,
  prepareModel,
  readModel,
} from '@qgrain/onnx';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatBytes } from '../byte-size.js';
import type { CliIO } from '../io.js';
import { refuseOverwritingInput } from '../output-guard.js';
import { writeOutputModel } from '../output-model.js';
import { preparedCounts } from '../prepared-counts.js';

interface PrepareOptions {
  readonly output: string;
  readonly foldBn: boolean;
  readonly foldAffine: boolean;
  readonly fuseHardSwish: boolean;
  readonly externalData?: boolean;
  readonly externalDataThreshold?: number;
  readonly json?: boolean;
}

/** Parses `--external-data-threshold`: a whole number of bytes. */
export function parseByteThreshold(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError('expected a whole number of bytes, e.g. 1024');
  }
  return value;
}

/** Adds `--external-data` and `--external-data-threshold`, which every command that writes a model takes. */
export function addExternalDataOptions(command: Command): Command {
  return command
    .option(
      '--external-data',
      "write initializers to one data file beside the output ('<output>.<hash>.data', replaced with the model as one unit)",
    )
    .addOption(
      new Option(
        '--external-data-threshold <bytes>',
        `smallest initializer moved to external data (implies --external-data; default ${DEFAULT_EXTERNAL_THRESHOLD})`,
      )
        .argParser(parseByteThreshold)
        .implies({ externalData: true }),
    );
}

function summaryJson(input: string, prepared: PrepareSummary, written: WriteResult): Record<string, unknown> {
  return {
    input,
    output: written.modelPath,
    constants_lifted: prepared.constantsLifted,
    batch_norms_folded: prepared.batchNormsFolded,
    affines_folded: prepared.affinesFolded,
    hard_swishes_fused: prepared.hardSwishesFused,
    identities_removed: prepared.identitiesRemoved,
    exporter_notes_stripped: prepared.exporterNotesStripped,
    model_bytes: written.modelBytes,
    data_path: written.dataPath ?? null,
    data_bytes: written.dataBytes,
    external_tensors: written.externalTensors,
    bytes_written: written.modelBytes + written.dataBytes,
  };
}

function summaryLine(output: string, prepared: PrepareSummary, written: WriteResult): string {
  const data = written.dataPath
    ? ` + ${formatBytes(written.dataBytes)} external data (${written.externalTensors} tensors in ${basename(written.dataPath)})`
    : '';
  return (
    `qgrain: prepared ${output}: ${preparedCounts(prepared)}; ` +
    `wrote ${formatBytes(written.modelBytes)}${data}\n`
  );
}

/** Adds `qgrain prepare <in.onnx> -o <out.onnx>`. */
export function addPrepareCommand(program: Command, io: CliIO): void {
  const command = program
    .command('prepare')
    .description(
      'lift Constant weights to initializers, remove Identity/Dropout, fold BatchNorm and constant per-channel Mul/Add into the layer before, fuse spelled-out HardSwish, then write the model atomically',
    )
    .argument('<model>', 'the .onnx file to read (never modified)')
    .requiredOption('-o, --output <path>', 'where to write the prepared model (must not be the input)')
    .option('--no-fold-bn', 'keep BatchNormalization nodes instead of folding them into the layer before')
    .option(
      '--no-fold-affine',
      'keep constant Mul/Add/Sub nodes after a Conv or Gemm instead of folding them in',
    )
    .option(
      '--no-fuse-hard-swish',
      'keep HardSwish spelled out as Add/Clip/Mul/Div instead of rewriting it as x * HardSigmoid(x)',
    );
  addExternalDataOptions(command)
    .option('--json', 'write a JSON summary on stdout instead of the line on stderr')
    .action(async (path: string, options: PrepareOptions) => {
      const model = await readModel(path);
      const output = resolve(options.output);
      const externalData = options.externalData === true;
      await refuseOverwritingInput(model, externalData ? [output, `${output}.data`] : [output]);
      const prepared = prepareModel(model, {
        foldBatchNorm: options.foldBn,
        foldAffine: options.foldAffine,
        fuseHardSwish: options.fuseHardSwish,
      });
      const { written, note } = await writeOutputModel(model, output, {
        input: model,
        externalData,
        threshold: options.externalDataThreshold ?? DEFAULT_EXTERNAL_THRESHOLD,
      });
      if (note) io.err(`qgrain: note: ${note}\n`);
      if (options.json) io.out(`${JSON.stringify(summaryJson(model.source, prepared, written), null, 2)}\n`);
      else io.err(summaryLine(options.output, prepared, written));
    });
}
