// .npz is a zip archive of .npy files (numpy.savez stores them, numpy.savez_compressed deflates
// them); each member `<name>.npy` is one named array, and here one named model input.
import { type Unzipped, unzipSync, zipSync } from 'fflate';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import type { DataSource, Sample } from './data-source.js';
import { type NpyArray, decodeNpy, encodeNpy } from './npy.js';

/** zip's local file header signature "PK\x03\x04" (an empty archive starts with "PK\x05\x06"). */
const ZIP_MAGIC = [0x50, 0x4b];
const NPY_SUFFIX = '.npy';
/** Deflate level numpy.savez_compressed uses (zlib's default). */
const DEFLATE_LEVEL = 6;

/** Every array of an .npz archive, by member name without `.npy`. */
export function decodeNpz(bytes: Uint8Array, origin: string): Map<string, NpyArray> {
  if (bytes[0] !== ZIP_MAGIC[0] || bytes[1] !== ZIP_MAGIC[1]) {
    throw new QgrainError('io', `${origin} is not a valid .npz file: it is not a zip archive`);
  }
  let members: Unzipped;
  try {
    members = unzipSync(bytes);
  } catch (error) {
    throw new QgrainError('io', `${origin} is not a valid .npz file: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const arrays = new Map<string, NpyArray>();
  for (const [member, data] of Object.entries(members)) {
    if (member.endsWith('/')) continue; // a directory entry, not an array
    const name = member.endsWith(NPY_SUFFIX) ? member.slice(0, -NPY_SUFFIX.length) : member;
    arrays.set(name, decodeNpy(data, `${origin}:${member}`));
  }
  if (arrays.size === 0) throw new QgrainError('io', `${origin} holds no arrays`);
  return arrays;
}

/** Options of {@link npzBytesSource}. */
export interface NpzSourceOptions {
  /** Input name for an archive of exactly one array (a location that names input `x`); member names otherwise. */
  readonly inputName?: string;
}

/**
 * A source over an .npz in memory: each member feeds the model input of its name, and all must
 * hold the same number of samples. Members are decompressed once; samples are views into them.
 */
export function npzBytesSource(
  bytes: Uint8Array,
  origin: string,
  options: NpzSourceOptions = {},
): DataSource {
  const arrays = decodeNpz(bytes, origin);
  if (options.inputName !== undefined) {
    if (arrays.size !== 1) {
      throw new QgrainError(
        'invalid-argument',
        `${origin} holds ${arrays.size} arrays (${[...arrays.keys()].join(', ')}), so their member names name the inputs; drop '${options.inputName}='`,
      );
    }
    const only = [...arrays.values()][0]!;
    arrays.clear();
    arrays.set(options.inputName, only);
  }
  const entries = [...arrays];
  const count = entries[0]![1].count;
  for (const [name, array] of entries) {
    if (array.count !== count) {
      throw new QgrainError(
        'shape-mismatch',
        `${origin}: arrays hold different sample counts (axis 0): ${entries.map(([n, a]) => `${n} ${a.count}`).join(', ')}; '${name}' differs`,
      );
    }
  }
  async function* views(from: number): AsyncIterable<Sample> {
    for (let i = from; i < count; i++) {
      const sample: Sample = {};
      for (const [name, array] of entries) sample[name] = array.sample(i);
      yield sample;
    }
  }
  return {
    description: origin,
    inputs: entries.map(([name, array]) => ({
      name,
      dtype: array.header.dtype,
      shape: array.header.shape,
      origin: `${origin}:${name}.npy`,
    })),
    count,
    random: false,
    samples: () => views(0),
    samplesFrom: views,
  };
}

/** Writes named tensors as an .npz (stored like numpy.savez, or deflated like savez_compressed). */
export function encodeNpz(arrays: Record<string, Tensor>, options: { compress?: boolean } = {}): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const [name, tensor] of Object.entries(arrays)) members[`${name}${NPY_SUFFIX}`] = encodeNpy(tensor);
  return zipSync(members, { level: options.compress ? DEFLATE_LEVEL : 0 });
}
