// Messages between the Granularity Explorer page and its Web Worker. Everything crosses by
// structured clone (typed arrays and Infinity included); model bytes are transferred, not copied.
import type { WeightSurvey } from '@qgrain/pipeline';

/** Calibration samples the page draws when it quantizes. */
export const CALIBRATION_SAMPLES = 8;

/** A model input as the page shows it: symbolic dims are named so the user can size them. */
export interface InputInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly (number | string | null)[];
}

/** Page -> worker. */
export type ExplorerRequest =
  | { readonly type: 'open'; readonly name: string; readonly bytes: ArrayBuffer }
  | { readonly type: 'ranges'; readonly weight: string }
  | {
      readonly type: 'quantize';
      /** Sizes of named symbolic dims for the seeded sample inputs. */
      readonly dims: Readonly<Record<string, number>>;
      readonly method: string;
    };

/** What the page shows after a model is opened. */
export interface OpenedModel {
  readonly name: string;
  readonly bytes: number;
  readonly nodes: number;
  readonly inputs: readonly InputInfo[];
  readonly prepared: string;
  readonly backend: string;
  readonly survey: WeightSurvey;
}

/** One weight's per-channel extremes. */
export interface ChannelRanges {
  readonly weight: string;
  readonly channelAxis: number;
  readonly min: Float32Array;
  readonly max: Float32Array;
}

/** What quantizing in the page produced and how close it runs to the float model. */
export interface QuantizedModel {
  readonly bytes: ArrayBuffer;
  readonly floatBytes: number;
  readonly weights: number;
  readonly activations: number;
  readonly method: string;
  readonly calibrationSamples: number;
  /** SQNR (dB) of the quantized model's outputs against the float model's on a held-back sample. */
  readonly outputSqnrDb: number;
  readonly sampleShape: Readonly<Record<string, readonly number[]>>;
  readonly floatOutput: readonly number[];
  readonly quantizedOutput: readonly number[];
  readonly milliseconds: number;
}

/** Worker -> page. */
export type ExplorerResponse =
  | { readonly type: 'progress'; readonly step: string; readonly done: number; readonly total: number }
  | { readonly type: 'opened'; readonly model: OpenedModel }
  | { readonly type: 'ranges'; readonly ranges: ChannelRanges }
  | { readonly type: 'quantized'; readonly result: QuantizedModel }
  | { readonly type: 'error'; readonly message: string };
