// The NumPy .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): a magic string, a
// version, a header length (2 bytes in 1.0, 4 bytes after), a Python dict literal describing
// dtype, order and shape, then the raw C-order elements.
import { type DType, QgrainError, Tensor, formatShape, shapeSize } from '@qgrain/tensor';
import { type DataSource, type Sample, UNNAMED_INPUT } from './data-source.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Bytes before the header text: magic, 2 version bytes, then a 2- or 4-byte length. */
const PREAMBLE_V1 = 10;
const PREAMBLE_V2 = 12;
/** numpy pads the preamble plus header to a multiple of 64 so the data is aligned for any dtype. */
const HEADER_ALIGNMENT = 64;

/** Element type code (kind + byte width, as in a numpy descr) -> qgrain dtype. */
const DESCR_TO_DTYPE: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  b1: 'bool',
};

const DTYPE_TO_DESCR = Object.fromEntries(Object.entries(DESCR_TO_DTYPE).map(([k, v]) => [v, k])) as Partial<
  Record<DType, string>
>;

/** The facts a .npy header states. */
export interface NpyHeader {
  readonly version: 1 | 2 | 3;
  readonly dtype: DType;
  /** Bytes per element. */
  readonly itemSize: number;
  readonly bigEndian: boolean;
  /** Full array shape; axis 0 is the sample axis. */
  readonly shape: readonly number[];
  /** Offset of the first element from the start of the file. */
  readonly dataOffset: number;
}

function corrupt(origin: string, what: string): QgrainError {
  return new QgrainError('io', `${origin} is not a valid .npy file: ${what}`);
}

/**
 * Parses the header at the start of `bytes`. Returns undefined when `bytes` is too short to
 * hold the whole header yet (streaming callers read more and retry); throws a one-line
 * QgrainError naming `origin` when the header is malformed or describes what qgrain cannot read.
 */
export function parseNpyHeader(bytes: Uint8Array, origin: string): NpyHeader | undefined {
  const checkable = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < checkable; i++) {
    if (bytes[i] !== MAGIC[i]) throw corrupt(origin, 'missing the \\x93NUMPY magic bytes');
  }
  if (bytes.length < PREAMBLE_V1) return undefined;
  const major = bytes[6]!;
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new QgrainError(
      'unsupported',
      `${origin}: .npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`,
    );
  }
  const preamble = major === 1 ? PREAMBLE_V1 : PREAMBLE_V2;
  if (bytes.length < preamble) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = preamble + headerLength;
  if (bytes.length < dataOffset) return undefined;
  // Version 3.0 only differs by allowing UTF-8 in the header (field names of structured dtypes).
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(preamble, dataOffset));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw corrupt(origin, `header ${JSON.stringify(text.trim())} lacks descr, fortran_order or shape`);
  }
  if (fortran === 'True') {
    throw new QgrainError(
      'unsupported',
      `${origin} is stored in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray(a) before numpy.save)`,
    );
  }
  const order = descr[0];
  const code = descr.slice(1);
  const dtype = DESCR_TO_DTYPE[code];
  if (!dtype || (order !== '<' && order !== '>' && order !== '|' && order !== '=')) {
    throw new QgrainError(
      'unsupported',
      `${origin} holds dtype '${descr}', which qgrain does not read; use float32, float16, float64, int64, int32, int16, int8, uint8, uint16, uint32 or bool`,
    );
  }
  const dims = shapeText
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  const shape = dims.map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw corrupt(origin, `bad shape (${shapeText})`);
  return {
    version: major,
    dtype,
    itemSize: Number(code.slice(1)),
    // '=' is the writer's native order; every platform numpy and JS run on in practice is little-endian.
    bigEndian: order === '>',
    shape,
    dataOffset,
  };
}

/** Reverses the bytes of every `itemSize`-byte element in place (big-endian -> little-endian). */
function swapBytes(bytes: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  for (let i = 0; i < bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Wraps raw little- or big-endian element bytes as a tensor. Little-endian bytes at an aligned
 * offset become a view (no copy); anything else is copied (and byte-swapped) into fresh memory.
 */
export function tensorFromBytes(
  dtype: DType,
  itemSize: number,
  shape: readonly number[],
  bytes: Uint8Array,
  bigEndian: boolean,
): Tensor {
  let source = bytes;
  if (bigEndian || bytes.byteOffset % itemSize !== 0) {
    source = bytes.slice();
    if (bigEndian) swapBytes(source, itemSize);
  }
  const n = shapeSize(shape);
  const { buffer, byteOffset } = source;
  switch (dtype) {
    case 'float32':
      return new Tensor(dtype, shape, new Float32Array(buffer, byteOffset, n));
    case 'float64':
      return new Tensor(dtype, shape, new Float64Array(buffer, byteOffset, n));
    case 'float16':
    case 'uint16':
      return new Tensor(dtype, shape, new Uint16Array(buffer, byteOffset, n));
    case 'int16':
      return new Tensor(dtype, shape, new Int16Array(buffer, byteOffset, n));
    case 'int32':
      return new Tensor(dtype, shape, new Int32Array(buffer, byteOffset, n));
    case 'uint32':
      return new Tensor(dtype, shape, new Uint32Array(buffer, byteOffset, n));
    case 'int64':
      return new Tensor(dtype, shape, new BigInt64Array(buffer, byteOffset, n));
    case 'int8':
      return new Tensor(dtype, shape, new Int8Array(buffer, byteOffset, n));
    case 'uint8':
    case 'bool':
      return new Tensor(dtype, shape, new Uint8Array(buffer, byteOffset, n));
    default:
      throw new QgrainError('unsupported', `cannot wrap bytes as a ${dtype} tensor`);
  }
}

/** A decoded .npy held in memory: samples along axis 0 are views into the file's bytes. */
export interface NpyArray {
  readonly header: NpyHeader;
  /** Number of samples (size of axis 0). */
  readonly count: number;
  /** Sample `index` as a tensor of shape [1, ...rest]. */
  sample(index: number): Tensor;
  /** The whole array as one tensor. */
  tensor(): Tensor;
}

function sampleBytesOf(header: NpyHeader): number {
  return shapeSize(header.shape.slice(1)) * header.itemSize;
}

function assertHasSampleAxis(header: NpyHeader, origin: string): void {
  if (header.shape.length === 0) {
    throw new QgrainError(
      'shape-mismatch',
      `${origin} holds a scalar; calibration data needs a sample axis (axis 0), e.g. shape [N, ...]`,
    );
  }
}

/** Decodes a whole .npy file held in memory (not gzip: see {@link gunzipBytes}). */
export function decodeNpy(bytes: Uint8Array, origin: string): NpyArray {
  const header = parseNpyHeader(bytes, origin);
  if (!header) throw corrupt(origin, `file ends inside the header (${bytes.length} bytes)`);
  assertHasSampleAxis(header, origin);
  const total = shapeSize(header.shape) * header.itemSize;
  const available = bytes.length - header.dataOffset;
  if (available !== total) {
    throw corrupt(
      origin,
      `${header.dtype} ${formatShape(header.shape)} needs ${total} data bytes, the file has ${available}`,
    );
  }
  const count = header.shape[0]!;
  const sampleBytes = sampleBytesOf(header);
  const sampleShape = [1, ...header.shape.slice(1)];
  return {
    header,
    count,
    sample(index) {
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new QgrainError('invalid-argument', `${origin}: sample ${index} is out of range [0, ${count})`);
      }
      const start = header.dataOffset + index * sampleBytes;
      return tensorFromBytes(
        header.dtype,
        header.itemSize,
        sampleShape,
        bytes.subarray(start, start + sampleBytes),
        header.bigEndian,
      );
    },
    tensor() {
      return tensorFromBytes(
        header.dtype,
        header.itemSize,
        header.shape,
        bytes.subarray(header.dataOffset),
        header.bigEndian,
      );
    },
  };
}

/**
 * Collects streamed chunks and hands out exactly-sized pieces, copying only what straddles
 * chunk boundaries. Holds at most one piece plus one chunk.
 */
class ChunkReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private ended = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /** Buffers until at least `n` bytes are available or the stream ends; returns what is buffered. */
  async peek(n: number): Promise<Uint8Array> {
    while (this.pendingBytes < n && !this.ended) {
      const step = await this.iterator.next();
      if (step.done) this.ended = true;
      else if (step.value.length > 0) {
        this.pending.push(step.value);
        this.pendingBytes += step.value.length;
      }
    }
    if (this.pending.length > 1) this.pending = [concatBytes(this.pending, this.pendingBytes)];
    return this.pending[0] ?? new Uint8Array(0);
  }

  /** Takes `n` bytes (fewer at the end of the stream) into memory of their own. */
  async take(n: number): Promise<Uint8Array> {
    const buffered = await this.peek(n);
    const piece = buffered.slice(0, n);
    const rest = buffered.subarray(piece.length);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return piece;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

function concatBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Reads the header through `reader`, asking for the whole header once its length is known. */
async function readHeaderFrom(reader: ChunkReader, origin: string): Promise<NpyHeader> {
  let wanted = PREAMBLE_V2;
  for (;;) {
    const buffered = await reader.peek(wanted);
    const header = parseNpyHeader(buffered, origin);
    if (header) {
      assertHasSampleAxis(header, origin);
      return header;
    }
    if (buffered.length < wanted)
      throw corrupt(origin, `file ends inside the header (${buffered.length} bytes)`);
    const view = new DataView(buffered.buffer, buffered.byteOffset, buffered.byteLength);
    wanted =
      buffered[6] === 1 ? PREAMBLE_V1 + view.getUint16(8, true) : PREAMBLE_V2 + view.getUint32(8, true);
  }
}

/** Reads just the header from a stream of .npy bytes, then stops reading. */
export async function readNpyHeader(chunks: AsyncIterable<Uint8Array>, origin: string): Promise<NpyHeader> {
  const reader = new ChunkReader(chunks);
  try {
    return await readHeaderFrom(reader, origin);
  } finally {
    await reader.close();
  }
}

/**
 * Yields the samples of a .npy byte stream one at a time, each [1, ...rest] in memory of its
 * own, so a file of any size is read with the memory of one sample plus one chunk.
 */
export async function* npySamplesFromChunks(
  chunks: AsyncIterable<Uint8Array>,
  origin: string,
): AsyncGenerator<Tensor> {
  const reader = new ChunkReader(chunks);
  try {
    const header = await readHeaderFrom(reader, origin);
    await reader.take(header.dataOffset);
    const sampleBytes = sampleBytesOf(header);
    const sampleShape = [1, ...header.shape.slice(1)];
    const count = header.shape[0]!;
    for (let i = 0; i < count; i++) {
      const bytes = await reader.take(sampleBytes);
      if (bytes.length < sampleBytes) {
        throw corrupt(
          origin,
          `data ends inside sample ${i} of ${count} (${header.dtype} ${formatShape(header.shape)})`,
        );
      }
      yield tensorFromBytes(header.dtype, header.itemSize, sampleShape, bytes, header.bigEndian);
    }
    const extra = await reader.peek(1);
    if (extra.length > 0)
      throw corrupt(origin, `unexpected bytes after the ${count} samples the header declares`);
  } finally {
    await reader.close();
  }
}

/** Options of {@link encodeNpy}. */
export interface EncodeNpyOptions {
  /** Byte order of the elements (default little-endian). */
  readonly bigEndian?: boolean;
  /** Format version (default 1; 2 and 3 use a 4-byte header length). */
  readonly version?: 1 | 2 | 3;
  /** Write the header as Fortran order (only useful to test that readers reject it). */
  readonly fortranOrder?: boolean;
}

/** Serialises a tensor as a .npy file (C order), the way numpy.save lays it out. */
export function encodeNpy(tensor: Tensor, options: EncodeNpyOptions = {}): Uint8Array {
  const { bigEndian = false, version = 1, fortranOrder = false } = options;
  const code = DTYPE_TO_DESCR[tensor.dtype];
  if (!code) throw new QgrainError('unsupported', `.npy has no ${tensor.dtype} type qgrain writes`);
  const itemSize = Number(code.slice(1));
  const order = itemSize === 1 ? '|' : bigEndian ? '>' : '<';
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let text = `{'descr': '${order}${code}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const preamble = version === 1 ? PREAMBLE_V1 : PREAMBLE_V2;
  const padding = HEADER_ALIGNMENT - ((preamble + text.length + 1) % HEADER_ALIGNMENT);
  text = `${text}${' '.repeat(padding % HEADER_ALIGNMENT)}\n`;
  const headerBytes = new TextEncoder().encode(text);
  const data = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).slice();
  if (bigEndian) swapBytes(data, itemSize);
  const out = new Uint8Array(preamble + headerBytes.length + data.length);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerBytes.length, true);
  else view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, preamble);
  out.set(data, preamble + headerBytes.length);
  return out;
}

/** Options shared by the .npy sources. */
export interface NpySourceOptions {
  /** Model input the array feeds (default: the model's only input). */
  readonly inputName?: string;
}

/** A source over a .npy already in memory; samples are views into `bytes`. */
export function npyBytesSource(
  bytes: Uint8Array,
  origin: string,
  options: NpySourceOptions = {},
): DataSource {
  const array = decodeNpy(bytes, origin);
  const name = options.inputName ?? UNNAMED_INPUT;
  async function* views(from: number): AsyncIterable<Sample> {
    for (let i = from; i < array.count; i++) yield { [name]: array.sample(i) } as Sample;
  }
  return {
    description: origin,
    inputs: [{ name, dtype: array.header.dtype, shape: array.header.shape, origin }],
    count: array.count,
    random: false,
    samples: () => views(0),
    samplesFrom: views,
  };
}

/**
 * A source over a .npy read as a stream, opened anew on each pass (`open` returns the
 * decompressed bytes: a file stream, a fetch body, gunzipped chunks). The header is read first
 * so the source knows its dtype, shape and count before any sample is read.
 */
export async function npyStreamSource(
  open: () => AsyncIterable<Uint8Array>,
  origin: string,
  options: NpySourceOptions = {},
): Promise<DataSource> {
  const header = await readNpyHeader(open(), origin);
  const name = options.inputName ?? UNNAMED_INPUT;
  return {
    description: origin,
    inputs: [{ name, dtype: header.dtype, shape: header.shape, origin }],
    count: header.shape[0],
    random: false,
    async *samples() {
      for await (const tensor of npySamplesFromChunks(open(), origin)) yield { [name]: tensor } as Sample;
    },
  };
}
