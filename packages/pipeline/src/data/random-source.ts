// Synthetic inputs, for smoke tests only: ranges calibrated on noise say little about real data,
// so this source is never a default and carries `random: true` for reports to warn about.
import {
  type DType,
  QgrainError,
  Tensor,
  allocate,
  dtypeInfo,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  shapeSize,
} from '@qgrain/tensor';
import type { DataSource, ModelInputSpec, Sample } from './data-source.js';

/** Options of {@link randomSource}. */
export interface RandomSourceOptions {
  /** The model inputs to generate. */
  readonly inputs: readonly ModelInputSpec[];
  /** Number of samples. */
  readonly count: number;
  /** Seed; the same seed gives the same samples on every machine. */
  readonly seed: number;
  /**
   * Sizes for symbolic dims by name (e.g. { sequence: 128 }); named dims left out become 1 (a
   * batch axis, typically). A dynamic dim without a name has nothing to be sized by: its input
   * needs a shape in `shapes`, or generating fails.
   */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * Whole shapes by input name, as the model sees one sample (batch axis included, 1): they
   * replace the declared dims, and must keep their rank and fixed sizes.
   */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /**
   * Float values are uniform in [low, high) (default [0, 1)); integers in [low, high] clipped to
   * the dtype; low = high gives that one value (a sample rate, a zero state).
   */
  readonly low?: number;
  readonly high?: number;
}

/** mulberry32: tiny, fast and identical on every JS engine, which is all a seeded fill needs. */
function nextUniform(state: { s: number }): number {
  state.s = (state.s + 0x6d2b79f5) >>> 0;
  let t = state.s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * Seeded random samples shaped like the model's inputs. An input whose axis 0 is symbolic (a
 * batch axis) gets samples of batch 1; any other input (a scalar, a fixed leading axis like a
 * recurrent state's [2, batch, 128]) is generated whole per sample (see SampleLayout).
 */
export function randomSource(options: RandomSourceOptions): DataSource {
  const { count, seed } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new QgrainError('invalid-argument', `random: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(seed))
    throw new QgrainError('invalid-argument', `random: seed must be an integer, got ${seed}`);
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!(high >= low))
    throw new QgrainError(
      'invalid-argument',
      `random: the range ${low}..${high} is empty; give low <= high`,
      {
        value: `${low}..${high}`,
        option: 'random.range',
      },
    );
  for (const name of Object.keys(options.shapes ?? {})) {
    if (!options.inputs.some((i) => i.name === name))
      throw new QgrainError(
        'invalid-argument',
        `random: a shape is given for '${name}', which is not an input (inputs: ${options.inputs.map((i) => i.name).join(', ')})`,
        { tensor: name, option: 'random.shape' },
      );
  }
  const batched = options.inputs.map((input) => input.shape.length > 0 && typeof input.shape[0] !== 'number');
  // Per-sample shapes, sample axis first: [1, ...rest] for batched inputs, [1, ...shape] for whole ones.
  const shapes = options.inputs.map((input, i) => {
    const given = options.shapes?.[input.name];
    const dims = given
      ? checkedShape(input, given, batched[i]!)
      : input.shape.map((d, axis) => sizeOf(input, d, axis, batched[i]!, options.dims));
    return batched[i] ? [1, ...dims.slice(1)] : [1, ...dims];
  });
  for (const input of options.inputs) {
    if (input.dtype === 'int4' || input.dtype === 'uint4') {
      throw new QgrainError(
        'unsupported',
        `random: cannot generate packed ${input.dtype} input '${input.name}'`,
      );
    }
  }
  const range = low === 0 && high === 1 ? '' : `, values ${low}..${high}`;
  const origin = `random (seed ${seed}${range})`;
  return {
    description: origin,
    inputs: options.inputs.map((input, i) => ({
      name: input.name,
      dtype: input.dtype,
      shape: [count, ...shapes[i]!.slice(1)],
      origin,
    })),
    count,
    random: true,
    async *samples() {
      const state = { s: seed >>> 0 };
      for (let n = 0; n < count; n++) {
        const sample: Sample = {};
        options.inputs.forEach((input, i) => {
          sample[input.name] = fill(input.dtype, shapes[i]!, state, low, high);
        });
        yield sample;
      }
    },
  };
}

/** A formatted input shape, `?` for a dim without a name or size. */
function shapeText(shape: ModelInputSpec['shape']): string {
  return `[${shape.map((d) => d ?? '?').join(', ')}]`;
}

/** The size of one declared dim: fixed, sized by name, 1 for a named one left out; unnamed ones must be given. */
function sizeOf(
  input: ModelInputSpec,
  dim: number | string | null,
  axis: number,
  batched: boolean,
  named: Readonly<Record<string, number>> | undefined,
): number {
  if (typeof dim === 'number') return dim;
  if (dim !== null) return named?.[dim] ?? 1;
  // The batch axis of a batched input is the sample axis: samples always have 1 there.
  if (batched && axis === 0) return 1;
  throw new QgrainError(
    'missing-data',
    `random: input '${input.name}' ${shapeText(input.shape)} has a dynamic dim without a name at axis ${axis}, so nothing says how large to make it; give the input's whole shape`,
    { tensor: input.name, value: axis, option: 'random.shape' },
  );
}

/** A given shape checked against the input's declaration: same rank, same fixed dims, batch 1. */
function checkedShape(input: ModelInputSpec, given: readonly number[], batched: boolean): number[] {
  const bad = (why: string) =>
    new QgrainError(
      'shape-mismatch',
      `random: shape [${given.join(', ')}] does not fit input '${input.name}' ${shapeText(input.shape)}: ${why}`,
      { tensor: input.name, value: `[${given.join(', ')}]`, option: 'random.shape' },
    );
  if (given.length !== input.shape.length)
    throw bad(`rank ${given.length}, the input has ${input.shape.length}`);
  given.forEach((d, axis) => {
    if (!Number.isInteger(d) || d < 1) throw bad(`axis ${axis} is ${d}; sizes are positive integers`);
    const declared = input.shape[axis];
    if (typeof declared === 'number' && declared !== d) throw bad(`axis ${axis} is fixed at ${declared}`);
  });
  if (batched && given[0] !== 1)
    throw bad(
      'axis 0 is the batch axis, which random samples fill one at a time (set the sample count instead)',
    );
  return [...given];
}

function fill(
  dtype: DType,
  shape: readonly number[],
  state: { s: number },
  low: number,
  high: number,
): Tensor {
  const size = shapeSize(shape);
  const data = allocate(dtype, size);
  const info = dtypeInfo(dtype);
  for (let i = 0; i < size; i++) {
    const u = nextUniform(state);
    if (info.isFloat) {
      const v = low + (high - low) * u;
      if (dtype === 'float16') (data as Uint16Array)[i] = float32ToFloat16Bits(v);
      else if (dtype === 'bfloat16') (data as Uint16Array)[i] = float32ToBfloat16Bits(v);
      else (data as Float32Array)[i] = v;
    } else {
      const lo = Math.max(Math.ceil(low), info.min ?? Number.MIN_SAFE_INTEGER);
      const hi = Math.min(Math.floor(high), info.max ?? Number.MAX_SAFE_INTEGER);
      const v = lo + Math.floor(u * (hi - lo + 1));
      if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(v);
      else (data as Uint8Array)[i] = v;
    }
  }
  return new Tensor(dtype, shape, data);
}
