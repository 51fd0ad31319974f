// What a quantize run knows, as the HTML report's data: its JSON document (layers, activations,
// sizes, measured SQNR), the float weights (per-channel ranges, and the inspect schemes' weight
// SQNR as candidate bars) and the calibration observers (histograms). No frontier: that needs the
// advisor's per-tensor measurements.
import { formatQuantSpec, parseQuantSpec } from '@qgrain/granularity';
import type { Observer } from '@qgrain/observers';
import { type Graph, type Model, type NodeProto, readInt } from '@qgrain/onnx';
import { type Backend, jsBackend } from '@qgrain/tensor';
import { INSPECT_SCHEMES, analyzeWeight } from '../../plan/weight-analysis.js';
import { WEIGHT_OPS, type WeightRole, weightRoleOf } from '../../plan/weight-roles.js';
import type { JsonNumber, QuantizationReportDocument } from '../report.js';
import { WEIGHT_SQNR_FLOOR_DB, channelRanges } from '../weight-survey.js';
import { activationHistogram } from './histograms.js';
import type { CandidateBar, ChannelRanges, HtmlReportData, LayerRow } from './report-data.js';

/**
 * Weight elements above which a quantize report leaves out the candidate bars: measuring four
 * schemes on every weight costs about as much as quantizing the model four times more.
 */
export const CANDIDATE_ELEMENT_LIMIT = 50_000_000;

/**
 * The per-output-channel minimum and maximum of a float weight, along its role's channel axis
 * (one scale each under per-channel quantization).
 */
export function weightChannelRanges(
  weight: string,
  node: string,
  role: WeightRole,
  values: Float32Array,
  shape: readonly number[],
): ChannelRanges {
  const { min, max } = channelRanges(values, shape, role.channelAxis);
  return {
    weight,
    node,
    op: role.op,
    depthwise: role.depthwise,
    axis: role.channelAxis,
    min: Array.from(min),
    max: Array.from(max),
  };
}

/** Options of {@link quantizeHtmlReport}. */
export interface QuantizeHtmlReportOptions {
  /** The run's JSON document (`buildReportDocument`). */
  readonly document: QuantizationReportDocument;
  /** The prepared float model the run quantized (a copy, untouched): weights are read from it. */
  readonly floatModel: Model;
  /** The static mode's calibration observers (`QuantizeResult.observers`). */
  readonly observers?: ReadonlyMap<string, Observer>;
  readonly backend?: Backend;
  /** Schemes drawn as candidate bars per weight (default INSPECT_SCHEMES); [] draws none. */
  readonly candidates?: readonly string[];
  /** Weight elements above which the candidates are not measured (default CANDIDATE_ELEMENT_LIMIT). */
  readonly candidateElementLimit?: number;
}

function fromJson(value: JsonNumber): number | undefined {
  if (value === null) return undefined;
  if (value === 'inf') return Number.POSITIVE_INFINITY;
  if (value === '-inf') return Number.NEGATIVE_INFINITY;
  return value;
}

/** A scheme's text in qgrain's one spelling, so that `int8/per-channel` and its aliases compare equal. */
function canonical(scheme: string): string {
  try {
    return formatQuantSpec(parseQuantSpec(scheme));
  } catch {
    return scheme;
  }
}

const round1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : v > 0 ? 'inf' : '-inf');
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const fileName = (path: string) => path.split(/[\\/]/).pop() ?? path;
/**
 * Text with every path in it cut to its last part: a report is passed around, and the folders of
 * the machine that wrote it say nothing to its readers.
 */
const withoutFolders = (text: string) => text.replace(/(?:[A-Za-z]:)?(?:[^\s\\/()'",=+]*[\\/])+/g, '');

/**
 * The HTML report data of a quantize run: one row per quantized weight (with the weight SQNR of
 * each candidate scheme, its chosen scheme marked, and the layer output SQNR measured on
 * held-back data) and per activation, every weight's per-channel ranges, and the histogram of
 * each activation calibrated with a histogram method.
 */
export function quantizeHtmlReport(options: QuantizeHtmlReportOptions): HtmlReportData {
  const { document: doc, floatModel } = options;
  const backend = options.backend ?? jsBackend;
  const warnings: string[] = [];
  const nodes = new Map<string, { graph: Graph; node: NodeProto }>();
  for (const graph of floatModel.graphs())
    for (const node of graph.nodes) nodes.set(node.name, { graph, node });

  // One row per weight (a tied weight has a row per reading node in the document).
  const byWeight = new Map<string, QuantizationReportDocument['layers'][number][]>();
  for (const row of doc.layers) byWeight.set(row.weight, [...(byWeight.get(row.weight) ?? []), row]);
  const elements = [...byWeight.values()].reduce(
    (sum, rows) => sum + rows[0]!.shape.reduce((a, b) => a * b, 1),
    0,
  );
  const limit = options.candidateElementLimit ?? CANDIDATE_ELEMENT_LIMIT;
  let schemes = options.candidates ?? INSPECT_SCHEMES;
  if (schemes.length > 0 && elements > limit) {
    warnings.push(
      `candidate bars left out: the quantized weights hold ${elements} elements, more than the ${limit} measured for a report`,
    );
    schemes = [];
  }

  const layers: LayerRow[] = [];
  const ranges: ChannelRanges[] = [];
  for (const [weight, rows] of byWeight) {
    const first = rows[0]!;
    const layerSqnr = rows.map((r) => fromJson(r.output_sqnr_db)).filter((v): v is number => v !== undefined);
    const chosen = canonical(first.scheme);
    let candidates: CandidateBar[] = [];
    const found = nodes.get(first.node);
    const init = found?.graph.initializer(weight);
    const input = WEIGHT_OPS[first.op];
    // Read directly by its op (not through layout ops, not a recurrent gate): the role is known.
    if (found && init && input !== undefined && found.node.input[input] === weight) {
      const role = weightRoleOf(first.op, init.dims, {
        group: readInt(found.node, 'group', 1),
        transB: readInt(found.node, 'transB', 0),
      });
      if (role) {
        const values = init.toTensor().toFloat32();
        ranges.push(weightChannelRanges(weight, first.node, role, values, init.dims));
        const outcomes = analyzeWeight(values, init.dims, role, schemes, backend, weight);
        candidates = Object.entries(outcomes).map(([scheme, o]) => ({
          candidate: scheme,
          localSqnrDb: o.sqnrDb,
          bytes: o.bytes,
          ...(canonical(scheme) === chosen ? { chosen: true } : {}),
        }));
      }
    }
    // The scheme the run took, when the inspect schemes do not hold it, as measured by the run.
    if (candidates.length > 0 && !candidates.some((c) => c.chosen)) {
      const sqnr = fromJson(first.weight_sqnr_db);
      candidates.push({
        candidate: first.scheme,
        ...(sqnr === undefined ? {} : { localSqnrDb: sqnr }),
        bytes: first.bytes_after,
        chosen: true,
      });
    }
    layers.push({
      tensor: weight,
      kind: 'weight',
      nodes: rows.map((r) => r.node),
      op: first.op,
      depthwise: first.depthwise,
      chosen: first.scheme,
      ...(layerSqnr.length > 0 ? { layerSqnrDb: Math.min(...layerSqnr) } : {}),
      candidates,
    });
  }

  const histograms = [];
  for (const a of doc.activations) {
    const readers = a.for
      .map((n) => nodes.get(n)?.node.opType)
      .filter((op): op is string => op !== undefined);
    layers.push({
      tensor: a.tensor,
      kind: 'activation',
      nodes: a.for,
      op: [...new Set(readers)].join(', '),
      chosen: `${a.scheme} ${a.method}`,
      candidates: [],
      // A quantize run chooses no scheme per tensor; only a range that did not come from
      // calibration here needs saying where it came from.
      ...(a.method === 'fixed'
        ? { reason: 'a fixed range: the reading op saturates there' }
        : a.method === 'cache'
          ? { reason: 'the range of the calibration cache' }
          : {}),
    });
    const observer = options.observers?.get(a.tensor);
    const h = observer && activationHistogram(a.tensor, observer, a, a.method);
    if (h) histograms.push(h);
  }

  const outputs = Object.entries(doc.model_output_sqnr_db)
    .map(([name, v]) => [name, fromJson(v)] as const)
    .filter((e): e is readonly [string, number] => e[1] !== undefined);
  const worst = outputs.reduce<readonly [string, number] | undefined>(
    (w, e) => (w === undefined || e[1] < w[1] ? e : w),
    undefined,
  );
  const settings = doc.settings as Record<string, unknown>;
  const calibrated = doc.activations.filter((a) => a.method !== 'fixed' && a.method !== 'cache').length;
  const summary = [
    `model ${fileName(doc.input)} -> ${fileName(doc.output)} (opset ${doc.opset.from} -> ${doc.opset.to})`,
    `mode ${String(settings['mode'])}: weights ${String(settings['weights'])}, activations ${String(settings['activations'])}, calibration ${String(settings['method'])}`,
    doc.data
      ? `data: ${withoutFolders(doc.data.source)}${doc.data.random ? ' (random)' : ''}; ${doc.holdout_batches} batch${doc.holdout_batches === 1 ? '' : 'es'} held back to measure`
      : 'no data: nothing measured on held-back batches',
    ...(calibrated > 0 && histograms.length === 0
      ? ['no activation histograms: the calibration method keeps none (min/max)']
      : []),
  ];
  const figures = [
    {
      label: 'model size',
      value: `${megabytes(doc.size.before)} -> ${megabytes(doc.size.after)} (${(doc.size.ratio * 100).toFixed(1)}%)`,
    },
    {
      label: 'output SQNR',
      value: worst
        ? `${round1(worst[1])} dB${outputs.length > 1 ? ` (worst of ${outputs.length} outputs: '${worst[0]}')` : ''}`
        : 'not measured',
    },
    { label: 'weights quantized', value: String(byWeight.size) },
    { label: 'activations quantized', value: String(doc.activations.length) },
  ];
  const lowest = layers
    .filter((l) => l.layerSqnrDb !== undefined)
    .reduce<LayerRow | undefined>(
      (w, l) => (w === undefined || l.layerSqnrDb! < w.layerSqnrDb! ? l : w),
      undefined,
    );
  if (lowest)
    figures.push({
      label: 'lowest layer SQNR',
      value: `${round1(lowest.layerSqnrDb!)} dB (${lowest.tensor})`,
    });
  return {
    title: `qgrain quantize: ${fileName(doc.input)}`,
    summary,
    figures,
    layers,
    channelRanges: ranges,
    histograms,
    ...(schemes.length > 0 ? { weightFloorDb: WEIGHT_SQNR_FLOOR_DB } : {}),
    warnings: [...warnings, ...doc.warnings],
  };
}
