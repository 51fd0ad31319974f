import { type DType, QgrainError, Tensor, allocate, formatShape, shapeSize } from '@qgrain/tensor';

/**
 * The key a reader uses for its one array when the user did not name the model input it feeds
 * (a bare `calib.npy`); binding to a model's only input replaces it with the real name.
 */
export const UNNAMED_INPUT = '';

/** One calibration sample (or batch): model input name -> tensor whose axis 0 is the sample axis. */
export type Sample = Record<string, Tensor>;

/** What a source knows about one of its arrays before reading it. */
export interface SourceInput {
  /** Model input this array feeds; {@link UNNAMED_INPUT} when the user did not say. */
  readonly name: string;
  readonly dtype: DType;
  /** Whole-dataset shape: axis 0 counts samples (null when unknown), the rest is one sample's shape. */
  readonly shape: readonly (number | null)[];
  /** Where the array comes from (file, folder, 'random'), for error messages. */
  readonly origin: string;
  /** Extra words for error messages, e.g. the preprocessing spec that fixed an image size. */
  readonly note?: string;
}

/**
 * A stream of calibration samples. Each yielded tensor keeps the sample axis (size 1 per
 * sample, B per batch) so it can be fed to a model whose axis 0 is the batch. Iterating twice
 * reads the data twice; nothing is cached, so memory does not grow with the dataset.
 */
export interface DataSource {
  /** Human-readable origin, e.g. `calib.npy` or `images/ (rec_*.png)`. */
  readonly description: string;
  /** The arrays every sample holds. */
  readonly inputs: readonly SourceInput[];
  /** Number of samples (not batches) when known up front. */
  readonly count: number | undefined;
  /**
   * Samples per yielded item when the source batches them (`batchSource`, `bindDataSource`);
   * absent means one. With `count` it gives the number of batches before any is read.
   */
  readonly batchSize?: number;
  /** True for synthetic data: reports must warn that ranges were not calibrated on real inputs. */
  readonly random: boolean;
  /** Yields the samples in a fixed order. */
  samples(): AsyncIterable<Sample>;
  /**
   * Yields the samples from index `from` on, in the same order, without reading or decoding the
   * ones before where the format allows (an image folder skips files, an in-memory array
   * indexes). Optional: `readSamplesFrom` reads and drops the first samples of a source without it.
   */
  samplesFrom?(from: number): AsyncIterable<Sample>;
}

/** The samples of `source` from index `from` on: through `samplesFrom` when the source has it. */
export async function* readSamplesFrom(source: DataSource, from: number): AsyncIterable<Sample> {
  if (from > 0 && source.samplesFrom) {
    yield* source.samplesFrom(from);
    return;
  }
  let index = 0;
  for await (const sample of source.samples()) if (index++ >= from) yield sample;
}

/** A model input as the checker needs it; string or null dims are symbolic and match anything. */
export interface ModelInputSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly (number | string | null)[];
}

/** Options of {@link bindDataSource}. */
export interface BindOptions {
  /**
   * Samples per batch when the model's batch dim is symbolic (default 1). When the model fixes
   * it, batches have exactly that size and a different batchSize is an error.
   */
  readonly batchSize?: number;
}

function formatDims(shape: readonly (number | string | null)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : '?')).join(', ')}]`;
}

function describeInput(input: SourceInput): string {
  return `${input.dtype} ${formatDims(input.shape)} from ${input.origin}${input.note ? ` (${input.note})` : ''}`;
}

function dimsMatch(given: number | null, expected: number | string | null): boolean {
  return typeof expected !== 'number' || given === null || given === expected;
}

/**
 * How samples feed a model input. 'batched': the source has the model's rank, its sample axis
 * is the model's axis 0 (the batch axis), and batches concatenate samples along it. 'whole': the
 * source has one axis more, and each sample is the whole input tensor (a scalar like a sample
 * rate, a recurrent state [2, batch, 128], or an input whose batch axis a sample already carries).
 */
export type SampleLayout = 'batched' | 'whole';

/**
 * Throws a one-line QgrainError ('shape-mismatch' or 'dtype-mismatch') naming the input, the
 * expected and the given dtype/shape and the file, unless `input` can feed `model`; returns how
 * (see {@link SampleLayout}). Axis 0 of the source is always the sample axis.
 */
export function checkSourceInput(input: SourceInput, model: ModelInputSpec): SampleLayout {
  const head = `input '${model.name}': expected ${model.dtype} ${formatDims(model.shape)}, got ${describeInput(input)}`;
  if (input.dtype !== model.dtype) {
    throw new QgrainError(
      'dtype-mismatch',
      `${head}; convert the data to ${model.dtype} (for NumPy: .astype('${model.dtype}'))`,
    );
  }
  if (input.shape.length === model.shape.length + 1) {
    for (let axis = 0; axis < model.shape.length; axis++) {
      if (!dimsMatch(input.shape[axis + 1]!, model.shape[axis]!)) {
        throw new QgrainError(
          'shape-mismatch',
          `${head}; each sample is fed whole (the data has one axis more than the input), and sample axis ${axis} differs`,
        );
      }
    }
    return 'whole';
  }
  if (input.shape.length !== model.shape.length) {
    const hint =
      input.shape.length === model.shape.length - 1
        ? ' (sample axis is axis 0: is the sample axis missing?)'
        : '';
    throw new QgrainError('shape-mismatch', `${head}${hint}`);
  }
  for (let axis = 1; axis < model.shape.length; axis++) {
    if (!dimsMatch(input.shape[axis]!, model.shape[axis]!)) {
      throw new QgrainError('shape-mismatch', `${head}; axis ${axis} differs`);
    }
  }
  return 'batched';
}

/** The batch size a model input allows: its fixed axis-0 size, or `requested` when symbolic. */
function batchSizeFor(model: ModelInputSpec, requested: number | undefined): number {
  const fixed = model.shape[0];
  if (typeof fixed === 'number') {
    if (requested !== undefined && requested !== fixed) {
      throw new QgrainError(
        'invalid-argument',
        `input '${model.name}' has a fixed batch size of ${fixed}; batchSize ${requested} cannot feed it (omit batchSize or use ${fixed})`,
      );
    }
    return fixed;
  }
  return requested ?? 1;
}

/**
 * Checks `source` against the model inputs (see {@link checkSourceInput}), gives an unnamed
 * array the name of the model's only input, and returns a source that yields batches keyed by
 * model input names. Throws when a model input has no data or the source feeds an unknown input.
 */
export function bindDataSource(
  source: DataSource,
  modelInputs: readonly ModelInputSpec[],
  options: BindOptions = {},
): DataSource {
  if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1)) {
    throw new QgrainError(
      'invalid-argument',
      `batchSize must be a positive integer, got ${options.batchSize}`,
    );
  }
  const renames = new Map<string, string>();
  for (const input of source.inputs) {
    let name = input.name;
    if (name === UNNAMED_INPUT) {
      if (modelInputs.length !== 1) {
        throw new QgrainError(
          'invalid-argument',
          `${input.origin} does not say which input it feeds and the model has ${modelInputs.length} inputs (${modelInputs.map((m) => m.name).join(', ')}); name the input it feeds`,
          { file: input.origin, option: 'data' },
        );
      }
      name = modelInputs[0]!.name;
    }
    renames.set(input.name, name);
  }
  const bound: SourceInput[] = source.inputs.map((input) => ({ ...input, name: renames.get(input.name)! }));
  let batchSize: number | undefined;
  const whole = new Set<string>();
  for (const model of modelInputs) {
    const input = bound.find((i) => i.name === model.name);
    if (!input) {
      throw new QgrainError(
        'invalid-argument',
        `input '${model.name}' has no calibration data in ${source.description}; add data for it`,
        { tensor: model.name, option: 'data' },
      );
    }
    if (checkSourceInput(input, model) === 'whole') {
      whole.add(model.name);
      continue;
    }
    const size = batchSizeFor(model, options.batchSize);
    if (batchSize !== undefined && size !== batchSize) {
      throw new QgrainError(
        'invalid-argument',
        `model inputs disagree on the batch size (${batchSize} vs ${size} for '${model.name}')`,
      );
    }
    batchSize = size;
  }
  for (const input of bound) {
    if (!modelInputs.some((m) => m.name === input.name)) {
      throw new QgrainError(
        'invalid-argument',
        `${input.origin} feeds input '${input.name}', which the model does not have (inputs: ${modelInputs.map((m) => m.name).join(', ')})`,
      );
    }
  }
  const size = batchSize ?? options.batchSize ?? 1;
  if (whole.size > 0 && size > 1) {
    const name = [...whole][0]!;
    const model = modelInputs.find((m) => m.name === name)!;
    throw new QgrainError(
      'invalid-argument',
      `input '${name}' ${formatDims(model.shape)} is fed whole, one tensor per sample, so samples cannot be batched ${size} at a time; use batch size 1`,
    );
  }
  async function* rename(from: number): AsyncIterable<Sample> {
    for await (const sample of readSamplesFrom(source, from)) {
      const out: Sample = {};
      for (const [key, tensor] of Object.entries(sample)) {
        const name = renames.get(key) ?? key;
        // A whole input's sample is [1, ...input shape]: drop the sample axis.
        out[name] = whole.has(name) ? new Tensor(tensor.dtype, tensor.shape.slice(1), tensor.data) : tensor;
      }
      yield out;
    }
  }
  const renamed: DataSource = {
    description: source.description,
    inputs: bound,
    count: source.count,
    random: source.random,
    samples: () => rename(0),
    samplesFrom: rename,
  };
  return batchSource(renamed, size);
}

/** Concatenates tensors of one dtype along axis 0; the other axes must agree. */
export function concatSamples(tensors: readonly Tensor[], what = 'samples'): Tensor {
  const first = tensors[0];
  if (!first) throw new QgrainError('invalid-argument', `cannot concatenate zero ${what}`);
  if (tensors.length === 1) return first;
  const rest = first.shape.slice(1);
  let rows = 0;
  for (const t of tensors) {
    if (
      t.dtype !== first.dtype ||
      t.shape.length !== first.shape.length ||
      t.shape.slice(1).some((d, i) => d !== rest[i])
    ) {
      throw new QgrainError(
        'shape-mismatch',
        `${what} differ in dtype or shape (${first.dtype} ${formatShape(first.shape)} vs ${t.dtype} ${formatShape(t.shape)}); batching needs equal sample shapes (use batchSize 1, or a preprocessing spec with a fixed size)`,
      );
    }
    rows += t.shape[0]!;
  }
  const shape = [rows, ...rest];
  const data = allocate(first.dtype, shapeSize(shape));
  let offset = 0;
  for (const t of tensors) {
    // biome-ignore lint/suspicious/noExplicitAny: every typed array of one dtype accepts its own kind
    (data as any).set(t.data, offset);
    offset += t.data.length;
  }
  return new Tensor(first.dtype, shape, data);
}

/**
 * Groups `batchSize` consecutive samples into one by concatenating each input along axis 0.
 * The last batch may be smaller when the count does not divide evenly.
 */
export function batchSource(source: DataSource, batchSize: number): DataSource {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new QgrainError('invalid-argument', `batchSize must be a positive integer, got ${batchSize}`);
  }
  if (batchSize === 1) return source;
  // Batch k starts at sample k * batchSize.
  async function* batches(from: number): AsyncIterable<Sample> {
    let pending: Sample[] = [];
    const flush = (): Sample => {
      const out: Sample = {};
      for (const name of Object.keys(pending[0]!)) {
        out[name] = concatSamples(
          pending.map((s) => s[name]!),
          `samples of input '${name}' from ${source.description}`,
        );
      }
      pending = [];
      return out;
    };
    for await (const sample of readSamplesFrom(source, from * batchSize)) {
      pending.push(sample);
      if (pending.length === batchSize) yield flush();
    }
    if (pending.length > 0) yield flush();
  }
  return {
    description: source.description,
    inputs: source.inputs,
    count: source.count,
    batchSize,
    random: source.random,
    samples: () => batches(0),
    samplesFrom: batches,
  };
}

/**
 * Combines sources that each feed other inputs (one file for input `a`, another for `b`) into one whose
 * samples hold every input. Their sample counts must agree when known.
 */
export function zipSources(sources: readonly DataSource[]): DataSource {
  if (sources.length === 0) throw new QgrainError('invalid-argument', 'no calibration data given');
  if (sources.length === 1) return sources[0]!;
  const seen = new Map<string, string>();
  for (const source of sources) {
    for (const input of source.inputs) {
      const other = seen.get(input.name);
      if (other !== undefined) {
        const label = input.name === UNNAMED_INPUT ? 'an unnamed input' : `input '${input.name}'`;
        throw new QgrainError(
          'invalid-argument',
          `${label} is fed by both ${other} and ${input.origin}; name the input each one feeds`,
          {
            file: input.origin,
            option: 'data',
            ...(input.name === UNNAMED_INPUT ? {} : { tensor: input.name }),
          },
        );
      }
      seen.set(input.name, input.origin);
    }
  }
  const counts = sources.map((s) => s.count);
  const known = counts.filter((c): c is number => c !== undefined);
  if (known.some((c) => c !== known[0])) {
    throw new QgrainError(
      'shape-mismatch',
      `calibration sources hold different sample counts: ${sources.map((s) => `${s.description} ${s.count ?? '?'}`).join(', ')}`,
    );
  }
  async function* zipped(from: number): AsyncIterable<Sample> {
    const iterators = sources.map((s) => readSamplesFrom(s, from)[Symbol.asyncIterator]());
    try {
      for (;;) {
        const steps = await Promise.all(iterators.map((it) => it.next()));
        const done = steps.filter((s) => s.done).length;
        if (done === steps.length) return;
        if (done > 0) {
          throw new QgrainError(
            'shape-mismatch',
            `calibration sources ran out at different sample counts (${sources.map((s) => s.description).join(', ')})`,
          );
        }
        yield Object.assign({}, ...steps.map((s) => s.value as Sample)) as Sample;
      }
    } finally {
      await Promise.all(iterators.map((it) => it.return?.()));
    }
  }
  return {
    description: sources.map((s) => s.description).join(' + '),
    inputs: sources.flatMap((s) => s.inputs),
    count: known.length === sources.length ? known[0] : undefined,
    random: sources.some((s) => s.random),
    samples: () => zipped(0),
    samplesFrom: zipped,
  };
}
