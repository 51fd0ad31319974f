import { Gunzip, gunzipSync } from 'fflate';
import { QgrainError } from '@qgrain/tensor';

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True when `bytes` starts with the gzip magic number (the extension may lie or be missing). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/** Decompresses a whole gzip file held in memory, naming `origin` if it is corrupt. */
export function gunzipBytes(bytes: Uint8Array, origin: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new QgrainError('io', `${origin} is not a valid gzip file: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Decompresses a stream of gzip chunks as they arrive, so a large .npy.gz is never held
 * decompressed in full. Throws a QgrainError naming `origin` on corrupt or truncated input.
 */
export async function* gunzipChunks(
  chunks: AsyncIterable<Uint8Array>,
  origin: string,
): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  let finished = false;
  const inflater = new Gunzip((data, final) => {
    if (data.length > 0) out.push(data);
    if (final) finished = true;
  });
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      inflater.push(chunk, final);
    } catch (error) {
      throw new QgrainError('io', `${origin} is not a valid gzip file: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  for await (const chunk of chunks) {
    push(chunk, false);
    const ready = out;
    out = [];
    yield* ready;
  }
  push(new Uint8Array(0), true);
  yield* out;
  if (!finished) throw new QgrainError('io', `${origin} is a truncated gzip file`);
}
