// Calibration split across processes or machines. Each shard observes a contiguous share of the
// batches and saves its observers' raw state; merging every shard's state gives the observers one
// process would have built from all the data, and from them the calibration cache. Shards need no
// coordination: which batches a shard reads follows from its index, the shard count and the data.
// File access is in calibration-cache-files.ts (Node only); this module runs anywhere.
import { type Backend, QgrainError } from '@qgrain/tensor';
import { type Observer, type ObserverJSON, observerFromJSON } from '@qgrain/observers';
import {
  CALIBRATION_CACHE_FORMAT,
  type CalibrationCache,
  type CalibrationRange,
} from './calibration-cache.js';
import { type DataSource, type Sample, readSamplesFrom } from '../data/data-source.js';
import { checkCalibratedRanges } from './finite-ranges.js';

/** The `format` marker of a shard's saved observer state; the number changes when the layout does. */
export const CALIBRATION_STATE_FORMAT = 'qgrain-calibration-state/1';

/** Which share of the data a process observes: shard `index` (from 0) of `count`. */
export interface CalibrationShard {
  readonly index: number;
  readonly count: number;
}

/**
 * What one shard observed, before any range is chosen: enough for `mergeCalibrationStates` to
 * rebuild the observers of the whole data exactly.
 */
export interface CalibrationState {
  readonly format: typeof CALIBRATION_STATE_FORMAT;
  /** Lower-case hex SHA-256 of the input .onnx file: every shard must have read the same model. */
  readonly model_sha256: string;
  /** Calibration method text, canonical (`percentile:99.999`, not `percentile`). */
  readonly method: string;
  readonly shard: CalibrationShard;
  /** Batches in the whole data, which fixes every shard's share: all shards must agree. */
  readonly total_batches: number;
  /** Batches this shard observed (per pass). */
  readonly batches: number;
  /** Samples this shard observed (per pass). */
  readonly samples: number;
  /** Passes over this shard's batches (more than one when the memory budget split the tensors). */
  readonly passes: number;
  /** Where the whole data came from (the same text for every shard). */
  readonly data?: string;
  /** Present and true when the data was synthetic. */
  readonly random?: boolean;
  /** Planned tensors that were not calibrated, with why. */
  readonly skipped?: ReadonlyArray<{ readonly tensor: string; readonly reason: string }>;
  /** One saved observer per calibrated tensor, in calibration order. */
  readonly observers: Readonly<Record<string, ObserverJSON>>;
}

/** Checks a shard, naming `option` in the error; returns it. */
export function checkShard(shard: CalibrationShard, option = 'shard'): CalibrationShard {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new QgrainError('invalid-argument', `the shard count must be a positive integer, got ${count}`, {
      value: count,
      option,
    });
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new QgrainError(
      'invalid-argument',
      `shard index ${index} is not one of 0..${count - 1} for ${count} shards (shards are numbered from 0)`,
      { value: index, option },
    );
  }
  return shard;
}

/**
 * The batches [from, to) shard `index` of `count` observes out of `total`: contiguous and as even
 * as can be (sizes differ by at most one), so shard order is data order and merging in shard order
 * is merging in data order, which the order-dependent moving average needs.
 */
export function shardBatchRange(total: number, shard: CalibrationShard): { from: number; to: number } {
  checkShard(shard);
  return {
    from: Math.floor((shard.index * total) / shard.count),
    to: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}

/** Batches a source yields: its sample count over its batch size, rounded up. */
export function sourceBatches(source: DataSource): number {
  if (source.count === undefined) {
    throw new QgrainError(
      'invalid-argument',
      `${source.description} does not know its sample count up front, so it cannot be split into shards; use a data source that does (.npy, .npz, .json, images, random)`,
      { file: source.description, option: 'data' },
    );
  }
  return Math.ceil(source.count / (source.batchSize ?? 1));
}

/**
 * The part of `source` (bound and batched, see `bindDataSource`) that `shard` observes: its
 * batches only, reached through `readSamplesFrom` so formats that can skip do not read the
 * batches before it. Refuses a shard that would get no batch.
 */
export function shardSource(source: DataSource, shard: CalibrationShard): DataSource {
  const total = sourceBatches(source);
  const { from, to } = shardBatchRange(total, shard);
  if (to === from) {
    throw new QgrainError(
      'invalid-argument',
      `shard ${shard.index}/${shard.count} gets no batch: the data holds ${total} batches; use at most ${total} shards or smaller batches`,
      { value: shard.count, option: 'shard' },
    );
  }
  const perBatch = source.batchSize ?? 1;
  const samples = Math.min(to * perBatch, source.count!) - from * perBatch;
  async function* batches(skip: number): AsyncIterable<Sample> {
    let i = from + skip;
    if (i >= to) return;
    for await (const batch of readSamplesFrom(source, i)) {
      yield batch;
      if (++i >= to) return;
    }
  }
  return {
    description: source.description,
    inputs: source.inputs,
    count: samples,
    batchSize: perBatch,
    random: source.random,
    samples: () => batches(0),
    samplesFrom: batches,
  };
}

/**
 * The cache's ranges from calibrated observers: per-tensor ranges as numbers, per-axis as arrays.
 * A group that saw no finite value gets [0, 0], with a note, as quantization would read it.
 */
export function rangesFromObservers(observers: ReadonlyMap<string, Observer>): {
  tensors: Record<string, CalibrationRange>;
  notes: string[];
} {
  const tensors: Record<string, CalibrationRange> = {};
  // The non-finite policy: refuse an activation that saw nothing finite, count the values dropped.
  const notes: string[] = checkCalibratedRanges(observers);
  for (const [name, observer] of observers) {
    const { min, max } = observer.range();
    if (min.length === 1) {
      const lo = min[0]!;
      const hi = max[0]!;
      if (Number.isFinite(lo) && Number.isFinite(hi)) tensors[name] = { min: lo, max: hi };
      else {
        tensors[name] = { min: 0, max: 0 };
        notes.push(`${name}: saw no finite value; range set to [0, 0]`);
      }
    } else {
      tensors[name] = {
        min: Array.from(min, (v) => (Number.isFinite(v) ? v : 0)),
        max: Array.from(max, (v) => (Number.isFinite(v) ? v : 0)),
      };
    }
  }
  return { tensors, notes };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function invalid(origin: string, why: string): QgrainError {
  return new QgrainError(
    'invalid-argument',
    `${origin} is not a valid calibration shard state: ${why}; recreate it by calibrating that shard again`,
    { file: origin },
  );
}

function count(doc: Record<string, unknown>, field: string, origin: string, least = 0): number {
  const value = doc[field];
  if (!Number.isSafeInteger(value) || (value as number) < least)
    throw invalid(origin, `'${field}' must be an integer of at least ${least}`);
  return value as number;
}

/**
 * Checks that `value` is a shard state and returns it typed. The observers are checked when they
 * are rebuilt (`mergeCalibrationStates`). `origin` names the file in errors.
 */
export function validateCalibrationState(value: unknown, origin = 'the calibration state'): CalibrationState {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(origin, 'expected a JSON object');
  const doc = value as Record<string, unknown>;
  if (doc['format'] !== CALIBRATION_STATE_FORMAT) {
    const hint =
      doc['format'] === CALIBRATION_CACHE_FORMAT ? ' (it is a calibration cache, already merged)' : '';
    throw invalid(
      origin,
      `'format' is ${JSON.stringify(doc['format'])}, expected '${CALIBRATION_STATE_FORMAT}'${hint}`,
    );
  }
  if (typeof doc['model_sha256'] !== 'string' || !SHA256_HEX.test(doc['model_sha256']))
    throw invalid(origin, "'model_sha256' must be 64 lower-case hex digits");
  if (typeof doc['method'] !== 'string' || doc['method'] === '')
    throw invalid(origin, "'method' must be a non-empty string");
  const shard = doc['shard'];
  if (typeof shard !== 'object' || shard === null || Array.isArray(shard))
    throw invalid(origin, "'shard' must be { index, count }");
  const s = shard as Record<string, unknown>;
  const shardCount = count(s, 'count', origin, 1);
  const shardIndex = count(s, 'index', origin);
  if (shardIndex >= shardCount)
    throw invalid(origin, `shard index ${shardIndex} is not below its count ${shardCount}`);
  count(doc, 'total_batches', origin, 1);
  count(doc, 'batches', origin, 1);
  count(doc, 'samples', origin, 1);
  count(doc, 'passes', origin, 1);
  const observers = doc['observers'];
  if (typeof observers !== 'object' || observers === null || Array.isArray(observers))
    throw invalid(origin, "'observers' must be an object of tensor name -> saved observer");
  if (doc['random'] !== undefined && typeof doc['random'] !== 'boolean')
    throw invalid(origin, "'random' must be true or false");
  return doc as unknown as CalibrationState;
}

/** The state as the JSON text written to disk: compact, since histograms make it long and no one reads it. */
export function formatCalibrationState(state: CalibrationState): string {
  return `${JSON.stringify(validateCalibrationState(state))}\n`;
}

/** Parses and validates shard state JSON text read from `origin` (a path or a description). */
export function parseCalibrationState(text: string, origin: string): CalibrationState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(origin, `not JSON (${(error as Error).message})`);
  }
  return validateCalibrationState(value, origin);
}

/** Options of {@link mergeCalibrationStates}. */
export interface MergeCalibrationStatesOptions {
  /** Where each state came from (same order), named in errors; default `state <i>`. */
  readonly origins?: readonly string[];
  /** Where the observers' range selection runs; default their JS reference kernels. */
  readonly backend?: Backend;
}

function mismatch(what: string, a: string, b: string, first: unknown, other: unknown): QgrainError {
  return new QgrainError(
    'invalid-argument',
    `${b} has ${what} ${JSON.stringify(other)} but ${a} has ${JSON.stringify(first)}; merge only the shard states of one calibration run`,
    { file: b, value: other },
  );
}

/**
 * Merges every shard's state into the calibration cache of the whole data: the observers are
 * rebuilt and merged in shard order, so min-max ranges and histogram counts (and every range
 * chosen from them) equal those of one process calibrating all the data, bit for bit. The states
 * may come in any order, but must be one run's: same model, method, shard count and data size,
 * each shard exactly once.
 */
export function mergeCalibrationStates(
  states: readonly CalibrationState[],
  options: MergeCalibrationStatesOptions = {},
): CalibrationCache {
  const origin = (i: number) => options.origins?.[i] ?? `state ${i}`;
  if (states.length === 0)
    throw new QgrainError('invalid-argument', 'no calibration shard states to merge; give at least one');
  const checked = states.map((s, i) => validateCalibrationState(s, origin(i)));
  const first = checked[0]!;
  const byIndex = new Map<number, number>();
  checked.forEach((state, i) => {
    const here = origin(i);
    if (state.model_sha256 !== first.model_sha256)
      throw mismatch('model_sha256', origin(0), here, first.model_sha256, state.model_sha256);
    if (state.method !== first.method) throw mismatch('method', origin(0), here, first.method, state.method);
    if (state.shard.count !== first.shard.count)
      throw mismatch('shard count', origin(0), here, first.shard.count, state.shard.count);
    if (state.total_batches !== first.total_batches)
      throw mismatch('total_batches', origin(0), here, first.total_batches, state.total_batches);
    if (Object.keys(state.observers).join('\n') !== Object.keys(first.observers).join('\n')) {
      throw new QgrainError(
        'invalid-argument',
        `${here} observed other tensors than ${origin(0)}; calibrate every shard with the same plan options`,
        { file: here },
      );
    }
    const seen = byIndex.get(state.shard.index);
    if (seen !== undefined) {
      throw new QgrainError(
        'invalid-argument',
        `${origin(seen)} and ${here} are both shard ${state.shard.index}/${state.shard.count}; give each shard's state once`,
        { file: here, value: state.shard.index },
      );
    }
    byIndex.set(state.shard.index, i);
  });
  const missing = Array.from({ length: first.shard.count }, (_, k) => k).filter((k) => !byIndex.has(k));
  if (missing.length > 0) {
    throw new QgrainError(
      'invalid-argument',
      `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${first.shard.count} missing: the merged ranges would not cover all the data; give every shard's state`,
      { value: missing },
    );
  }
  // Shard order is data order (contiguous shares), which the moving average's merge relies on.
  const ordered = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const observers = new Map<string, Observer>();
  const backend = options.backend ? { backend: options.backend } : {};
  for (const i of ordered) {
    for (const [name, json] of Object.entries(checked[i]!.observers)) {
      const observer = observerFromJSON(json, backend);
      const merged = observers.get(name);
      if (merged) merged.merge(observer);
      else observers.set(name, observer);
    }
  }
  const { tensors, notes } = rangesFromObservers(observers);
  const skipped = first.skipped ?? [];
  return {
    format: CALIBRATION_CACHE_FORMAT,
    model_sha256: first.model_sha256,
    method: first.method,
    tensors,
    batches: checked.reduce((sum, s) => sum + s.batches, 0),
    samples: checked.reduce((sum, s) => sum + s.samples, 0),
    passes: Math.max(...checked.map((s) => s.passes)),
    ...(first.data === undefined ? {} : { data: first.data }),
    ...(checked.some((s) => s.random) ? { random: true } : {}),
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}
