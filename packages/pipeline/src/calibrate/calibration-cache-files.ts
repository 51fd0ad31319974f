// Calibration caches on disk (Node only): atomic writes, and reads checked against the model.
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { QgrainError } from '@qgrain/tensor';
import {
  type CalibrationCache,
  type ReadCalibrationCacheOptions,
  formatCalibrationCache,
  parseCalibrationCache,
} from './calibration-cache.js';

/**
 * Writes a cache atomically: to a temporary file beside `path`, then renamed over it, so a
 * crash or a concurrent reader never sees half a file.
 */
export async function writeCalibrationCache(path: string, cache: CalibrationCache): Promise<void> {
  const text = formatCalibrationCache(cache);

  // Same folder as the target: rename is only atomic within one file system.
  const temporary = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    await writeFile(temporary, text, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new QgrainError(
      'io',
      `cannot write calibration cache ${path}: ${(error as Error).message}; check that the folder exists and is writable`,
      { cause: error },
    );
  }
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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new QgrainError('io', `cannot read calibration cache ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseCalibrationCache(text, path, modelBytes, options);
}
