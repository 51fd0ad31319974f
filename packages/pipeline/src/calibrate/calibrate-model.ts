import { type Int64, type Model, dtypeOfOnnx, int64ToNumber } from '@qgrain/onnx';
import {
  type CreateObserverOptions,
  type ObserverJSON,
  formatCalibrationMethod,
  parseCalibrationMethod,
} from '@qgrain/observers';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import { type CalibrationResult, type FeedSource, calibrateActivations } from './calibrate.js';
import { CALIBRATION_CACHE_FORMAT, type CalibrationCache, feedSourceFromData } from './calibration-cache.js';
import {
  CALIBRATION_STATE_FORMAT,
  type CalibrationShard,
  type CalibrationState,
  rangesFromObservers,
  shardSource,
  sourceBatches,
} from './calibration-state.js';
import type { DataSource, ModelInputSpec } from '../data/data-source.js';
import { type ActivationPlan, type PlanOptions, observerTargets } from '../plan/plan.js';
import { planModel } from '../plan/plan-model.js';
import type { RunnerFactory } from '../runner/runner.js';

/** Options of {@link calibrateModel}. */
export interface CalibrateModelOptions {
  /**
   * The float model after `prepareModel`. It is planned by `planModel`, the plan step of static
   * quantization (which raises its opset in place), so the cache names the tensors `quantize` looks up.
   */
  readonly model: Model;
  /** SHA-256 (hex) of the .onnx file the model was read from: see `sha256Hex`. */
  readonly modelSha256: string;
  /** Calibration data already bound to the model inputs (`bindDataSource`). */
  readonly source: DataSource;
  /** Calibration method text: minmax, moving-average[:c], percentile[:P], entropy, mse. */
  readonly method: string;
  readonly runner: RunnerFactory;
  /** Bytes of fetched activations one run may hold (default DEFAULT_CALIBRATION_BUDGET_BYTES). */
  readonly budgetBytes?: number;
  /** The plan options quantization will use (include/exclude/overrides), so the same tensors are calibrated. */
  readonly plan?: PlanOptions;
  /** Observer options (backend, bins, ...); the backend defaults to `selectBackend('auto')`. */
  readonly observer?: Omit<CreateObserverOptions, 'name'>;
  /** Called after each batch of each pass. */
  readonly onProgress?: (event: { pass: number; passes: number; batch: number }) => void;
}

/** A graph input's declared dimension: a number, a symbolic name, or null when undeclared. */
function dimOf(dim: { dimValue?: Int64; dimParam?: string }): number | string | null {
  // protobufjs reads absent fields through the prototype, so only own properties count.
  if (Object.hasOwn(dim, 'dimParam') && dim.dimParam) return dim.dimParam;
  // Some exporters (spox, for silero VAD v5) write an unknown size as dim_value 0. No model is
  // calibrated on empty inputs, so 0 reads as unknown.
  if (Object.hasOwn(dim, 'dimValue')) return int64ToNumber(dim.dimValue!, 'input dimension') || null;
  return null;
}

/**
 * The model's real inputs (initializers listed as inputs by old exporters left out) as
 * `bindDataSource` and the readers' checks take them.
 */
export function modelInputSpecs(model: Model): ModelInputSpec[] {
  const graph = model.graph;
  return graph.proto.input
    .filter((value) => !graph.initializer(value.name))
    .map((value) => {
      const tensorType = value.type?.tensorType;
      if (!tensorType) {
        throw new QgrainError(
          'unsupported',
          `model input '${value.name}' is not a tensor; calibration feeds tensors only`,
        );
      }
      const dtype = dtypeOfOnnx(tensorType.elemType);
      if (!dtype) {
        throw new QgrainError(
          'unsupported',
          `model input '${value.name}' has ONNX element type ${tensorType.elemType}, which qgrain cannot feed`,
        );
      }
      return {
        name: value.name,
        dtype,
        shape: (tensorType.shape?.dim ?? []).map(dimOf),
      };
    });
}

/** Counts batches and samples of the last full pass, without holding any batch. */
function countingFeeds(source: DataSource, seen: { batches: number; samples: number }): FeedSource {
  const feeds = feedSourceFromData(source);
  return async function* () {
    let batches = 0;
    let samples = 0;
    for await (const feed of feeds()) {
      batches++;
      const first = Object.values(feed)[0] as Tensor | undefined;
      samples += first?.shape[0] ?? 1;
      yield feed;
    }
    // A probe that stops after one batch must not overwrite the count of a full pass.
    if (batches >= seen.batches) Object.assign(seen, { batches, samples });
  };
}

/** What observing the data gave: one observer per tensor and how much data they saw. */
interface Observed {
  readonly method: string;
  readonly result: CalibrationResult;
  readonly seen: { readonly batches: number; readonly samples: number };
}

/** Runs the model over `source` and feeds the planned activations into their observers. */
async function observeModel(options: CalibrateModelOptions, source: DataSource): Promise<Observed> {
  // Canonical text (`percentile` -> `percentile:99.999`), and a bad method fails before any run.
  const method = formatCalibrationMethod(parseCalibrationMethod(options.method));
  // User-fixed ranges need no measurement.
  const planned: ActivationPlan[] = planModel(options.model, options.plan).activations.filter(
    (a) => !a.fixed,
  );
  const seen = { batches: 0, samples: 0 };
  const tensors = planned.map((a) => a.tensor);
  const result = await calibrateActivations(options.model, tensors, countingFeeds(source, seen), {
    method,
    runner: options.runner,
    observerFor: observerTargets(planned),
    ...(options.budgetBytes !== undefined ? { budgetBytes: options.budgetBytes } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return { method, result, seen };
}

/**
 * Calibrates the activations static `quantize` will quantize (`planModel(model).activations`
 * without fixed ones) on `source` and returns the calibration cache document. Memory stays flat
 * in the number of batches: each batch is streamed into the observers and dropped.
 */
export async function calibrateModel(options: CalibrateModelOptions): Promise<CalibrationCache> {
  const { source } = options;
  const { method, result, seen } = await observeModel(options, source);
  const { tensors, notes } = rangesFromObservers(result.observers);
  return {
    format: CALIBRATION_CACHE_FORMAT,
    model_sha256: options.modelSha256,
    method,
    tensors,
    batches: result.batches,
    samples: seen.samples,
    passes: result.passes,
    data: source.description,
    ...(source.random ? { random: true } : {}),
    ...(result.skipped.length > 0 ? { skipped: result.skipped } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}

/** Options of {@link calibrateShard}: those of `calibrateModel` and which shard to observe. */
export interface CalibrateShardOptions extends CalibrateModelOptions {
  /** Shard `index` (from 0) of `count`: the contiguous share of the batches this process observes. */
  readonly shard: CalibrationShard;
}

/**
 * Observes one shard of the data (see `shardSource`) as `calibrateModel` would observe all of it,
 * and returns the observers' raw state instead of ranges. `mergeCalibrationStates` over every
 * shard's state gives the cache `calibrateModel` gives on all the data. Shards are independent
 * processes: each needs only its index, the shard count and the same model, data and options.
 */
export async function calibrateShard(options: CalibrateShardOptions): Promise<CalibrationState> {
  const source = shardSource(options.source, options.shard);
  const { method, result, seen } = await observeModel(options, source);
  const observers: Record<string, ObserverJSON> = {};
  for (const [name, observer] of result.observers) observers[name] = observer.toJSON();
  return {
    format: CALIBRATION_STATE_FORMAT,
    model_sha256: options.modelSha256,
    method,
    shard: { index: options.shard.index, count: options.shard.count },
    total_batches: sourceBatches(options.source),
    batches: result.batches,
    samples: seen.samples,
    passes: result.passes,
    data: options.source.description,
    ...(options.source.random ? { random: true } : {}),
    ...(result.skipped.length > 0 ? { skipped: result.skipped } : {}),
    observers,
  };
}
