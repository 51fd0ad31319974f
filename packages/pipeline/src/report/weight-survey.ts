import { parseQuantSpec } from '@qgrain/granularity';
import { type Graph, type Model, type NodeProto, isDefaultDomain, readInt } from '@qgrain/onnx';
import { type Backend, type DType, countNonFinite, shapeSize } from '@qgrain/tensor';
import { INSPECT_SCHEMES, type SchemeOutcome, analyzeWeight } from '../plan/weight-analysis.js';
import { WEIGHT_OPS, type WeightRole, weightRoleOf } from '../plan/weight-roles.js';

/**
 * Weight SQNR (dB) below which `inspect` calls an int8 scheme broken for a weight.
 * Where the number comes from: int8 with a max-abs scale gives about 41 dB on bell-shaped weights
 * (6.02 * 8 + 4.77 - 20 log10(4) for a range of +-4 sigma), and per-channel int8 lands there on
 * real models (median 41.5 dB over PP-OCRv4 rec's 47 weights). At 20 dB the noise carries 1% of
 * the weight's power (RMS error 10% of the RMS weight): the shared scale is about 10x coarser than
 * most channels need, because a few channels have a far wider range than the rest — the pattern
 * behind per-tensor int8 wrecking EfficientNet-b0 (76.85% -> 12.93%) and PP-OCRv4 rec (design.md).
 */
export const WEIGHT_SQNR_FLOOR_DB = 20;

/** The bit width WEIGHT_SQNR_FLOOR_DB is derived for. */
const FLOOR_BITS = 8;

/** The baseline scheme the verdict judges (the coarsest int8 grain). */
export const PER_TENSOR_INT8 = 'int8/per-tensor';
/** The scheme qgrain uses for weights by default, which the verdict checks holds. */
export const PER_CHANNEL_INT8 = 'int8/per-channel';

/** Float types whose weights are worth quantizing; integer weights are already quantized. */
const FLOAT_WEIGHT_DTYPES: ReadonlySet<DType | undefined> = new Set(['float32', 'float16', 'bfloat16']);

/** How int8 fares on one weight. */
export type WeightVerdict = 'holds' | 'per-tensor-breaks' | 'per-channel-breaks' | 'non-finite';

/** One constant weight of a Conv/ConvTranspose/Gemm/MatMul and what each scheme does to it. */
export interface WeightEntry {
  readonly name: string;
  readonly op: string;
  /** The first node reading the weight. */
  readonly node: string;
  readonly shape: readonly number[];
  /** The axis of `shape` that per-channel quantization gives one scale per index. */
  readonly channelAxis: number;
  readonly depthwise: boolean;
  readonly elements: number;
  /** Bytes as stored in the model (float32, float16...). */
  readonly floatBytes: number;
  /** Outcome per scheme text (`int8/per-channel`...). */
  readonly outcomes: Readonly<Record<string, SchemeOutcome>>;
  readonly verdict: WeightVerdict;
  /** NaN and +-Infinity values in the weight; quantize refuses a weight holding any. */
  readonly nonFinite: number;
}

/** Sums and medians over every surveyed weight. */
export interface SurveyTotals {
  readonly weights: number;
  readonly depthwise: number;
  readonly elements: number;
  readonly floatBytes: number;
  readonly bytes: Readonly<Record<string, number>>;
  /** Median weight SQNR per scheme (+Infinity when most weights quantize exactly). */
  readonly medianSqnrDb: Readonly<Record<string, number>>;
  /**
   * Weights below WEIGHT_SQNR_FLOOR_DB per 8-bit scheme. The floor is an 8-bit yardstick: 4-bit
   * weights peak near 17 dB (6.02 * 4 + 4.77 - 12), so they would all "fail" it.
   */
  readonly belowFloor: Readonly<Record<string, number>>;
}

/** The weights of a prepared model with their per-scheme SQNR and size, totals and a verdict. */
export interface WeightSurvey {
  readonly schemes: readonly string[];
  readonly floorDb: number;
  readonly weights: readonly WeightEntry[];
  readonly totals: SurveyTotals;
  /** One sentence: where per-tensor int8 breaks and whether per-channel holds. */
  readonly verdict: string;
}

/** Options of {@link surveyWeights}. */
export interface SurveyOptions {
  readonly backend: Backend;
  readonly schemes?: readonly string[];
  /** Called after each weight, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

interface FoundWeight {
  readonly graph: Graph;
  readonly node: NodeProto;
  readonly name: string;
  readonly role: WeightRole;
}

/**
 * Measures every float constant weight of the layers qgrain quantizes per channel. Run it on a
 * prepared model: Constant-node weights are then initializers and BatchNorm scales are folded
 * in, which is the tensor that actually gets quantized.
 */
export function surveyWeights(model: Model, options: SurveyOptions): WeightSurvey {
  const schemes = options.schemes ?? INSPECT_SCHEMES;
  const found = findWeights(model);
  const weights: WeightEntry[] = [];
  for (const [index, { graph, node, name, role }] of found.entries()) {
    // findWeights only returns names that resolve to an initializer.
    const init = graph.initializer(name)!;
    const shape = init.dims;
    const values = init.toTensor().toFloat32();
    const bad = countNonFinite(values).count;
    // A weight with NaN or Inf cannot be quantized: its sizes are still shown, its SQNR is not
    // measured ('-'), and its verdict says why.
    const outcomes =
      bad === 0
        ? analyzeWeight(values, shape, role, schemes, options.backend, name)
        : unmeasured(analyzeWeight(finiteCopy(values), shape, role, schemes, options.backend, name));
    weights.push({
      name,
      op: node.opType,
      node: node.name,
      shape,
      channelAxis: role.channelAxis,
      depthwise: role.depthwise,
      elements: shapeSize(shape),
      floatBytes: init.byteLength ?? 0,
      outcomes,
      verdict: bad === 0 ? verdictOf(outcomes) : 'non-finite',
      nonFinite: bad,
    });
    options.onProgress?.(index + 1, found.length);
  }
  const totals = totalsOf(weights, schemes);
  return {
    schemes,
    floorDb: WEIGHT_SQNR_FLOOR_DB,
    weights,
    totals,
    verdict: summaryVerdict(weights, totals),
  };
}

function finiteCopy(values: Float32Array): Float32Array {
  return values.map((v) => (Number.isFinite(v) ? v : 0));
}

function unmeasured(outcomes: Record<string, SchemeOutcome>): Record<string, SchemeOutcome> {
  return Object.fromEntries(Object.entries(outcomes).map(([s, o]) => [s, { ...o, sqnrDb: Number.NaN }]));
}

/** Each weight once (a weight shared by several nodes is measured with its first reader's role). */
function findWeights(model: Model): FoundWeight[] {
  const seen = new Set<string>();
  const out: FoundWeight[] = [];
  for (const graph of model.graphs()) {
    for (const node of graph.nodes) {
      const input = WEIGHT_OPS[node.opType];
      if (input === undefined || !isDefaultDomain(node)) continue;
      const name = node.input[input];
      if (name === undefined || name === '' || seen.has(name)) continue;
      const init = graph.initializer(name);
      if (!init || !FLOAT_WEIGHT_DTYPES.has(init.dtype)) continue;
      const role = weightRoleOf(
        node.opType,
        init.dims,
        { group: readInt(node, 'group', 1), transB: readInt(node, 'transB', 0) },
        `node '${node.name}' of ${model.source}`,
      );
      if (!role) continue;
      seen.add(name);
      out.push({ graph, node, name, role });
    }
  }
  return out;
}

function verdictOf(outcomes: Readonly<Record<string, SchemeOutcome>>): WeightVerdict {
  const channel = outcomes[PER_CHANNEL_INT8]?.sqnrDb ?? Number.POSITIVE_INFINITY;
  const tensor = outcomes[PER_TENSOR_INT8]?.sqnrDb ?? Number.POSITIVE_INFINITY;
  if (channel < WEIGHT_SQNR_FLOOR_DB) return 'per-channel-breaks';
  if (tensor < WEIGHT_SQNR_FLOOR_DB) return 'per-tensor-breaks';
  return 'holds';
}

/**
 * Per-channel extremes of one weight along `channelAxis` (the ranges per-channel quantization
 * scales to), for plotting them against the one range a per-tensor scale must cover.
 */
export function channelRanges(
  values: Float32Array,
  shape: readonly number[],
  channelAxis: number,
): { readonly min: Float32Array; readonly max: Float32Array } {
  const channels = shape[channelAxis] ?? 1;
  const inner = shapeSize(shape.slice(channelAxis + 1));
  const outer = shapeSize(shape.slice(0, channelAxis));
  const min = new Float32Array(channels).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(channels).fill(Number.NEGATIVE_INFINITY);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const start = (o * channels + c) * inner;
      for (let i = start; i < start + inner; i++) {
        const v = values[i]!;
        if (v < min[c]!) min[c] = v;
        if (v > max[c]!) max[c] = v;
      }
    }
  }
  return { min, max };
}

/** The median of finite and infinite values alike (Infinity sorts last). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid]!;
  // Infinities (exact weights) need no special case: (x + inf) / 2 is inf.
  return (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function totalsOf(weights: readonly WeightEntry[], schemes: readonly string[]): SurveyTotals {
  const bytes: Record<string, number> = {};
  const medianSqnrDb: Record<string, number> = {};
  const belowFloor: Record<string, number> = {};
  for (const scheme of schemes) {
    bytes[scheme] = weights.reduce((sum, w) => sum + w.outcomes[scheme]!.bytes, 0);
    const outcomes = weights.filter((w) => w.nonFinite === 0).map((w) => w.outcomes[scheme]!);
    medianSqnrDb[scheme] = median(outcomes.map((o) => o.sqnrDb));
    if (parseQuantSpec(scheme).type.bits === FLOOR_BITS) {
      belowFloor[scheme] = outcomes.filter((o) => o.sqnrDb < WEIGHT_SQNR_FLOOR_DB).length;
    }
  }
  return {
    weights: weights.length,
    depthwise: weights.filter((w) => w.depthwise).length,
    elements: weights.reduce((sum, w) => sum + w.elements, 0),
    floatBytes: weights.reduce((sum, w) => sum + w.floatBytes, 0),
    bytes,
    medianSqnrDb,
    belowFloor,
  };
}

function summaryVerdict(all: readonly WeightEntry[], totals: SurveyTotals): string {
  if (all.length === 0) return 'no float Conv, ConvTranspose, Gemm or MatMul weights to quantize';
  const broken = all.filter((w) => w.nonFinite > 0);
  const weights = all.filter((w) => w.nonFinite === 0);
  if (broken.length === 0) return measuredVerdict(weights, totals);
  const names = broken
    .slice(0, 3)
    .map((w) => `'${w.name}'`)
    .join(', ');
  const more = broken.length > 3 ? ` and ${broken.length - 3} more` : '';
  const first = `${broken.length} weight(s) hold NaN or Inf (${names}${more}) and cannot be quantized`;
  return weights.length === 0 ? first : `${first}; ${measuredVerdict(weights, totals)}`;
}

function measuredVerdict(weights: readonly WeightEntry[], totals: SurveyTotals): string {
  const n = weights.length;
  const floor = `${WEIGHT_SQNR_FLOOR_DB} dB`;
  const tensorBroken = weights.filter((w) => sqnrOf(w, PER_TENSOR_INT8) < WEIGHT_SQNR_FLOOR_DB);
  const channelBroken = weights.filter((w) => sqnrOf(w, PER_CHANNEL_INT8) < WEIGHT_SQNR_FLOOR_DB);
  const channelPart =
    channelBroken.length === 0
      ? `${PER_CHANNEL_INT8} holds on all ${n}`
      : `${PER_CHANNEL_INT8} still falls below on ${channelBroken.length} (worst ${describeWorst(channelBroken, PER_CHANNEL_INT8)})`;
  if (tensorBroken.length === 0) {
    return `${PER_TENSOR_INT8} holds: all ${n} weights reach ${floor} (lowest ${describeWorst(weights, PER_TENSOR_INT8)}); ${channelPart}`;
  }
  const depthwiseCount = tensorBroken.filter((w) => w.depthwise).length;
  const depthwise = depthwiseCount === 0 ? 'none' : `${depthwiseCount}`;
  const medians = totals.medianSqnrDb;
  return (
    `${PER_TENSOR_INT8} breaks on ${tensorBroken.length} of ${n} weights (SQNR < ${floor}, ${depthwise} of them depthwise, ` +
    `worst ${describeWorst(tensorBroken, PER_TENSOR_INT8)}); ${channelPart}; ` +
    `median ${formatDb(medians[PER_TENSOR_INT8]!)} -> ${formatDb(medians[PER_CHANNEL_INT8]!)} dB`
  );
}

function sqnrOf(weight: WeightEntry, scheme: string): number {
  return weight.outcomes[scheme]?.sqnrDb ?? Number.POSITIVE_INFINITY;
}

function describeWorst(weights: readonly WeightEntry[], scheme: string): string {
  const worst = weights.reduce((a, b) => (sqnrOf(b, scheme) < sqnrOf(a, scheme) ? b : a));
  return `${formatDb(sqnrOf(worst, scheme))} dB on '${worst.name}'`;
}

/** SQNR in dB with one decimal, 'inf' for exact quantization, '-' when nothing was measured. */
export function formatDb(db: number): string {
  if (Number.isNaN(db)) return '-';
  if (db === Number.POSITIVE_INFINITY) return 'inf';
  if (db === Number.NEGATIVE_INFINITY) return '-inf';
  return db.toFixed(1);
}
