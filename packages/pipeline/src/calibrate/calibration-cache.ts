// The calibration cache: activation ranges measured once on real data, saved as JSON next to the
// model, and reused by every later quantization of the same model bytes. Reading and writing
// files is in calibration-cache-files.ts (Node only); this module runs anywhere.
import { QgrainError } from '@qgrain/tensor';
import type { FeedSource } from './calibrate.js';
import type { DataSource } from '../data/data-source.js';

/** The `format` marker of a calibration cache; the number changes when the layout does. */
export const CALIBRATION_CACHE_FORMAT = 'qgrain-calibration/1';

/** One tensor's range: numbers for a per-tensor range, arrays (one entry per group) for per-axis. */
export interface CalibrationRange {
  readonly min: number | readonly number[];
  readonly max: number | readonly number[];
}

/**
 * A calibration cache document. `model_sha256` ties it to the exact .onnx bytes it was measured
 * on; `tensors` holds one range per calibrated activation. The other fields describe the run.
 */
export interface CalibrationCache {
  readonly format: typeof CALIBRATION_CACHE_FORMAT;
  /** Lower-case hex SHA-256 of the input .onnx file's bytes. */
  readonly model_sha256: string;
  /** Calibration method text (`minmax`, `percentile:99.999`, `entropy`, `mse`, ...). */
  readonly method: string;
  readonly tensors: Readonly<Record<string, CalibrationRange>>;
  /** Batches (model runs) per pass. */
  readonly batches?: number;
  /** Samples seen per pass (axis 0 summed over batches). */
  readonly samples?: number;
  /** Passes over the data (more than one when the memory budget split the tensors). */
  readonly passes?: number;
  /** Where the data came from (file, folder, `random (seed N)`). */
  readonly data?: string;
  /** Present and true when the data was synthetic: every report must warn that ranges are not real. */
  readonly random?: boolean;
  /** Planned tensors that were not calibrated, with why. */
  readonly skipped?: ReadonlyArray<{ readonly tensor: string; readonly reason: string }>;
  /** Remarks a report should show (tensors that saw no finite value, ...). */
  readonly notes?: readonly string[];
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Lower-case hex SHA-256 of `bytes` (WebCrypto: the same in Node and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A FeedSource over a DataSource: every pass calls `samples()` again, so files are re-read, not kept. */
export function feedSourceFromData(source: DataSource): FeedSource {
  return () => source.samples();
}

function invalid(origin: string, why: string): QgrainError {
  return new QgrainError(
    'invalid-argument',
    `${origin} is not a valid calibration cache: ${why}; recreate it with qgrain calibrate`,
  );
}

function checkBound(value: unknown, origin: string, where: string): number | number[] {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(origin, `${where} is not a finite number`);
    return value;
  }
  if (Array.isArray(value) && value.length > 0) {
    return value.map((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw invalid(origin, `${where}[${i}] is not a finite number`);
      return v;
    });
  }
  throw invalid(origin, `${where} must be a finite number or a non-empty array of them`);
}

function optionalCount(value: unknown, origin: string, field: string): void {
  if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0))
    throw invalid(origin, `'${field}' must be a non-negative integer`);
}

/**
 * Checks that `value` is a calibration cache and returns it typed. Every range must be finite
 * with min <= max (per group for arrays, which must agree in length). `origin` names the file in
 * errors.
 */
export function validateCalibrationCache(value: unknown, origin = 'the calibration cache'): CalibrationCache {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(origin, 'expected a JSON object');
  const doc = value as Record<string, unknown>;
  if (doc['format'] !== CALIBRATION_CACHE_FORMAT) {
    throw invalid(
      origin,
      `'format' is ${JSON.stringify(doc['format'])}, expected '${CALIBRATION_CACHE_FORMAT}'`,
    );
  }
  if (typeof doc['model_sha256'] !== 'string' || !SHA256_HEX.test(doc['model_sha256']))
    throw invalid(origin, "'model_sha256' must be 64 lower-case hex digits");
  if (typeof doc['method'] !== 'string' || doc['method'] === '')
    throw invalid(origin, "'method' must be a non-empty string");
  const tensors = doc['tensors'];
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors))
    throw invalid(origin, "'tensors' must be an object of tensor name -> { min, max }");
  for (const [name, range] of Object.entries(tensors as Record<string, unknown>)) {
    if (typeof range !== 'object' || range === null)
      throw invalid(origin, `tensors['${name}'] must be { min, max }`);
    const r = range as Record<string, unknown>;
    const min = checkBound(r['min'], origin, `tensors['${name}'].min`);
    const max = checkBound(r['max'], origin, `tensors['${name}'].max`);
    const mins = typeof min === 'number' ? [min] : min;
    const maxs = typeof max === 'number' ? [max] : max;
    if (mins.length !== maxs.length || typeof min !== typeof max)
      throw invalid(origin, `tensors['${name}'] has min and max of different lengths`);
    mins.forEach((lo, i) => {
      if (lo > maxs[i]!) throw invalid(origin, `tensors['${name}'] has min ${lo} > max ${maxs[i]}`);
    });
  }
  for (const field of ['batches', 'samples', 'passes']) optionalCount(doc[field], origin, field);
  if (doc['random'] !== undefined && typeof doc['random'] !== 'boolean')
    throw invalid(origin, "'random' must be true or false");
  return doc as unknown as CalibrationCache;
}

/** The cache as the JSON text written to disk (2-space indent, trailing newline). */
export function formatCalibrationCache(cache: CalibrationCache): string {
  return `${JSON.stringify(validateCalibrationCache(cache), null, 2)}\n`;
}

/** Options of {@link parseCalibrationCache} and readCalibrationCache. */
export interface ReadCalibrationCacheOptions {
  /** The model file's path, named in the error when the cache belongs to another model. */
  readonly modelPath?: string;
}

/**
 * Parses and validates cache JSON text (from `origin`, a path or a description) and checks that
 * it was measured on `modelBytes` (the input .onnx file): a cache of another model is refused
 * with an error naming both.
 */
export async function parseCalibrationCache(
  text: string,
  origin: string,
  modelBytes: Uint8Array,
  options: ReadCalibrationCacheOptions = {},
): Promise<CalibrationCache> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the text around the fault: never echo a binary file into a message.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    const numpy = text.startsWith('\u0093NUMPY') || text.startsWith('\ufffdNUMPY');
    throw invalid(
      origin,
      numpy
        ? 'a NumPy .npy array, not a JSON calibration cache'
        : `not JSON${at === undefined ? '' : ` (invalid at character ${at})`}`,
    );
  }
  const cache = validateCalibrationCache(value, origin);
  const actual = await sha256Hex(modelBytes);
  if (cache.model_sha256 !== actual) {
    const model = options.modelPath ?? 'the given model';
    throw new QgrainError(
      'invalid-argument',
      `calibration cache ${origin} was made for another model (sha256 ${cache.model_sha256.slice(0, 12)}...) than ${model} (sha256 ${actual.slice(0, 12)}...); calibrate this model again to make a cache for it`,
      { file: origin, value: cache.model_sha256, option: 'ranges' },
    );
  }
  return cache;
}

/**
 * The cache's ranges in the shape the `ranges` option of `quantize` takes (tensor -> per-tensor
 * { min, max }). A one-entry array counts as per-tensor; a per-axis range cannot feed a
 * per-tensor activation and is refused.
 */
export function rangesFromCache(
  cache: CalibrationCache,
): Record<string, { readonly min: number; readonly max: number }> {
  const out: Record<string, { min: number; max: number }> = {};
  for (const [name, range] of Object.entries(cache.tensors)) {
    const min = typeof range.min === 'number' ? [range.min] : range.min;
    const max = typeof range.max === 'number' ? [range.max] : range.max;
    if (min.length !== 1 || max.length !== 1) {
      throw new QgrainError(
        'unsupported',
        `calibration cache range of '${name}' has ${min.length} groups; static quantization takes per-tensor activation ranges`,
      );
    }
    out[name] = { min: min[0]!, max: max[0]! };
  }
  return out;
}
