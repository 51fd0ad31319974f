import { type Model, prepareModel, readInt, readModel } from '@qgrain/onnx';
import {
  DEFAULT_SQNR_THRESHOLD_DB,
  type ModelComparison,
  type TensorComparison,
  compareModels,
  feedSourceFromData,
  jsonNumber,
  nodeRunnerFactory,
} from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { type DataOptions, addDataOptions, openModelData } from '../data-options.js';
import { type CliIO, formatTable } from '../io.js';

/** Ops whose weights qgrain quantizes: the layers a user can act on. */
const WEIGHT_LAYERS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

interface CompareCommandOptions extends DataOptions {
  readonly layerwise?: boolean;
  readonly threshold: number;
  readonly json?: boolean;
}

function decibels(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new InvalidArgumentError('expected a number of dB, e.g. 20');
  return value;
}

/** Node name -> whether it is a depthwise convolution (one input channel per group). */
function depthwiseNodes(model: Model): Set<string> {
  const out = new Set<string>();
  for (const node of model.graph.nodes) {
    if (node.opType !== 'Conv' || readInt(node, 'group', 1) <= 1) continue;
    const weight = node.input[1] ? model.graph.initializer(node.input[1]) : undefined;
    if (weight && weight.dims[1] === 1) out.add(node.name);
  }
  return out;
}

function row(c: TensorComparison, depthwise: Set<string>, threshold: number): (string | number)[] {
  const sqnr = Number.isFinite(c.sqnrDb) ? c.sqnrDb.toFixed(1) : c.sqnrDb > 0 ? 'inf' : '-inf';
  return [
    c.name,
    c.op,
    c.node,
    depthwise.has(c.node) ? 'yes' : 'no',
    sqnr,
    c.cosine.toFixed(5),
    c.maxAbsError.toPrecision(3),
    c.sqnrDb < threshold ? '<' : '',
  ];
}

/** The comparison as text: outputs, then layers in graph order, then where SQNR first falls. */
export function comparisonText(result: ModelComparison, depthwise: Set<string>): string {
  const header = ['tensor', 'op', 'node', 'dw', 'SQNR dB', 'cosine', 'max abs err', ''];
  const parts = [
    `outputs (${result.samples} samples):`,
    formatTable(
      header,
      result.outputs.map((o) => row(o, depthwise, result.thresholdDb)),
    ),
  ];
  if (result.layers.length > 0) {
    parts.push(
      '',
      'layers, in graph order:',
      formatTable(
        header,
        result.layers.map((l) => row(l, depthwise, result.thresholdDb)),
      ),
    );
    const below = result.layers.filter((l) => l.sqnrDb < result.thresholdDb);
    const first = result.firstBelowThreshold;
    if (first) {
      const firstFew = below
        .slice(0, 5)
        .map((l) => `'${l.node}' (${l.op}${depthwise.has(l.node) ? ', depthwise' : ''})`);
      const dw = below.filter((l) => depthwise.has(l.node)).length;
      const weighted = below
        .filter((l) => WEIGHT_LAYERS.has(l.op))
        .slice(0, 5)
        .map(
          (l) =>
            `'${l.node}' (${l.op}${depthwise.has(l.node) ? ', depthwise' : ''}, ${l.sqnrDb.toFixed(1)} dB)`,
        );
      parts.push(
        '',
        `SQNR first falls under ${result.thresholdDb} dB at '${first.name}' from '${first.node}' (${first.op}${depthwise.has(first.node) ? ', depthwise' : ''}); ` +
          `${below.length} layers are under it, ${dw} of them depthwise convolutions; first: ${firstFew.join(', ')}`,
        `first weight layers under it: ${weighted.length > 0 ? weighted.join(', ') : 'none'}`,
      );
    } else {
      parts.push('', `every layer stays at or above ${result.thresholdDb} dB`);
    }
  }
  return `${parts.join('\n')}\n`;
}

function comparisonJson(result: ModelComparison, depthwise: Set<string>): Record<string, unknown> {
  const entry = (c: TensorComparison) => ({
    name: c.name,
    op: c.op,
    node: c.node,
    depthwise: depthwise.has(c.node),
    sqnr_db: jsonNumber(c.sqnrDb),
    cosine: c.cosine,
    max_abs_error: c.maxAbsError,
  });
  return {
    samples: result.samples,
    threshold_db: result.thresholdDb,
    outputs: result.outputs.map(entry),
    layers: result.layers.map(entry),
    first_below_threshold: result.firstBelowThreshold ? entry(result.firstBelowThreshold) : null,
  };
}

/** Adds `qgrain compare <float.onnx> <quant.onnx> --data ... [--layerwise]`. */
export function addCompareCommand(program: Command, io: CliIO): void {
  const command = program
    .command('compare')
    .description(
      'run a float model and its quantized version on the same data and measure how far they drift, per output and per layer',
    )
    .argument('<float>', 'the float .onnx model')
    .argument('<quantized>', 'its quantized version (from qgrain quantize)')
    .option('--layerwise', 'also compare every intermediate tensor both models share, in graph order')
    .option('--threshold <dB>', 'SQNR under which a layer is flagged', decibels, DEFAULT_SQNR_THRESHOLD_DB)
    .option('--json', 'print JSON on stdout');
  addDataOptions(command, true).action(
    async (floatPath: string, quantPath: string, options: CompareCommandOptions) => {
      const float = await readModel(floatPath);
      // The quantized model was planned on the prepared graph: prepare the float one the same way
      // so that layer names line up.
      prepareModel(float, { foldBatchNorm: true });
      const quantized = await readModel(quantPath);
      // Prepared too: a float model given as the second one then matches the first exactly, and on
      // a quantized model (already prepared by quantize) the passes find nothing left to do.
      prepareModel(quantized, { foldBatchNorm: true });
      const source = await openModelData(float, options, io);
      const result = await compareModels(float, quantized, feedSourceFromData(source), {
        runner: nodeRunnerFactory(),
        layerwise: options.layerwise === true,
        thresholdDb: options.threshold,
      });
      const depthwise = depthwiseNodes(float);
      if (options.json) io.out(`${JSON.stringify(comparisonJson(result, depthwise), null, 2)}\n`);
      else io.out(comparisonText(result, depthwise));
    },
  );
}
