// Calibration caches and shard states on disk (Node only): atomic writes, and reads checked
// against the model.
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { QgrainError } from '@qgrain/tensor';
import {
  type CalibrationCache,
  type ReadCalibrationCacheOptions,
  formatCalibrationCache,
  parseCalibrationCache,
} from './calibration-cache.js';
import { type CalibrationState, formatCalibrationState, parseCalibrationState } from './calibration-state.js';

/** Writes `text` to a temporary file beside `path`, then renames it over `path`. */
async function writeAtomically(path: string, text: string, what: string): Promise<void> {
  // Same folder as the target: rename is only atomic within one file system.
  const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    await writeFile(temporary, text, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new QgrainError(
      'io',
      `cannot write ${what} ${path}: ${(error as Error).message}; check that the folder exists and is writable`,
      { cause: error, file: path },
    );
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new QgrainError('io', `cannot read ${what} ${path}: ${(error as Error).message}`, {
      cause: error,
      file: path,
    });
  }
}

/**
 * Writes a cache atomically: to a temporary file beside `path`, then renamed over it, so a
 * crash or a concurrent reader never sees half a file.
 */
export async function writeCalibrationCache(path: string, cache: CalibrationCache): Promise<void> {
  await writeAtomically(path, formatCalibrationCache(cache), 'calibration cache');
}

/**
 * Reads and validates the cache at `path` and checks that it was measured on `modelBytes` (the
 * input .onnx file): a cache of another model is refused with an error naming both files.
 */
export async function readCalibrationCache(
  path: string,
  modelBytes: Uint8Array,
  options: ReadCalibrationCacheOptions = {},
): Promise<CalibrationCache> {
  const text = await readText(path, 'calibration cache');
  return parseCalibrationCache(text, path, modelBytes, options);
}

/** Writes one shard's observer state atomically (see `writeCalibrationCache`). */
export async function writeCalibrationState(path: string, state: CalibrationState): Promise<void> {
  await writeAtomically(path, formatCalibrationState(state), 'calibration shard state');
}

/** Reads and validates one shard's observer state from `path`. */
export async function readCalibrationState(path: string): Promise<CalibrationState> {
  return parseCalibrationState(await readText(path, 'calibration shard state'), path);
}
