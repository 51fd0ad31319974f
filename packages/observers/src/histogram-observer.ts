import { QgrainError, perTensorLayout } from '@qgrain/tensor';
import { AlignedHistogram, DEFAULT_HISTOGRAM_BINS, type HistogramMode } from './aligned-histogram.js';
import { entropyThresholdBins } from './entropy-threshold.js';
import { expectCount, expectNumber, expectRecord } from './json-state.js';
import { mseThresholdBins } from './mse-threshold.js';
import type { Observer, ObserverOptions, ObservedRange } from './observer.js';
import {
  ObserverBase,
  type PreparedBatch,
  baseOptionsFromJSON,
  emptyRange,
  readObserverJSON,
} from './observer-base.js';
import {
  DEFAULT_PERCENTILE,
  checkPercentile,
  percentileRange,
  percentileThreshold,
} from './percentile-threshold.js';

/**
 * Values a histogram observer measures and counts at a time: both passes over a part of 256k
 * float32 (1 MiB) find it in a core's L2 cache.
 */
const OBSERVE_PART = 1 << 18;

/** How a histogram observer turns its histogram into a range. */
export type HistogramSelection = 'percentile' | 'entropy' | 'mse';

/** int8, the activation type ONNX Runtime, TensorRT and torch.ao calibrate for by default. */
export const DEFAULT_CALIBRATION_BITS = 8;

/**
 * Entropy and MSE never pick a threshold below the 99.9th percentile of |x|: below it, more than
 * 1 value in 1000 would saturate. KL divergence ignores how far clipped values move, so on a
 * bounded output with mass at both ends it can clip the top away (ONNX Runtime's Entropy gave
 * PP-OCRv4 det's final Sigmoid the range [0, 0.06], design.md); this floor keeps such tops.
 */
export const DEFAULT_MIN_COVERAGE = 99.9;

/** Options of a histogram observer. */
export interface HistogramOptions extends ObserverOptions {
  /** Range selection; default 'percentile'. */
  readonly selection?: HistogramSelection;
  /** Percentile kept by 'percentile' (default 99.999, ONNX Runtime's). */
  readonly percentile?: number;
  /** Bin count (default 2048, TensorRT's). */
  readonly bins?: number;
  /**
   * Whether the range will be quantized symmetrically. 'percentile' then cuts only the top of
   * |x| instead of (100 - P) / 2 from each tail, and 'mse' assumes 2^(bits-1) - 1 steps on
   * [0, T] instead of 2^bits - 1 for non-negative data. Default false (uint8 activations).
   */
  readonly symmetric?: boolean;
  /** Integer bits the range is calibrated for (default 8). */
  readonly bits?: number;
  /** Entropy/MSE never keep less than this percentile of |x|; 0 turns the floor off. Default 99.9. */
  readonly minCoverage?: number;
}

/** The resolved, JSON-safe configuration of a histogram observer. */
export interface HistogramConfig {
  readonly selection: HistogramSelection;
  readonly percentile: number;
  readonly bins: number;
  readonly symmetric: boolean;
  readonly bits: number;
  readonly minCoverage: number;
}

/**
 * A per-tensor histogram observer (ONNX Runtime's HistogramCalibrater family, TensorRT's entropy
 * calibrator, and an MSE search). It keeps one exactly-mergeable histogram (see AlignedHistogram)
 * plus the exact minimum and maximum, and chooses the range when asked:
 * - percentile, symmetric: [-T, T] with T the P-th percentile of |x| (upper edge of its bin);
 *   asymmetric: both tails of a histogram of x, (100 - P) / 2 percent each (ONNX Runtime);
 * - entropy: T from TensorRT's KL-divergence search on the |x| histogram;
 * - mse: T minimising the expected squared quantization error (clipping + rounding);
 * entropy and mse keep at least the `minCoverage` percentile of |x|. Every range is finally
 * clamped to the observed [min, max], so a one-sided tensor keeps its 0 end (a ReLU or Sigmoid
 * output gets [0, T], not [-T, T]) and no range is wider than the data.
 */
export class HistogramObserver extends ObserverBase {
  readonly kind = 'histogram' as const;
  readonly histogramConfig: HistogramConfig;
  private histogram: AlignedHistogram;
  private cached: ObservedRange | undefined;

  constructor(options: HistogramOptions = {}) {
    super(options);
    if (this.config.granularity.kind !== 'per-tensor') {
      throw new QgrainError(
        'unsupported',
        `${this.where(options.name)}: histogram observers are per-tensor; use minmax or moving-average for per-axis ranges`,
      );
    }
    const selection = options.selection ?? 'percentile';
    if (selection !== 'percentile' && selection !== 'entropy' && selection !== 'mse') {
      throw new QgrainError(
        'invalid-argument',
        `unknown histogram selection '${String(selection)}'; use percentile, entropy or mse`,
      );
    }
    const percentile = options.percentile ?? DEFAULT_PERCENTILE;
    checkPercentile(percentile);
    const minCoverage = options.minCoverage ?? DEFAULT_MIN_COVERAGE;
    if (minCoverage !== 0) checkPercentile(minCoverage, 'minimum coverage percentile');
    const bits = options.bits ?? DEFAULT_CALIBRATION_BITS;
    if (!Number.isInteger(bits) || bits < 2 || bits > 16) {
      throw new QgrainError('invalid-argument', `calibration bits ${bits} must be an integer in [2, 16]`);
    }
    const bins = options.bins ?? DEFAULT_HISTOGRAM_BINS;
    this.histogramConfig = {
      selection,
      percentile,
      bins,
      symmetric: options.symmetric ?? false,
      bits,
      minCoverage,
    };
    this.histogram = new AlignedHistogram(bins, this.histogramMode());
  }

  get method(): string {
    const { selection, percentile } = this.histogramConfig;
    return selection === 'percentile' ? `percentile:${percentile}` : selection;
  }

  /**
   * The histogram behind the range: counts, bin width and the edge of bin 0 (a copy), and the
   * smallest and largest value counted (of x itself in 'abs' mode; +Inf / -Inf before any value).
   */
  histogramSnapshot(): {
    mode: HistogramMode;
    counts: Float64Array;
    width: number;
    lowerEdge: number;
    min: number;
    max: number;
  } {
    return {
      mode: this.histogram.mode,
      counts: this.histogram.binCounts(),
      width: this.histogram.width,
      lowerEdge: this.histogram.lowerEdge,
      min: this.histogram.min,
      max: this.histogram.max,
    };
  }

  /** Rebuilds an observer from `toJSON()` output; observing more continues exactly. */
  static fromJSON(json: unknown, options: Pick<ObserverOptions, 'backend'> = {}): HistogramObserver {
    const { name, config, state } = readObserverJSON(json, 'histogram');
    const selection = config['selection'];
    const observer = new HistogramObserver({
      ...baseOptionsFromJSON(config),
      selection: selection as HistogramSelection,
      percentile: expectNumber(config['percentile'], 'config.percentile'),
      bins: expectCount(config['bins'], 'config.bins'),
      symmetric: config['symmetric'] === true,
      bits: expectCount(config['bits'], 'config.bits'),
      minCoverage: expectNumber(config['minCoverage'], 'config.minCoverage'),
      ...(name === undefined ? {} : { name }),
      ...options,
    });
    observer.restoreBookkeeping(state);
    observer.histogram = AlignedHistogram.fromJSON(
      expectRecord(state['histogram'], 'state.histogram'),
      observer.histogramConfig.bins,
      observer.histogramMode(),
    );
    return observer;
  }

  observe(data: Float32Array, shape: readonly number[]): void {
    if (data.length <= OBSERVE_PART) {
      this.addMeasured(this.prepareBatch(data, shape));
      return;
    }
    // A large batch is measured and counted part by part, so the binning pass reads each part
    // while the min/max pass has just left it in cache. The aligned histogram's counts do not
    // depend on how the data is cut (see AlignedHistogram), so this counts what one pass would.
    this.checkBatch(data, shape);
    for (let start = 0; start < data.length; start += OBSERVE_PART) {
      const part = data.subarray(start, Math.min(start + OBSERVE_PART, data.length));
      this.addMeasured(this.measureBatch(part, perTensorLayout([part.length])));
    }
  }

  private addMeasured(batch: PreparedBatch): void {
    this.histogram.add(
      batch.data,
      batch.min[0] ?? Number.POSITIVE_INFINITY,
      batch.max[0] ?? Number.NEGATIVE_INFINITY,
      this.backend,
      this.config.clip,
    );
    this.cached = undefined;
  }

  range(): ObservedRange {
    this.cached ??= this.selectRange();
    return { min: this.cached.min.slice(), max: this.cached.max.slice() };
  }

  merge(other: Observer): void {
    this.checkMergeable(other);
    const that = other as HistogramObserver;
    this.mergeBookkeeping(that);
    this.histogram.merge(that.histogram);
    this.cached = undefined;
  }

  protected configJSON(): Record<string, unknown> {
    const { selection, percentile, bins, symmetric, bits, minCoverage } = this.histogramConfig;
    return {
      ...this.baseConfigJSON(),
      selection,
      percentile,
      bins,
      symmetric,
      bits,
      minCoverage,
    };
  }

  protected stateJSON(): Record<string, unknown> {
    return { histogram: this.histogram.toJSON() };
  }

  private histogramMode(): HistogramMode {
    const { selection, symmetric } = this.histogramConfig;
    return selection === 'percentile' && !symmetric ? 'signed' : 'abs';
  }

  private selectRange(): ObservedRange {
    const h = this.histogram;
    const out = emptyRange(1);
    if (h.total === 0) return out;
    const lo = h.min;
    const hi = h.max;
    const counts = h.binCounts();
    const width = h.width;
    const { selection, percentile, symmetric, bits, minCoverage } = this.histogramConfig;
    let low: number;
    let high: number;
    if (h.mode === 'signed') {
      [low, high] = percentileRange(counts, h.lowerEdge, width, percentile)!;
    } else {
      let threshold: number;
      if (selection === 'percentile') {
        threshold = percentileThreshold(counts, width, percentile);
      } else {
        const bins =
          selection === 'entropy'
            ? entropyThresholdBins(counts, 2 ** (bits - 1))
            : mseThresholdBins(counts, width, symmetric || lo < 0 ? 2 ** (bits - 1) - 1 : 2 ** bits - 1);
        threshold = bins * width;
        if (minCoverage > 0) threshold = Math.max(threshold, percentileThreshold(counts, width, minCoverage));
      }
      low = -threshold;
      high = threshold;
    }
    out.min[0] = Math.max(low, lo);
    out.max[0] = Math.min(high, hi);
    return out;
  }
}
