import { type Backend, QgrainError } from '@qgrain/tensor';
import { decodeFloats, encodeFloat, expectCount, expectNumber } from './json-state.js';
import type { ObserverClip } from './observer.js';

/**
 * TensorRT's calibration histogram size (the "2048 bins" of its entropy calibration, GTC 2017
 * "8-bit Inference with TensorRT"); ONNX Runtime's percentile calibrator uses the same default.
 */
export const DEFAULT_HISTOGRAM_BINS = 2048;

/** Bin widths are 2^e with e at least this: 2^-149 is the smallest float32 (a subnormal). */
const MIN_WIDTH_EXPONENT = -149;

/**
 * Bin indices counted from value 0 stay below 2^31 in magnitude, far inside the 2^53 range where
 * doubles hold integers exactly, so `offset + bin` and the re-binning divisions are exact.
 */
const MAX_GRID_INDEX = 2 ** 31;

/**
 * 'abs' counts |x| over [0, bins * width) (TensorRT's histogram, for symmetric thresholds);
 * 'signed' counts x over [offset * width, (offset + bins) * width).
 */
export type HistogramMode = 'abs' | 'signed';

/** The JSON form of a histogram's state. */
export interface AlignedHistogramJSON {
  readonly exponent: number | null;
  readonly offset: number;
  readonly min: number | string;
  readonly max: number | string;
  readonly counts: number[];
}

/**
 * A fixed-size histogram whose bins lie on the grid of multiples of a power-of-two width: bin j
 * holds values in [(offset + j) * w, (offset + j + 1) * w) with w = 2^exponent.
 *
 * Why the grid: when wider data arrives, the width doubles (or grows by 2^k) and every old bin
 * falls entirely inside one new bin, so re-binning adds counts without splitting any (counts are
 * preserved exactly; torch's HistogramObserver instead re-spreads counts approximately). The
 * width is always the smallest power of two whose window holds every value seen, and the window
 * starts at the grid line below the smallest value, so the state depends only on the data, not
 * on how it was cut into batches: merging the histograms of two halves gives the same counts as
 * one pass, bin for bin.
 *
 * Bin assignment is the backend's `histogram` kernel (float64, floor((x - lo) / w)). In 'abs'
 * mode the kernel runs over [-bins * w, bins * w) with twice the bins and the two halves are
 * folded, which avoids an |x| copy of every batch; a negative value exactly on a bin edge then
 * counts in the bin below it, and the same happens at every width, so merging stays exact. In
 * 'signed' mode a value closer to zero than 2^-40 of the window's span may round onto the grid
 * line at zero; that is the one place where batch splits could move a count by one bin.
 */
export class AlignedHistogram {
  readonly bins: number;
  readonly mode: HistogramMode;
  private exponent: number | undefined;
  private offset = 0;
  private lowest = Number.POSITIVE_INFINITY;
  private highest = Number.NEGATIVE_INFINITY;
  private counts: Float64Array;

  constructor(bins: number, mode: HistogramMode) {
    if (!Number.isInteger(bins) || bins < 2 || bins > 1 << 24) {
      throw new QgrainError(
        'invalid-argument',
        `histogram bin count ${bins} must be an integer in [2, 2^24]`,
      );
    }
    this.bins = bins;
    this.mode = mode;
    this.counts = new Float64Array(bins);
  }

  /** Bin width (0 before any value arrived). */
  get width(): number {
    return this.exponent === undefined ? 0 : 2 ** this.exponent;
  }

  /** Value at the lower edge of bin 0. */
  get lowerEdge(): number {
    return this.offset * this.width;
  }

  /** Smallest and largest value counted (for 'abs', of x itself, not |x|). */
  get min(): number {
    return this.lowest;
  }

  get max(): number {
    return this.highest;
  }

  /** Number of values counted. */
  get total(): number {
    let sum = 0;
    for (let j = 0; j < this.bins; j++) sum += this.counts[j]!;
    return sum;
  }

  /** A copy of the counts. */
  binCounts(): Float64Array {
    return this.counts.slice();
  }

  /**
   * Counts a batch with no infinities (NaN is skipped by the kernel), given its minimum and
   * maximum (+Inf / -Inf when it holds no value). With `clip`, the minimum and maximum given are
   * the clipped ones, and a value beyond an end counts in the bin that holds that end, as if it
   * had been clipped: the kernel's window is narrowed to that bin, and the kernel puts what falls
   * outside its window in the edge bins.
   */
  add(data: Float32Array, batchMin: number, batchMax: number, backend: Backend, clip?: ObserverClip): void {
    if (!(batchMin <= batchMax)) return;
    this.growTo(Math.min(this.lowest, batchMin), Math.max(this.highest, batchMax));
    const w = this.width;
    const bins = this.bins;
    // The window in grid units: [offset, offset + bins) signed; [-bins, bins) before folding |x|.
    const start = this.mode === 'signed' ? this.offset : -bins;
    const end = this.mode === 'signed' ? this.offset + bins : bins;
    const first =
      clip?.min === undefined ? start : Math.min(Math.max(start, Math.floor(clip.min / w)), end - 1);
    const last =
      clip?.max === undefined ? end : Math.max(Math.min(end, Math.floor(clip.max / w) + 1), first + 1);
    if (this.mode === 'signed') {
      backend.histogram(data, first * w, last * w, this.counts.subarray(first - start, last - start));
      return;
    }
    const both = new Float64Array(last - first);
    backend.histogram(data, first * w, last * w, both);
    for (let k = 0; k < both.length; k++) {
      const n = both[k]!;
      if (n === 0) continue;
      const j = first + k; // grid index of the bin: [j * w, (j + 1) * w)
      this.counts[j < 0 ? -j - 1 : j]! += n;
    }
  }

  /** Adds another histogram of the same size and mode, exactly (see the class comment). */
  merge(other: AlignedHistogram): void {
    if (other.bins !== this.bins || other.mode !== this.mode) {
      throw new QgrainError(
        'invalid-argument',
        `cannot merge a ${other.mode} histogram of ${other.bins} bins into a ${this.mode} histogram of ${this.bins} bins`,
      );
    }
    if (other.exponent === undefined) return;
    this.growTo(Math.min(this.lowest, other.lowest), Math.max(this.highest, other.highest), other.exponent);
    const shift = this.exponent! - other.exponent;
    const scale = 2 ** -shift;
    for (let j = 0; j < other.bins; j++) {
      const n = other.counts[j]!;
      if (n === 0) continue;
      this.counts[this.clampBin(Math.floor((other.offset + j) * scale) - this.offset)]! += n;
    }
  }

  /** The state as JSON (exact: see json-state.ts). */
  toJSON(): AlignedHistogramJSON {
    return {
      exponent: this.exponent ?? null,
      offset: this.offset,
      min: encodeFloat(this.lowest),
      max: encodeFloat(this.highest),
      counts: Array.from(this.counts),
    };
  }

  /** Restores a histogram saved by `toJSON`. */
  static fromJSON(json: Record<string, unknown>, bins: number, mode: HistogramMode): AlignedHistogram {
    const h = new AlignedHistogram(bins, mode);
    h.exponent =
      json['exponent'] === null ? undefined : expectNumber(json['exponent'], 'state.histogram.exponent');
    h.offset = expectNumber(json['offset'], 'state.histogram.offset');
    h.lowest = decodeFloats([json['min']], 'state.histogram.min')[0]!;
    h.highest = decodeFloats([json['max']], 'state.histogram.max')[0]!;
    const counts = decodeFloats(json['counts'], 'state.histogram.counts', bins);
    for (const [j, c] of counts.entries()) expectCount(c, `state.histogram.counts[${j}]`);
    h.counts = Float64Array.from(counts);
    return h;
  }

  /** True when a window of width 2^e, starting at the grid line below `lo`, holds [lo, hi]. */
  private fits(e: number, lo: number, hi: number): boolean {
    const perUnit = 2 ** -e;
    if (this.mode === 'abs') return Math.max(-lo, hi) * perUnit < this.bins;
    const first = Math.floor(lo * perUnit);
    const last = Math.floor(hi * perUnit);
    return last - first < this.bins && Math.max(-first, last + 1) <= MAX_GRID_INDEX;
  }

  /** Widens the window (never narrows it) to the smallest one that holds [lo, hi], re-binning. */
  private growTo(lo: number, hi: number, atLeast = MIN_WIDTH_EXPONENT): void {
    const current = this.exponent;
    let e = Math.max(current ?? MIN_WIDTH_EXPONENT, atLeast);
    // Start just below the answer: the window must span hi - lo (and |x| in abs mode).
    const span = this.mode === 'abs' ? Math.max(-lo, hi) : hi - lo;
    if (span > 0) e = Math.max(e, Math.floor(Math.log2(span / this.bins)) - 1);
    const magnitude = Math.max(-lo, hi);
    if (magnitude > 0) e = Math.max(e, Math.floor(Math.log2(magnitude / MAX_GRID_INDEX)) - 1);
    while (!this.fits(e, lo, hi)) e++;
    const offset = this.mode === 'abs' ? 0 : Math.floor(lo * 2 ** -e);
    this.lowest = lo;
    this.highest = hi;
    if (current === undefined) {
      this.exponent = e;
      this.offset = offset;
      return;
    }
    if (e === current && offset === this.offset) return;
    const old = this.counts;
    const oldOffset = this.offset;
    const scale = 2 ** (current - e);
    this.exponent = e;
    this.offset = offset;
    this.counts = new Float64Array(this.bins);
    for (let j = 0; j < this.bins; j++) {
      const n = old[j]!;
      if (n === 0) continue;
      this.counts[this.clampBin(Math.floor((oldOffset + j) * scale) - offset)]! += n;
    }
  }

  // Every count lands inside by construction; clamping only guards the rounding case of the
  // class comment, so that no count is ever lost.
  private clampBin(j: number): number {
    return j < 0 ? 0 : j >= this.bins ? this.bins - 1 : j;
  }
}
