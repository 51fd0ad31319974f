import { QgrainError } from '@qgrain/tensor';
import { decodeFloats, encodeFloats } from './json-state.js';
import type { Observer, ObserverOptions, ObservedRange } from './observer.js';
import { ObserverBase, baseOptionsFromJSON, emptyRange, readObserverJSON } from './observer-base.js';

/**
 * The running minimum and maximum per group over every batch (ONNX Runtime's MinMax calibration,
 * torch.ao's MinMaxObserver). Merging takes the elementwise min/max, so any split of the data
 * gives exactly the one-pass result.
 */
export class MinMaxObserver extends ObserverBase {
  readonly kind = 'minmax' as const;
  readonly method = 'minmax';
  private min = new Float32Array(0);
  private max = new Float32Array(0);

  constructor(options: ObserverOptions = {}) {
    super(options);
  }

  /** Rebuilds an observer from `toJSON()` output; observing more continues exactly. */
  static fromJSON(json: unknown, options: Pick<ObserverOptions, 'backend'> = {}): MinMaxObserver {
    const { name, config, state } = readObserverJSON(json, 'minmax');
    const observer = new MinMaxObserver({
      ...baseOptionsFromJSON(config),
      ...(name === undefined ? {} : { name }),
      ...options,
    });
    observer.restoreBookkeeping(state);
    const groups = observer.groups ?? 0;
    observer.min = Float32Array.from(decodeFloats(state['min'], 'state.min', groups));
    observer.max = Float32Array.from(decodeFloats(state['max'], 'state.max', groups));
    return observer;
  }

  observe(data: Float32Array, shape: readonly number[]): void {
    const batch = this.prepareBatch(data, shape);
    this.ensureGroups(batch.layout.groups);
    for (let g = 0; g < batch.min.length; g++) {
      if (batch.min[g]! < this.min[g]!) this.min[g] = batch.min[g]!;
      if (batch.max[g]! > this.max[g]!) this.max[g] = batch.max[g]!;
    }
  }

  range(): ObservedRange {
    if (this.min.length === 0)
      return emptyRange(this.groups ?? (this.config.granularity.kind === 'per-tensor' ? 1 : 0));
    return { min: this.min.slice(), max: this.max.slice() };
  }

  merge(other: Observer): void {
    this.checkMergeable(other);
    const that = other as MinMaxObserver;
    this.mergeBookkeeping(that);
    if (that.min.length === 0) return;
    this.ensureGroups(that.min.length);
    for (let g = 0; g < that.min.length; g++) {
      if (that.min[g]! < this.min[g]!) this.min[g] = that.min[g]!;
      if (that.max[g]! > this.max[g]!) this.max[g] = that.max[g]!;
    }
  }

  protected configJSON(): Record<string, unknown> {
    return this.baseConfigJSON();
  }

  protected stateJSON(): Record<string, unknown> {
    return { min: encodeFloats(this.min), max: encodeFloats(this.max) };
  }

  private ensureGroups(groups: number): void {
    if (this.min.length === groups) return;
    if (this.min.length !== 0) {
      throw new QgrainError(
        'internal',
        `${this.where()}: group count changed from ${this.min.length} to ${groups}`,
      );
    }
    this.min = new Float32Array(groups).fill(Number.POSITIVE_INFINITY);
    this.max = new Float32Array(groups).fill(Number.NEGATIVE_INFINITY);
  }
}
