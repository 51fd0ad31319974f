import {
  type Stats,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import type { ExternalDataInfo } from './tensor-proto.js';

/**
 * Reads the bytes of tensors stored outside the model file. The Node implementation reads files
 * beside the model; a browser host can supply its own (fetch, File System Access).
 */
export interface ExternalDataReader {
  /**
   * Throws 'unsafe-path', 'io' or 'invalid-model' when `info` cannot be read safely or its byte
   * range does not fit the data (`bytes`: what the tensor's type and dims need, when fixed);
   * called for every external tensor at load, before anything is read.
   */
  check(info: ExternalDataInfo, tensorName: string, bytes?: number): void;
  /** The bytes of one tensor. */
  read(info: ExternalDataInfo, tensorName: string): Uint8Array;
}

// One positioned read is capped well below Node's 2 GiB per-call limit; larger tensors are
// read in several calls into one buffer.
const MAX_READ_CHUNK = 1 << 30;

/** What a non-regular file is, for messages. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The byte range of a tensor in its data file, checked: the file is a regular file, the range
 * lies inside it, and it is as long as the tensor's type and dims need (`bytes`, when known).
 */
function byteRange(
  info: ExternalDataInfo,
  tensorName: string,
  path: string,
  stats: Stats,
  bytes?: number,
): { length: number } {
  if (!stats.isFile()) {
    throw new QgrainError(
      'io',
      `external data '${info.location}' of tensor '${tensorName}' is ${kindOf(stats)}, not a regular file; put the model's .data file there`,
      { file: path, tensor: tensorName },
    );
  }
  const size = stats.size;
  const length = info.length ?? size - info.offset;
  if (info.offset > size || info.offset + length > size) {
    throw new QgrainError(
      'invalid-model',
      `tensor '${tensorName}' wants bytes ${info.offset}..${info.offset + length} of '${info.location}', which has only ${size}; the data file is truncated or belongs to another model`,
      { file: path, tensor: tensorName, value: info.offset + length },
    );
  }
  if (bytes !== undefined && length !== bytes) {
    throw new QgrainError(
      'invalid-model',
      `tensor '${tensorName}' needs ${bytes} bytes but its range in '${info.location}' is ${length} bytes long; the data file belongs to another model or the model is corrupt`,
      { file: path, tensor: tensorName, value: length },
    );
  }
  return { length };
}

function unsafe(tensorName: string, location: string, why: string): QgrainError {
  return new QgrainError(
    'unsafe-path',
    `tensor '${tensorName}' has external data location '${location}', which ${why}; external data must be a file inside the model's folder`,
  );
}

/**
 * The external data next to a model file in `dir`. Locations are checked before anything is
 * read: absolute paths, '..' components and anything that resolves outside `dir` (through
 * symlinks too) are refused, since a model file must not make us read arbitrary files.
 * Bytes are read with positioned reads, so a data file larger than 2 GiB is never loaded whole.
 */
export function fileExternalData(dir: string): ExternalDataReader {
  let realDir: string | undefined;
  const resolved = new Map<string, string>();
  const statted = new Map<string, Stats>();

  const resolve = (location: string, tensorName: string): string => {
    const known = resolved.get(location);
    if (known) return known;
    if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\')) {
      throw unsafe(tensorName, location, 'is an absolute path');
    }
    if (location.split(/[\\/]/).includes('..'))
      throw unsafe(tensorName, location, "contains a '..' component");
    realDir ??= realpathSync(dir);
    let real: string;
    try {
      real = realpathSync(join(realDir, location));
    } catch (error) {
      throw new QgrainError(
        'io',
        `cannot open external data '${location}' of tensor '${tensorName}' in ${dir}: ${(error as Error).message}; keep the data file beside the model`,
        { cause: error },
      );
    }
    const rel = relative(realDir, real);
    if (rel === '') throw unsafe(tensorName, location, "names the model's folder itself, not a file in it");
    if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
      throw unsafe(tensorName, location, `resolves to ${real}, outside ${realDir}`);
    }
    resolved.set(location, real);
    return real;
  };

  return {
    check(info, tensorName, bytes) {
      const path = resolve(info.location, tensorName);
      let stats = statted.get(path);
      try {
        // stat, not open: opening a FIFO or a device for reading can block forever. Once per
        // file: a model may keep thousands of tensors in one data file.
        stats ??= statSync(path);
        statted.set(path, stats);
      } catch (error) {
        throw new QgrainError(
          'io',
          `cannot read external data '${info.location}' of tensor '${tensorName}': ${(error as Error).message}`,
          { file: path, tensor: tensorName, cause: error },
        );
      }
      byteRange(info, tensorName, path, stats, bytes);
    },
    read(info, tensorName) {
      const path = resolve(info.location, tensorName);
      // Non-blocking, so that a FIFO put in place of the data file after the check cannot hang
      // the open; the fstat below then refuses it.
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
      } catch (error) {
        throw new QgrainError(
          'io',
          `cannot open external data '${info.location}' of tensor '${tensorName}': ${(error as Error).message}`,
          { file: path, tensor: tensorName, cause: error },
        );
      }
      try {
        const { length } = byteRange(info, tensorName, path, fstatSync(fd));
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, Math.min(MAX_READ_CHUNK, length - done), info.offset + done);
          if (n === 0)
            throw new QgrainError(
              'io',
              `unexpected end of '${info.location}' reading tensor '${tensorName}'`,
            );
          done += n;
        }
        return out;
      } finally {
        closeSync(fd);
      }
    },
  };
}
