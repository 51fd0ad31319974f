import type { Model, NodeProto } from '@qgrain/onnx';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import type { FeedSource } from '../calibrate/calibrate.js';
import { type Saturation, readerSaturation } from '../plan/saturation.js';
import { type TensorPassOptions, runTensorPasses } from './tensor-passes.js';

/**
 * Share of an activation's values outside its calibrated range over which it is flagged: 0.02%,
 * one value in 5000. The default calibration (mse) clips on purpose: on PP-OCRv4 det quantized on
 * the 8 ocr-calibration pages (one held back), up to 0.01% of a tensor's values on those pages
 * fall outside and up to 0.015% on the 4 ocr-eval pages (0 of 105 activations flagged either way),
 * while on the ocr-eval pages with their colours inverted 13 are flagged (up to 0.17% outside). A
 * method that clips more by design (percentile:P clips 100 - P percent) needs a higher threshold.
 */
export const DEFAULT_COVERAGE_THRESHOLD = 0.0002;

/**
 * Values outside the range an activation needs before its share counts: a share measured on a
 * handful of values is noise. The squeeze-and-excitation tensors of PP-OCRv4 det hold one value
 * per channel and image (24 to 768 values on 4 pages); one of them a few hundredths of the range
 * out is one page a little unlike the eight calibration pages, not new data.
 */
export const DEFAULT_COVERAGE_MIN_OUTSIDE = 10;

/** Integer types a static activation is stored in, with their limits. */
const STORAGE_LIMITS: Readonly<Record<string, readonly [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
};

/** How an activation's values on the data fall against the range its QuantizeLinear represents. */
export interface ActivationCoverage {
  /** The float activation, by its name in the float model. */
  readonly tensor: string;
  /** Its producer in the float model ('' for a graph input). */
  readonly op: string;
  readonly node: string;
  /** The QuantizeLinear of the quantized model that holds the range. */
  readonly quantizeNode: string;
  readonly storage: 'uint8' | 'int8' | 'uint16' | 'int16';
  readonly scale: number;
  readonly zeroPoint: number;
  /** The representable range, [(qmin - zp) * scale, (qmax - zp) * scale]. */
  readonly rangeMin: number;
  readonly rangeMax: number;
  /** The extremes seen on the data (NaN when no value but NaN was seen). */
  readonly seenMin: number;
  readonly seenMax: number;
  /**
   * Where the activation's readers in the float model saturate, when that opens an end of the
   * range (see `rangeCoverage`): values beyond that end are not counted.
   */
  readonly saturation?: Saturation;
  /** Whether the readers saturate at (within a step of) the range's lower / upper end. */
  readonly openBelow: boolean;
  readonly openAbove: boolean;
  /**
   * Values under rangeMin - scale / 2 and over rangeMax + scale / 2, the ones that clip, beyond
   * an end that is not open.
   */
  readonly below: number;
  readonly above: number;
  readonly shareBelow: number;
  readonly shareAbove: number;
  /** (below + above) / elements. */
  readonly shareOutside: number;
  /** The largest distance of a value beyond the range, in range widths (0 when all fit). */
  readonly maxOvershoot: number;
  /** Values seen, NaN included (it counts as neither below nor above). */
  readonly elements: number;
  readonly flagged: boolean;
}

/** A QuantizeLinear of the quantized model that is not measured, and why. */
export interface SkippedQuantize {
  readonly quantizeNode: string;
  readonly tensor: string;
  readonly reason: string;
}

/** What `rangeCoverage` measured. */
export interface RangeCoverage {
  readonly samples: number;
  /** Every measured activation, worst first (flagged, then share outside, then overshoot). */
  readonly rows: readonly ActivationCoverage[];
  /** Rows whose shareOutside is over the threshold, with at least minOutside values outside. */
  readonly flagged: number;
  readonly threshold: number;
  readonly minOutside: number;
  readonly skipped: readonly SkippedQuantize[];
}

/** Options of `rangeCoverage`. */
export interface CoverageOptions extends TensorPassOptions {
  /** Share outside the range over which an activation is flagged (DEFAULT_COVERAGE_THRESHOLD). */
  readonly threshold?: number;
  /** Values outside needed before an activation is flagged (DEFAULT_COVERAGE_MIN_OUTSIDE). */
  readonly minOutside?: number;
}

/** One activation's calibrated range as its QuantizeLinear holds it. */
interface CalibratedRange {
  readonly tensor: string;
  readonly quantizeNode: string;
  readonly storage: ActivationCoverage['storage'];
  readonly scale: number;
  readonly zeroPoint: number;
  readonly lo: number;
  readonly hi: number;
  /** Where the readers saturate, when they do. */
  readonly saturation: Saturation | undefined;
  /** Ends beyond which clipping costs the readers nothing (they saturate there). */
  readonly openBelow: boolean;
  readonly openAbove: boolean;
}

/** The one value of a one-element constant initializer, or undefined when `name` is not one. */
function constantScalar(model: Model, name: string): { value: number; dtype: string } | undefined {
  const graph = model.graph;
  if (graph.isInput(name) || graph.producer(name)) return undefined;
  const init = graph.initializer(name);
  if (!init || init.dims.some((d) => d !== 1)) return undefined;
  const t = init.toTensor();
  const value = t.dtype === 'int64' ? Number((t.data as BigInt64Array)[0]) : t.toFloat32()[0];
  return value === undefined ? undefined : { value, dtype: t.dtype };
}

/**
 * The float model's name of what a QuantizeLinear quantizes: its input, or, when the quantizer
 * renamed a graph output's producer (`<out>_float`), the output its DequantizeLinear restores.
 */
function floatName(quantized: Model, q: NodeProto, floatValues: ReadonlySet<string>): string | undefined {
  const source = q.input[0]!;
  if (floatValues.has(source)) return source;
  for (const dq of quantized.graph.consumers(q.output[0]!)) {
    if (dq.opType === 'DequantizeLinear' && floatValues.has(dq.output[0]!)) return dq.output[0];
  }
  return undefined;
}

/** The calibrated ranges of the quantized model's static activation QuantizeLinear nodes. */
function calibratedRanges(
  quantized: Model,
  float: Model,
): { ranges: CalibratedRange[]; skipped: SkippedQuantize[] } {
  const floatValues = new Set<string>(float.graph.inputNames());
  for (const node of float.graph.nodes) for (const out of node.output) if (out !== '') floatValues.add(out);
  const ranges: CalibratedRange[] = [];
  const skipped: SkippedQuantize[] = [];
  for (const q of quantized.graph.nodes) {
    if (q.opType !== 'QuantizeLinear') continue;
    const source = q.input[0] ?? '';
    // A constant quantized at run time is a weight, not an activation.
    if (quantized.graph.initializer(source) && !quantized.graph.producer(source)) continue;
    const skip = (reason: string) => skipped.push({ quantizeNode: q.name, tensor: source, reason });
    const scaleName = q.input[1] ?? '';
    const scale = constantScalar(quantized, scaleName);
    if (!scale) {
      // A scale computed at run time (dynamic quantization) or one per channel: no single range.
      const init = quantized.graph.producer(scaleName) ? undefined : quantized.graph.initializer(scaleName);
      skip(init ? 'its scale has more than one value' : 'its scale is computed at run time');
      continue;
    }
    const zpName = q.input[2] ?? '';
    const zp = zpName === '' ? { value: 0, dtype: 'uint8' } : constantScalar(quantized, zpName);
    if (!zp) {
      skip('its zero point is not a one-value constant');
      continue;
    }
    const limits = STORAGE_LIMITS[zp.dtype];
    if (!limits) {
      skip(`it stores ${zp.dtype}, not uint8, int8, uint16 or int16`);
      continue;
    }
    if (!(scale.value > 0) || !Number.isFinite(scale.value)) {
      skip(`its scale ${scale.value} is not a positive finite number`);
      continue;
    }
    const tensor = floatName(quantized, q, floatValues);
    if (tensor === undefined) {
      skip('the float model has no value of that name');
      continue;
    }
    const lo = (limits[0] - zp.value) * scale.value;
    const hi = (limits[1] - zp.value) * scale.value;
    const saturation = readerSaturation(float.graph, tensor);
    ranges.push({
      tensor,
      quantizeNode: q.name,
      storage: zp.dtype as CalibratedRange['storage'],
      scale: scale.value,
      zeroPoint: zp.value,
      lo,
      hi,
      saturation,
      openBelow: saturation?.min !== undefined && saturation.min >= lo - scale.value,
      openAbove: saturation?.max !== undefined && saturation.max <= hi + scale.value,
    });
  }
  return { ranges, skipped };
}

class CoverageCount {
  below = 0;
  above = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  elements = 0;

  constructor(readonly range: CalibratedRange) {}

  add(values: ArrayLike<number>): void {
    // A value clips when it rounds to a level past the last one: it is more than half a step out.
    const { range } = this;
    const low = range.openBelow ? Number.NEGATIVE_INFINITY : range.lo - range.scale / 2;
    const high = range.openAbove ? Number.POSITIVE_INFINITY : range.hi + range.scale / 2;
    let below = 0;
    let above = 0;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < low) below++;
      else if (v > high) above++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.below += below;
    this.above += above;
    this.min = min;
    this.max = max;
    this.elements += values.length;
  }
}

function values(t: Tensor | undefined, name: string): ArrayLike<number> {
  if (!t)
    throw new QgrainError('internal', `the float model returned no value for '${name}'`, { tensor: name });
  return t.dtype === 'float32' ? (t.data as Float32Array) : t.toFloat32();
}

/**
 * Range coverage: runs the float model on `feeds` and counts, for every activation that the
 * quantized model quantizes statically (a QuantizeLinear with a constant per-tensor scale and zero
 * point), the share of its values that fall outside the range that calibration chose and so clip.
 * The float model's activations are the ones tested, not the quantized model's own inputs to its
 * QuantizeLinear nodes: calibration measured the float model, so this asks whether the new data
 * looks like the calibration data, without the quantization error of the layers before. The float
 * model is to be prepared the way the quantized one was (prepareModel), so that names line up.
 *
 * The quantizer sets a range no wider than where the tensor's readers saturate (a HardSigmoid is
 * flat beyond its ends, x * HardSigmoid(x) is 0 below its lower end, a Relu below 0): values past
 * such an end give the readers what the end gives, so clipping them costs nothing. An end of the
 * range within one step of where the readers saturate (readerSaturation on the float graph) is
 * open: values beyond it are not counted, and the row carries the saturation. Rows come
 * worst first; a row is flagged when its share outside is over `threshold` and at least
 * `minOutside` values are outside. A quantized model with
 * no such QuantizeLinear (weight-only, dynamic) has no calibrated ranges and is refused.
 */
export async function rangeCoverage(
  float: Model,
  quantized: Model,
  feeds: FeedSource,
  options: CoverageOptions,
): Promise<RangeCoverage> {
  const threshold = options.threshold ?? DEFAULT_COVERAGE_THRESHOLD;
  const minOutside = options.minOutside ?? DEFAULT_COVERAGE_MIN_OUTSIDE;
  const { ranges, skipped } = calibratedRanges(quantized, float);
  if (ranges.length === 0) {
    throw new QgrainError(
      'invalid-argument',
      `${quantized.source} quantizes no activation with a calibrated range (no QuantizeLinear with a constant scale and zero point on an activation${skipped.length > 0 ? `; ${skipped.length} with a scale computed at run time or per channel` : ''}); range coverage needs a statically quantized model, not a weight-only or dynamic one`,
      { file: quantized.source },
    );
  }
  const counts = ranges.map((r) => new CoverageCount(r));
  const byTensor = new Map<string, CoverageCount[]>();
  for (const c of counts) byTensor.set(c.range.tensor, [...(byTensor.get(c.range.tensor) ?? []), c]);
  const inputs = new Set(float.graph.inputNames());
  const exposed = [...byTensor.keys()].filter((t) => !inputs.has(t) && !float.graph.isOutput(t));
  const outputs = [...byTensor.keys()].filter((t) => float.graph.isOutput(t));
  const samples = await runTensorPasses(
    [float],
    outputs,
    exposed,
    feeds,
    options,
    ([fetched], names, feed, pass) => {
      for (const name of names) for (const c of byTensor.get(name)!) c.add(values(fetched![name], name));
      // Graph inputs are the feed itself, counted once.
      if (pass === 0)
        for (const name of inputs) for (const c of byTensor.get(name) ?? []) c.add(values(feed[name], name));
    },
  );
  const rows = counts.map((c): ActivationCoverage => {
    const { range } = c;
    const producer = float.graph.producer(range.tensor);
    const width = range.hi - range.lo;
    const seen = c.min <= c.max;
    const under = range.openBelow ? 0 : range.lo - c.min;
    const over = range.openAbove ? 0 : c.max - range.hi;
    const overshoot = seen ? Math.max(0, under, over) / width : 0;
    const share = (n: number) => (c.elements === 0 ? 0 : n / c.elements);
    return {
      tensor: range.tensor,
      op: producer?.opType ?? '',
      node: producer?.name ?? '',
      quantizeNode: range.quantizeNode,
      storage: range.storage,
      scale: range.scale,
      zeroPoint: range.zeroPoint,
      rangeMin: range.lo,
      rangeMax: range.hi,
      seenMin: seen ? c.min : Number.NaN,
      seenMax: seen ? c.max : Number.NaN,
      ...(range.openBelow || range.openAbove ? { saturation: range.saturation } : {}),
      openBelow: range.openBelow,
      openAbove: range.openAbove,
      below: c.below,
      above: c.above,
      shareBelow: share(c.below),
      shareAbove: share(c.above),
      shareOutside: share(c.below + c.above),
      maxOvershoot: overshoot,
      elements: c.elements,
      flagged: share(c.below + c.above) > threshold && c.below + c.above >= minOutside,
    };
  });
  rows.sort(
    (a, b) =>
      Number(b.flagged) - Number(a.flagged) ||
      b.shareOutside - a.shareOutside ||
      b.maxOvershoot - a.maxOvershoot,
  );
  return { samples, rows, flagged: rows.filter((r) => r.flagged).length, threshold, minOutside, skipped };
}
