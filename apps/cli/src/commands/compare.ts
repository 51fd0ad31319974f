import { type Model, prepareModel, readInt, readModel } from '@qgrain/onnx';
import {
  type ActivationCoverage,
  DEFAULT_COVERAGE_MIN_OUTSIDE,
  DEFAULT_COVERAGE_THRESHOLD,
  DEFAULT_SQNR_THRESHOLD_DB,
  type ModelComparison,
  type RangeCoverage,
  type TensorComparison,
  compareModels,
  feedSourceFromData,
  jsonNumber,
  nodeRunnerFactory,
  rangeCoverage,
} from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { type DataOptions, addDataOptions, openModelData } from '../data-options.js';
import { type CliIO, formatTable } from '../io.js';

/** Ops whose weights qgrain quantizes: the layers a user can act on. */
const WEIGHT_LAYERS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Rows of the coverage table: the flagged ones, at least this many and at most ... */
const COVERAGE_ROWS_MIN = 5;
/** ... this many (--json lists every activation). */
const COVERAGE_ROWS_MAX = 15;

interface CompareCommandOptions extends DataOptions {
  readonly layerwise?: boolean;
  readonly threshold: number;
  readonly coverage?: boolean;
  readonly coverageThreshold: number;
  readonly json?: boolean;
}

function percent(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value >= 100) {
    throw new InvalidArgumentError('expected a percentage from 0 up to 100, e.g. 0.1');
  }
  return value;
}

/** A share as a percentage: 0 exactly, two significant digits under 1%, else two decimals. */
function percentText(share: number): string {
  const p = share * 100;
  if (p === 0) return '0';
  return p < 1 ? p.toPrecision(2) : p.toFixed(2);
}

/** A share threshold as the percentage the user typed (0.001 -> '0.1'). */
function thresholdText(share: number): string {
  return String(Number((share * 100).toPrecision(6)));
}

function coverageRow(r: ActivationCoverage): (string | number)[] {
  return [
    r.tensor,
    r.op,
    r.node,
    `${r.rangeMin.toPrecision(3)}..${r.rangeMax.toPrecision(3)}`,
    r.openBelow && r.openAbove ? 'both' : r.openBelow ? 'below' : r.openAbove ? 'above' : '',
    Number.isNaN(r.seenMin) ? '-' : `${r.seenMin.toPrecision(3)}..${r.seenMax.toPrecision(3)}`,
    percentText(r.shareBelow),
    percentText(r.shareAbove),
    r.below + r.above,
    percentText(r.shareOutside),
    r.maxOvershoot.toFixed(2),
    r.flagged ? '<' : '',
  ];
}

/** The coverage as text: the worst activations, then how many are over the threshold. */
export function coverageText(coverage: RangeCoverage): string {
  const shown = coverage.rows.slice(
    0,
    Math.min(COVERAGE_ROWS_MAX, Math.max(COVERAGE_ROWS_MIN, coverage.flagged)),
  );
  const header = [
    'tensor',
    'op',
    'node',
    'calibrated',
    'open',
    'seen',
    'below %',
    'above %',
    'outside',
    'outside %',
    'overshoot',
    '',
  ];
  const parts = [
    `range coverage (${coverage.samples} samples): the float model's activations against the ranges calibrated into the quantized model, worst first`,
    "(overshoot in range widths; an open end is one where the tensor's readers saturate, e.g. HardSigmoid, so values beyond it are not counted):",
    formatTable(header, shown.map(coverageRow)),
  ];
  if (coverage.rows.length > shown.length) {
    const more = coverage.flagged - shown.length;
    parts.push(
      more > 0
        ? `... ${more} more flagged and ${coverage.rows.length - coverage.flagged} not (--json lists every activation)`
        : `... ${coverage.rows.length - shown.length} more, none flagged`,
    );
  }
  const worst = coverage.rows[0];
  parts.push(
    '',
    `${coverage.flagged} of ${coverage.rows.length} activations have more than ${thresholdText(coverage.threshold)}% of their values outside the calibrated range (and at least ${coverage.minOutside} values)` +
      (coverage.flagged > 0 && worst
        ? `; worst '${worst.tensor}' from '${worst.node}' (${worst.op}), ${percentText(worst.shareOutside)}% outside`
        : ''),
  );
  if (coverage.skipped.length > 0) {
    const first = coverage.skipped[0]!;
    parts.push(
      `${coverage.skipped.length} QuantizeLinear nodes not measured; first '${first.quantizeNode}' on '${first.tensor}': ${first.reason}`,
    );
  }
  return `${parts.join('\n')}\n`;
}

function coverageJson(coverage: RangeCoverage): Record<string, unknown> {
  return {
    samples: coverage.samples,
    threshold: coverage.threshold,
    min_outside: coverage.minOutside,
    activations: coverage.rows.length,
    flagged: coverage.flagged,
    rows: coverage.rows.map((r) => ({
      tensor: r.tensor,
      op: r.op,
      node: r.node,
      quantize_node: r.quantizeNode,
      storage: r.storage,
      scale: r.scale,
      zero_point: r.zeroPoint,
      range_min: r.rangeMin,
      range_max: r.rangeMax,
      seen_min: jsonNumber(r.seenMin),
      seen_max: jsonNumber(r.seenMax),
      open_below: r.openBelow,
      open_above: r.openAbove,
      saturation: r.saturation ? { ...r.saturation } : null,
      below: r.below,
      above: r.above,
      share_below: r.shareBelow,
      share_above: r.shareAbove,
      share_outside: r.shareOutside,
      max_overshoot: jsonNumber(r.maxOvershoot),
      elements: r.elements,
      flagged: r.flagged,
    })),
    skipped: coverage.skipped.map((k) => ({
      quantize_node: k.quantizeNode,
      tensor: k.tensor,
      reason: k.reason,
    })),
  };
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
    .option(
      '--coverage',
      "also test the float model's activations on the data against the ranges calibrated into the quantized (static) model, and list the worst",
    )
    .option(
      '--coverage-threshold <percent>',
      `share of an activation's values outside its calibrated range over which it is flagged, in % (with at least ${DEFAULT_COVERAGE_MIN_OUTSIDE} values outside)`,
      percent,
      Number((DEFAULT_COVERAGE_THRESHOLD * 100).toPrecision(6)),
    )
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
      const runner = nodeRunnerFactory();
      // Coverage first: a model without calibrated ranges is refused before the comparison runs.
      const coverage = options.coverage
        ? await rangeCoverage(float, quantized, feedSourceFromData(source), {
            runner,
            threshold: options.coverageThreshold / 100,
          })
        : undefined;
      const result = await compareModels(float, quantized, feedSourceFromData(source), {
        runner,
        layerwise: options.layerwise === true,
        thresholdDb: options.threshold,
      });
      const depthwise = depthwiseNodes(float);
      if (options.json) {
        const document = comparisonJson(result, depthwise);
        if (coverage) document.coverage = coverageJson(coverage);
        io.out(`${JSON.stringify(document, null, 2)}\n`);
      } else {
        io.out(comparisonText(result, depthwise));
        if (coverage) io.out(`\n${coverageText(coverage)}`);
      }
    },
  );
}
