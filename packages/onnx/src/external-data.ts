import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import type { ExternalDataInfo } from './tensor-proto.js';

/**
 * Reads the bytes of tensors stored outside the model file. The Node implementation reads files
 * beside the model; a browser host can supply its own (fetch, File System Access).
 */
export interface ExternalDataReader {
  /** Throws 'unsafe-path' or 'io' when `info` cannot be read safely; called for every external tensor at load. */
  check(info: ExternalDataInfo, tensorName: string): void;
  /** The bytes of one tensor. */
  read(info: ExternalDataInfo, tensorName: string): Uint8Array;
}

// One positioned read is capped well below Node's 2 GiB per-call limit; larger tensors are
// read in several calls into one buffer.
const MAX_READ_CHUNK = 1 << 30;

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
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
      throw unsafe(tensorName, location, `resolves to ${real}, outside ${realDir}`);
    }
    resolved.set(location, real);
    return real;
  };

  return {
    check(info, tensorName) {
      resolve(info.location, tensorName);
    },
    read(info, tensorName) {
      const path = resolve(info.location, tensorName);
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        const length = info.length ?? size - info.offset;
        if (info.offset + length > size) {
          throw new QgrainError(
            'invalid-model',
            `tensor '${tensorName}' wants bytes ${info.offset}..${info.offset + length} of '${info.location}', which has only ${size}; the data file is truncated or belongs to another model`,
          );
        }
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
