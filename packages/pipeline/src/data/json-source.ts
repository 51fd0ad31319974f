// Calibration samples written as JSON: `{ "<input>": [sample, ...] }` (one list per input) or
// `[sample, ...]` where a sample is a nested number array (one input) or `{ "<input>": array }`.
import {
  type DType,
  QgrainError,
  Tensor,
  allocate,
  float32ToFloat16Bits,
  formatShape,
  shapeSize,
} from '@qgrain/tensor';
import { type DataSource, type Sample, UNNAMED_INPUT } from './data-source.js';

/** Options of {@link jsonSource}. */
export interface JsonSourceOptions {
  /** dtype per input name (default float32 for every input). */
  readonly dtypes?: Readonly<Record<string, DType>>;
  /** Name for the single input of an array of plain samples (default: the model's only input). */
  readonly inputName?: string;
  /** Where the JSON comes from, for messages. */
  readonly origin?: string;
}

const JSON_DTYPES: readonly DType[] = [
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'bool',
];

function shapeOf(value: unknown, where: string): number[] {
  const shape: number[] = [];
  let cursor = value;
  while (Array.isArray(cursor)) {
    shape.push(cursor.length);
    cursor = cursor[0];
  }
  if (typeof cursor !== 'number' && typeof cursor !== 'boolean' && shape.every((d) => d > 0)) {
    throw new QgrainError('invalid-argument', `${where}: expected numbers, found ${JSON.stringify(cursor)}`);
  }
  return shape;
}

function flatten(value: unknown, shape: readonly number[], where: string): number[] {
  const out: number[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof node === 'boolean') out.push(node ? 1 : 0);
      else if (typeof node === 'number') out.push(node);
      else
        throw new QgrainError(
          'invalid-argument',
          `${where}: expected a number, found ${JSON.stringify(node)}`,
        );
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new QgrainError(
        'shape-mismatch',
        `${where}: ragged nested array; every row at depth ${depth} must have ${shape[depth]} entries`,
      );
    }
    for (const child of node) walk(child, depth + 1);
  };
  walk(value, 0);
  return out;
}

function toTensor(value: unknown, dtype: DType, where: string): Tensor {
  const sampleShape = shapeOf(value, where);
  const values = flatten(value, sampleShape, where);
  const data = allocate(dtype, shapeSize(sampleShape));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (dtype === 'int64') {
      if (!Number.isSafeInteger(v))
        throw new QgrainError('invalid-argument', `${where}: ${v} is not an integer for an int64 input`);
      (data as BigInt64Array)[i] = BigInt(v);
    } else if (dtype === 'float16') (data as Uint16Array)[i] = float32ToFloat16Bits(v);
    else (data as Float32Array)[i] = v;
  }
  // One sample gets its sample axis so batching concatenates along axis 0.
  return new Tensor(dtype, [1, ...sampleShape], data);
}

/**
 * A source over JSON calibration samples. Numbers become float32 unless `dtypes` says
 * otherwise. The whole value is already in memory, so samples are converted as they are read.
 */
export function jsonSource(value: unknown, options: JsonSourceOptions = {}): DataSource {
  const origin = options.origin ?? 'JSON data';
  const dtypeOf = (name: string): DType => {
    const dtype = options.dtypes?.[name] ?? 'float32';
    if (!JSON_DTYPES.includes(dtype))
      throw new QgrainError('unsupported', `${origin}: JSON cannot feed a ${dtype} input`);
    return dtype;
  };
  let columns: [string, unknown[]][];
  if (Array.isArray(value)) {
    const objects =
      value.length > 0 && typeof value[0] === 'object' && value[0] !== null && !Array.isArray(value[0]);
    if (objects) {
      const names = Object.keys(value[0] as object);
      columns = names.map((n) => [
        n,
        value.map((s, i) => {
          if (typeof s !== 'object' || s === null || !(n in s)) {
            throw new QgrainError('invalid-argument', `${origin}: sample ${i} has no input '${n}'`);
          }
          return (s as Record<string, unknown>)[n];
        }),
      ]);
    } else columns = [[options.inputName ?? UNNAMED_INPUT, value]];
  } else if (typeof value === 'object' && value !== null) {
    columns = Object.entries(value).map(([n, list]) => {
      if (!Array.isArray(list))
        throw new QgrainError('invalid-argument', `${origin}: '${n}' must be a list of samples`);
      return [n, list];
    });
  } else {
    throw new QgrainError('invalid-argument', `${origin}: expected { "<input>": [samples] } or [samples]`);
  }
  if (columns.length === 0) throw new QgrainError('invalid-argument', `${origin} holds no inputs`);
  const count = columns[0]![1].length;
  if (count === 0) throw new QgrainError('invalid-argument', `${origin} holds no samples`);
  const inputs = columns.map(([name, list]) => {
    if (list.length !== count) {
      throw new QgrainError(
        'shape-mismatch',
        `${origin}: inputs hold different sample counts (${columns.map(([n, l]) => `${n || 'samples'} ${l.length}`).join(', ')})`,
      );
    }
    const where = `${origin}${name ? ` input '${name}'` : ''}`;
    const first = shapeOf(list[0], `${where} sample 0`);
    const sampleShape: (number | null)[] = [...first];
    // Dims that vary between samples are unknown (null); batching will then need batchSize 1.
    for (let i = 1; i < list.length; i++) {
      const s = shapeOf(list[i], `${where} sample ${i}`);
      if (s.length !== first.length) {
        throw new QgrainError(
          'shape-mismatch',
          `${where}: sample ${i} has shape ${formatShape(s)}, sample 0 has ${formatShape(first)}`,
        );
      }
      s.forEach((d, axis) => {
        if (d !== sampleShape[axis]) sampleShape[axis] = null;
      });
    }
    return { name, dtype: dtypeOf(name), shape: [count, ...sampleShape], origin: where };
  });
  async function* converted(from: number): AsyncIterable<Sample> {
    for (let i = from; i < count; i++) {
      const sample: Sample = {};
      for (const [index, [name, list]] of columns.entries()) {
        sample[name] = toTensor(list[i], inputs[index]!.dtype, `${inputs[index]!.origin} sample ${i}`);
      }
      yield sample;
    }
  }
  return {
    description: origin,
    inputs,
    count,
    random: false,
    samples: () => converted(0),
    samplesFrom: converted,
  };
}
