import type { AxisContext, Granularity } from '@qgrain/granularity';
import type { Backend } from '@qgrain/tensor';

/** The observer families; each has its own state layout in JSON. */
export type ObserverKind = 'minmax' | 'moving-average' | 'histogram';

/**
 * Range per group: `min[g] <= max[g]` for a group that saw a finite value; a group that saw none
 * keeps min = +Infinity and max = -Infinity, which `qparamsFromRanges` reads as [0, 0].
 */
export interface ObservedRange {
  readonly min: Float32Array;
  readonly max: Float32Array;
}

/** What every observer is built from. Only `backend` stays out of the saved state. */
export interface ObserverOptions {
  /** How values fall into groups: per-tensor (default) or per-axis. */
  readonly granularity?: Granularity;
  /** What the op owning the tensor says about its axes (resolves `per-channel`). */
  readonly context?: AxisContext;
  /** Tensor name, used in error messages and kept in the saved state. */
  readonly name?: string;
  /** Where the hot loops run; default `jsBackend`. */
  readonly backend?: Backend;
  /**
   * Values below `min` (above `max`) are observed as `min` (`max`): the tensor's readers cannot
   * tell them apart (every input of a HardSwish below -3 gives 0), so the range need not spend
   * quantization steps on them. Either end may be left open.
   */
  readonly clip?: ObserverClip;
}

/** The ends an observer clips its values to; an absent end is open. */
export interface ObserverClip {
  readonly min?: number;
  readonly max?: number;
}

/** The JSON-safe part of an observer's configuration shared by all kinds. */
export interface BaseObserverConfig {
  readonly granularity: Granularity;
  readonly context: AxisContext;
  /** Present only when an end is set; open ends are absent. */
  readonly clip?: ObserverClip;
}

/** The JSON document an observer saves: enough to rebuild it and continue exactly. */
export interface ObserverJSON {
  readonly format: typeof OBSERVER_JSON_FORMAT;
  readonly version: typeof OBSERVER_JSON_VERSION;
  readonly kind: ObserverKind;
  readonly name?: string;
  readonly config: Record<string, unknown>;
  readonly state: Record<string, unknown>;
}

/** Marker of a saved observer, so a calibration cache can be recognised as one. */
export const OBSERVER_JSON_FORMAT = 'qgrain.observer';
/** Bumped when the saved state layout changes incompatibly. */
export const OBSERVER_JSON_VERSION = 1;

/**
 * A streaming range observer for one tensor. It sees batches, keeps O(groups + bins) state,
 * merges with another observer of the same kind and configuration (calibration split across
 * workers), and saves its state as JSON (calibration resumed later).
 *
 * Non-finite values: NaN is ignored and counted in `nanCount`; +-Infinity is ignored too and counted in `nonFiniteCount`
 * (an infinite range could not be quantized, and QuantizeLinear saturates Inf to the range's
 * ends anyway).
 */
export interface Observer {
  readonly kind: ObserverKind;
  /** The calibration method in its text form (`minmax`, `percentile:99.99`, ...). */
  readonly method: string;
  /** The JSON-safe configuration; two observers merge only when these are equal. */
  readonly config: BaseObserverConfig;
  readonly name: string | undefined;
  /** Shape of the first batch seen (undefined before any batch). */
  readonly shape: readonly number[] | undefined;
  /** Number of groups (undefined before any batch fixes it). */
  readonly groups: number | undefined;
  /** Number of batches observed, empty ones included. */
  readonly batches: number;
  /** Number of +-Infinity values ignored so far. */
  readonly nonFiniteCount: number;
  /** Number of NaN values ignored so far. */
  readonly nanCount: number;
  /** Folds one batch (row-major float32 data of `shape`) into the state. */
  observe(data: Float32Array, shape: readonly number[]): void;
  /** The range chosen so far, one (min, max) per group. */
  range(): ObservedRange;
  /**
   * Folds another observer's state into this one, as if this one had also seen the other's
   * batches (after its own, for the order-dependent moving average).
   */
  merge(other: Observer): void;
  /** The state as a JSON document (`fromJSON` / `observerFromJSON` reads it back). */
  toJSON(): ObserverJSON;
}
