import { prepareModel, readModel } from '@qgrain/onnx';
import { surveyWeights } from '@qgrain/pipeline';
import type { Command } from 'commander';
import { type GlobalOptions, resolveBackend } from '../backend-option.js';
import { type InspectResult, inspectJson, inspectText } from '../inspect-report.js';
import { type CliIO, progress } from '../io.js';
import { overviewOf } from '../model-overview.js';

interface InspectOptions {
  readonly json?: boolean;
}

/**
 * Reads a model and measures it. The model's facts (ops, parameters, external data) describe the
 * file as it is; the weights are measured after prepare (Constant lifting, BatchNorm folding) on
 * the in-memory copy, because the folded weights are the tensors that get quantized.
 */
export async function inspectModel(path: string, options: GlobalOptions, io: CliIO): Promise<InspectResult> {
  const model = await readModel(path);
  const overview = overviewOf(model);
  const prepare = prepareModel(model, { foldBatchNorm: true });
  const backend = await resolveBackend(options.backend, io);
  const bar = progress(io, 'analysing weights');
  try {
    const survey = surveyWeights(model, { backend, onProgress: (done, total) => bar.update(done, total) });
    return { model: path, path: model.source, backend: backend.name, overview, prepare, survey };
  } finally {
    bar.done();
  }
}

/** Adds `qgrain inspect <model.onnx> [--json]`. */
export function addInspectCommand(program: Command, io: CliIO): void {
  program
    .command('inspect')
    .description(
      'show what a model holds and how each Conv/ConvTranspose/Gemm/MatMul weight survives int8/int4 at each granularity',
    )
    .argument('<model>', 'the .onnx file')
    .option('--json', 'write a JSON document on stdout instead of the table')
    .action(async (path: string, options: InspectOptions, command: Command) => {
      const result = await inspectModel(path, command.optsWithGlobals<GlobalOptions>(), io);
      io.out(options.json ? `${JSON.stringify(inspectJson(result), null, 2)}\n` : inspectText(result));
    });
}
