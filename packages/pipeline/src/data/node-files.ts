// File-system access for the readers, in Node only. node: modules are imported lazily inside
// the functions, so bundling @qgrain/pipeline for a browser never pulls them in; browsers use
// the byte-level readers (npyBytesSource, npyStreamSource, imageSource, ...) directly.
import { type DType, QgrainError } from '@qgrain/tensor';
import { type DataLocation, readerKindForPath } from './data-location.js';
import { type DataSource, type ModelInputSpec, zipSources } from './data-source.js';
import { gunzipBytes, gunzipChunks, isGzip } from './gzip.js';
import { imageSource } from './image-folder.js';
import { jsonSource } from './json-source.js';
import { npyStreamSource } from './npy.js';
import { npzBytesSource } from './npz.js';
import { type PreprocessSpec, parsePreprocessSpec } from './preprocess.js';
import { randomSource } from './random-source.js';

/** Read size for streamed files: large enough to amortise syscalls, small next to one sample. */
const READ_CHUNK_BYTES = 1 << 20;
/** Samples of `random:` data when no count is given. */
const DEFAULT_RANDOM_COUNT = 8;

/** Options of {@link openDataSource} and {@link openDataSources}. */
export interface OpenDataOptions {
  /** How image folders become tensors (object or its text form); required for folders. */
  readonly preprocess?: PreprocessSpec | string;
  /** Image name filter for folders (glob or prefix), e.g. `rec_*.png`. */
  readonly filter?: string;
  /** dtypes of JSON inputs (default float32). */
  readonly dtypes?: Readonly<Record<string, DType>>;
  /** The model's inputs: needed to shape `random:` data. */
  readonly modelInputs?: readonly ModelInputSpec[];
}

async function statOrThrow(path: string): Promise<{ isDirectory(): boolean }> {
  const { stat } = await import('node:fs/promises');
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const { resolve } = await import('node:path');
    throw new QgrainError(
      'io',
      code === 'ENOENT'
        ? `${path}: no such file or folder (looked at ${resolve(path)})`
        : `${path}: cannot read (${(error as Error).message})`,
      { cause: error, file: path },
    );
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw new QgrainError('io', `${path}: cannot read (${(error as Error).message})`, {
      cause: error,
      file: path,
    });
  }
}

/** Streams a file's bytes in chunks (Node Buffers are Uint8Arrays). */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const { createReadStream } = await import('node:fs');
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } catch (error) {
    throw new QgrainError('io', `${path}: cannot read (${(error as Error).message})`, {
      cause: error,
      file: path,
    });
  } finally {
    stream.destroy();
  }
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(2);
    await handle.read(head, 0, 2, 0);
    return isGzip(head);
  } finally {
    await handle.close();
  }
}

/**
 * Opens one data location (a plain path, or a {@link DataLocation}) as a source: a .npy or .npy.gz
 * streamed sample by sample, an .npz, a JSON file, a folder of images, or seeded random data.
 * Errors name the path.
 */
export async function openDataSource(
  location: DataLocation | string,
  options: OpenDataOptions = {},
): Promise<DataSource> {
  const arg: DataLocation = typeof location === 'string' ? { path: location } : location;
  const named = arg.inputName !== undefined ? { inputName: arg.inputName } : {};
  if (arg.random) {
    const all = options.modelInputs;
    if (!all)
      throw new QgrainError(
        'invalid-argument',
        'random data needs the model inputs to know shapes and dtypes; give modelInputs',
        { option: 'modelInputs' },
      );
    const inputs = arg.inputName ? all.filter((m) => m.name === arg.inputName) : all;
    if (inputs.length === 0)
      throw new QgrainError(
        'invalid-argument',
        `random data for '${arg.inputName}': the model has no such input (it has ${all.map((m) => m.name).join(', ')})`,
        { tensor: arg.inputName!, option: 'data' },
      );
    const { shape, low, high, dims } = arg.random;
    if (shape && inputs.length !== 1)
      throw new QgrainError(
        'invalid-argument',
        `a random shape names no input, and the model has ${inputs.length} (${inputs.map((m) => m.name).join(', ')}); say which input it is for`,
        { option: 'random.shape' },
      );
    return randomSource({
      inputs,
      count: arg.random.count ?? DEFAULT_RANDOM_COUNT,
      seed: arg.random.seed,
      ...(dims ? { dims } : {}),
      ...(low !== undefined ? { low } : {}),
      ...(high !== undefined ? { high } : {}),
      ...(shape ? { shapes: { [inputs[0]!.name]: shape } } : {}),
    });
  }
  const path = arg.path;
  if (path === undefined || path === '')
    throw new QgrainError('invalid-argument', 'a data location needs a path or random data', {
      option: 'data',
    });
  const stats = await statOrThrow(path);
  const kind = readerKindForPath(path, stats.isDirectory());
  switch (kind) {
    case 'npy':
    case 'npy.gz': {
      // Trust the bytes over the name: a gzip file named .npy still reads.
      const gzip = await startsWithGzipMagic(path);
      const open = gzip ? () => gunzipChunks(fileChunks(path), path) : () => fileChunks(path);
      return npyStreamSource(open, path, named);
    }
    case 'npz':
      return npzBytesSource(await readBytes(path), path, named);
    case 'json': {
      let bytes = await readBytes(path);
      if (isGzip(bytes)) bytes = gunzipBytes(bytes, path);
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(bytes));
      } catch (error) {
        throw new QgrainError('io', `${path} is not valid JSON: ${(error as Error).message}`, {
          cause: error,
        });
      }
      return jsonSource(value, {
        ...named,
        origin: path,
        ...(options.dtypes ? { dtypes: options.dtypes } : {}),
      });
    }
    case 'images': {
      if (options.preprocess === undefined) {
        throw new QgrainError(
          'invalid-argument',
          `${path} is an image folder: say how to preprocess it, e.g. preprocess "size=224x224,mean=imagenet,std=imagenet"`,
          { file: path, option: 'preprocess' },
        );
      }
      const preprocess =
        typeof options.preprocess === 'string' ? parsePreprocessSpec(options.preprocess) : options.preprocess;
      const { readdir } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const names = await readdir(path);
      return imageSource(
        names.map((name) => ({ name, read: () => readBytes(join(path, name)) })),
        {
          preprocess,
          origin: path,
          ...named,
          ...(options.filter !== undefined ? { filter: options.filter } : {}),
        },
      );
    }
    default:
      throw new QgrainError('internal', `no reader for ${kind}`);
  }
}

/** Opens every data location and combines them into one source (see zipSources). */
export async function openDataSources(
  locations: readonly (DataLocation | string)[],
  options: OpenDataOptions = {},
): Promise<DataSource> {
  const sources: DataSource[] = [];
  for (const location of locations) sources.push(await openDataSource(location, options));
  return zipSources(sources);
}
