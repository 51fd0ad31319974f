import { QgrainError } from '@qgrain/tensor';
import { decodeFloats, encodeFloats, expectNumber } from './json-state.js';
import type { Observer, ObserverOptions, ObservedRange } from './observer.js';
import { ObserverBase, baseOptionsFromJSON, emptyRange, readObserverJSON } from './observer-base.js';

/** torch.ao.quantization.MovingAverageMinMaxObserver's default averaging constant. */
export const DEFAULT_AVERAGING_CONSTANT = 0.01;

/** Options of a moving-average observer. */
export interface MovingAverageOptions extends ObserverOptions {
  /** Weight c of each new batch: min <- min + c * (batchMin - min). Default 0.01. */
  readonly averagingConstant?: number;
}

/**
 * An exponential moving average of each group's batch minimum and maximum, as torch.ao's
 * MovingAverageMinMaxObserver: the first batch sets the range, every later batch moves it by
 * c * (batch - current). Groups without a finite value in a batch are left as they were.
 *
 * The average depends on batch order, so a merge means "the other's batches came after mine".
 * It is exact because the average is linear: with the other's k batches, first batch f and
 * average e, the one-pass result is e + (1 - c)^k * (mine - f). Each group therefore also keeps
 * its first batch's values and its batch count (state stays O(groups)). The state is float64, so
 * merged and one-pass results agree to rounding (about 1e-15 relative), not bit for bit.
 */
export class MovingAverageMinMaxObserver extends ObserverBase {
  readonly kind = 'moving-average' as const;
  readonly averagingConstant: number;
  private min = new Float64Array(0);
  private max = new Float64Array(0);
  private firstMin = new Float64Array(0);
  private firstMax = new Float64Array(0);
  private counts = new Float64Array(0);

  constructor(options: MovingAverageOptions = {}) {
    super(options);
    const c = options.averagingConstant ?? DEFAULT_AVERAGING_CONSTANT;
    if (!(c > 0 && c <= 1)) {
      throw new QgrainError(
        'invalid-argument',
        `${this.where(options.name)}: averaging constant ${c} must be in (0, 1]; torch's default is ${DEFAULT_AVERAGING_CONSTANT}`,
      );
    }
    this.averagingConstant = c;
  }

  get method(): string {
    return `moving-average:${this.averagingConstant}`;
  }

  /** Rebuilds an observer from `toJSON()` output; observing more continues exactly. */
  static fromJSON(
    json: unknown,
    options: Pick<ObserverOptions, 'backend'> = {},
  ): MovingAverageMinMaxObserver {
    const { name, config, state } = readObserverJSON(json, 'moving-average');
    const observer = new MovingAverageMinMaxObserver({
      ...baseOptionsFromJSON(config),
      averagingConstant: expectNumber(config['averagingConstant'], 'config.averagingConstant'),
      ...(name === undefined ? {} : { name }),
      ...options,
    });
    observer.restoreBookkeeping(state);
    const groups = observer.groups ?? 0;
    observer.min = Float64Array.from(decodeFloats(state['min'], 'state.min', groups));
    observer.max = Float64Array.from(decodeFloats(state['max'], 'state.max', groups));
    observer.firstMin = Float64Array.from(decodeFloats(state['firstMin'], 'state.firstMin', groups));
    observer.firstMax = Float64Array.from(decodeFloats(state['firstMax'], 'state.firstMax', groups));
    observer.counts = Float64Array.from(decodeFloats(state['counts'], 'state.counts', groups));
    return observer;
  }

  observe(data: Float32Array, shape: readonly number[]): void {
    const batch = this.prepareBatch(data, shape);
    this.ensureGroups(batch.layout.groups);
    const c = this.averagingConstant;
    for (let g = 0; g < batch.min.length; g++) {
      const lo = batch.min[g]!;
      const hi = batch.max[g]!;
      if (!(lo <= hi)) continue;
      if (this.counts[g] === 0) {
        this.min[g] = this.firstMin[g] = lo;
        this.max[g] = this.firstMax[g] = hi;
      } else {
        this.min[g] = this.min[g]! + c * (lo - this.min[g]!);
        this.max[g] = this.max[g]! + c * (hi - this.max[g]!);
      }
      this.counts[g]!++;
    }
  }

  range(): ObservedRange {
    if (this.min.length === 0)
      return emptyRange(this.groups ?? (this.config.granularity.kind === 'per-tensor' ? 1 : 0));
    const out = emptyRange(this.min.length);
    for (let g = 0; g < this.min.length; g++) {
      if (this.counts[g] === 0) continue;
      out.min[g] = this.min[g]!;
      out.max[g] = this.max[g]!;
    }
    return out;
  }

  merge(other: Observer): void {
    this.checkMergeable(other);
    const that = other as MovingAverageMinMaxObserver;
    this.mergeBookkeeping(that);
    if (that.min.length === 0) return;
    this.ensureGroups(that.min.length);
    const keep = 1 - this.averagingConstant;
    for (let g = 0; g < that.min.length; g++) {
      const k = that.counts[g]!;
      if (k === 0) continue;
      if (this.counts[g] === 0) {
        this.min[g] = that.min[g]!;
        this.max[g] = that.max[g]!;
        this.firstMin[g] = that.firstMin[g]!;
        this.firstMax[g] = that.firstMax[g]!;
      } else {
        const decay = keep ** k;
        this.min[g] = that.min[g]! + decay * (this.min[g]! - that.firstMin[g]!);
        this.max[g] = that.max[g]! + decay * (this.max[g]! - that.firstMax[g]!);
      }
      this.counts[g]! += k;
    }
  }

  protected configJSON(): Record<string, unknown> {
    return { ...this.baseConfigJSON(), averagingConstant: this.averagingConstant };
  }

  protected stateJSON(): Record<string, unknown> {
    return {
      min: encodeFloats(this.min),
      max: encodeFloats(this.max),
      firstMin: encodeFloats(this.firstMin),
      firstMax: encodeFloats(this.firstMax),
      counts: Array.from(this.counts),
    };
  }

  private ensureGroups(groups: number): void {
    if (this.min.length === groups) return;
    if (this.min.length !== 0) {
      throw new QgrainError(
        'internal',
        `${this.where()}: group count changed from ${this.min.length} to ${groups}`,
      );
    }
    this.min = new Float64Array(groups);
    this.max = new Float64Array(groups);
    this.firstMin = new Float64Array(groups);
    this.firstMax = new Float64Array(groups);
    this.counts = new Float64Array(groups);
  }
}
