import { QgrainError, Tensor } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { readerKindForPath } from './data-location.js';
import type { FeedSource } from '../calibrate/calibrate.js';
import { splitData } from './holdout.js';
import {
  type DataSource,
  type Sample,
  bindDataSource,
  checkSourceInput,
  readSamplesFrom,
  zipSources,
} from './data-source.js';
import { jsonSource } from './json-source.js';
import { encodeNpy, npyBytesSource } from './npy.js';
import { randomSource } from './random-source.js';

async function collect(source: DataSource): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of source.samples()) out.push(s);
  return out;
}

function npy(shape: number[], dtype: 'float32' | 'float64' = 'float32'): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const data =
    dtype === 'float32'
      ? Float32Array.from({ length: size }, (_, i) => i)
      : Float64Array.from({ length: size }, (_, i) => i);
  return encodeNpy(new Tensor(dtype, shape, data));
}

const REC_INPUT = { name: 'x', dtype: 'float32', shape: [null, 3, 48, 320] } as const;

function errorOf(fn: () => unknown): QgrainError {
  try {
    fn();
  } catch (error) {
    if (QgrainError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a QgrainError');
}

/** What `run` throws (undefined when it does not), to read a typed error's fields. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('checking a source against model inputs', () => {
  it('a missing sample axis names the input, both shapes, the file and the likely cause', () => {
    const source = npyBytesSource(npy([3, 48, 300]), 'calib.npy');
    const error = errorOf(() => checkSourceInput(source.inputs[0]!, REC_INPUT));
    expect(error.code).toBe('shape-mismatch');
    expect(error.message).toBe(
      "input 'x': expected float32 [?, 3, 48, 320], got float32 [3, 48, 300] from calib.npy (sample axis is axis 0: is the sample axis missing?)",
    );
  });

  it('a wrong dim names the axis; symbolic dims match anything', () => {
    const source = npyBytesSource(npy([2, 3, 48, 300]), 'calib.npy');
    expect(errorOf(() => checkSourceInput(source.inputs[0]!, REC_INPUT)).message).toMatch(
      /got float32 \[2, 3, 48, 300\] from calib\.npy; axis 3 differs$/,
    );
    expect(() =>
      checkSourceInput(source.inputs[0]!, { name: 'x', dtype: 'float32', shape: ['n', 3, 48, 'w'] }),
    ).not.toThrow();
  });

  it('a wrong dtype is a dtype-mismatch with a fix', () => {
    const source = npyBytesSource(npy([2, 3, 48, 320], 'float64'), 'calib64.npy');
    const error = errorOf(() => checkSourceInput(source.inputs[0]!, REC_INPUT));
    expect(error.code).toBe('dtype-mismatch');
    expect(error.message).toMatch(
      /^input 'x': expected float32 \[\?, 3, 48, 320\], got float64 \[2, 3, 48, 320\] from calib64\.npy; convert .*astype\('float32'\)/,
    );
  });
});

describe('binding and batching', () => {
  it('names an unnamed array after the only model input and concatenates batches along axis 0', async () => {
    const source = npyBytesSource(npy([5, 2]), 'five.npy');
    const bound = bindDataSource(source, [{ name: 'in', dtype: 'float32', shape: ['batch', 2] }], {
      batchSize: 2,
    });
    const batches = await collect(bound);
    expect(batches.map((b) => b['in']!.shape)).toEqual([
      [2, 2],
      [2, 2],
      [1, 2],
    ]);
    expect([...batches[1]!['in']!.data]).toEqual([4, 5, 6, 7]);
    expect(bound.count).toBe(5);
  });

  it('a fixed batch dim sets the batch size and refuses another', async () => {
    const source = npyBytesSource(npy([4, 2]), 'four.npy');
    const model = [{ name: 'in', dtype: 'float32', shape: [2, 2] }] as const;
    expect((await collect(bindDataSource(source, model))).map((b) => b['in']!.shape[0])).toEqual([2, 2]);
    expect(() => bindDataSource(source, model, { batchSize: 3 })).toThrow(/fixed batch size of 2/);
  });

  it('an unnamed array cannot feed a model with several inputs; a missing input is named', () => {
    const source = npyBytesSource(npy([4, 2]), 'four.npy');
    const inputs = [
      { name: 'a', dtype: 'float32', shape: [null, 2] },
      { name: 'b', dtype: 'float32', shape: [null, 2] },
    ] as const;
    expect(() => bindDataSource(source, inputs)).toThrow(
      /four\.npy does not say which input it feeds and the model has 2 inputs \(a, b\); name the input it feeds/,
    );
    expect(thrown(() => bindDataSource(source, inputs))).toMatchObject({ file: 'four.npy', option: 'data' });
    const onlyA = npyBytesSource(npy([4, 2]), 'a.npy', { inputName: 'a' });
    expect(() => bindDataSource(onlyA, inputs)).toThrow(/input 'b' has no calibration data/);
    expect(thrown(() => bindDataSource(onlyA, inputs))).toMatchObject({ tensor: 'b', option: 'data' });
    const both = zipSources([onlyA, npyBytesSource(npy([4, 2]), 'b.npy', { inputName: 'b' })]);
    expect(() => bindDataSource(both, inputs)).not.toThrow();
  });

  it('zipping sources with different counts fails', () => {
    expect(() =>
      zipSources([
        npyBytesSource(npy([4, 2]), 'a.npy', { inputName: 'a' }),
        npyBytesSource(npy([3, 2]), 'b.npy', { inputName: 'b' }),
      ]),
    ).toThrow(/different sample counts: a\.npy 4, b\.npy 3/);
  });
});

describe('JSON and random sources', () => {
  it('reads { input: [samples] } as float32 unless told otherwise', async () => {
    const source = jsonSource(
      {
        ids: [
          [1, 2, 3],
          [4, 5, 6],
        ],
        scale: [[0.5], [0.25]],
      },
      { dtypes: { ids: 'int64' } },
    );
    expect(source.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ['ids', 'int64', [2, 3]],
      ['scale', 'float32', [2, 1]],
    ]);
    const samples = await collect(source);
    expect(samples[1]!['ids']!.data).toEqual(new BigInt64Array([4n, 5n, 6n]));
    expect(samples[1]!['scale']!.shape).toEqual([1, 1]);
  });

  it('reads an array of samples and rejects ragged ones', async () => {
    const samples = await collect(jsonSource([[[1, 2]], [[3, 4]]], { inputName: 'x' }));
    expect(samples.map((s) => [...s['x']!.data])).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const ragged = jsonSource([[[1, 2], [3]]], { origin: 'r.json' });
    await expect(collect(ragged)).rejects.toThrow(/r\.json sample 0: ragged nested array/);
  });

  it('random data is flagged, seeded and shaped like the model input', async () => {
    const options = {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 3, 'h'] }] as const,
      count: 2,
      seed: 7,
      dims: { h: 5 },
    };
    const a = randomSource(options);
    expect(a.random).toBe(true);
    expect(a.inputs[0]!.shape).toEqual([2, 3, 5]);
    const [first, second] = await collect(a);
    expect(first!['x']!.shape).toEqual([1, 3, 5]);
    expect([...first!['x']!.data]).not.toEqual([...second!['x']!.data]);
    expect([...(await collect(randomSource(options)))[0]!['x']!.data]).toEqual([...first!['x']!.data]);
    expect([...(await collect(randomSource({ ...options, seed: 8 })))[0]!['x']!.data]).not.toEqual([
      ...first!['x']!.data,
    ]);
    expect(zipSources([a, npyBytesSource(npy([2, 2]), 'b.npy', { inputName: 'b' })]).random).toBe(true);
  });
});

describe('random data that fits the model', () => {
  // silero VAD v5's inputs as its exporter declares them: every dynamic dim unnamed.
  const inputs = [
    { name: 'input', dtype: 'float32', shape: [null, null] },
    { name: 'state', dtype: 'float32', shape: [2, null, 128] },
    { name: 'sr', dtype: 'int64', shape: [] },
  ] as const;

  it('refuses a dynamic dim without a name unless the input is given a whole shape', () => {
    expect(() => randomSource({ inputs, count: 1, seed: 1 })).toThrow(
      /input 'input' \[\?, \?\] has a dynamic dim without a name at axis 1/,
    );
    expect(() =>
      randomSource({ inputs, count: 1, seed: 1, shapes: { input: [1, 512], state: [2, 1, 64] } }),
    ).toThrow(/shape \[2, 1, 64\] does not fit input 'state' \[2, \?, 128\]: axis 2 is fixed at 128/);
    expect(() =>
      randomSource({ inputs, count: 1, seed: 1, shapes: { input: [4, 512], state: [2, 1, 128] } }),
    ).toThrow(/axis 0 is the batch axis/);
  });

  it('fills the given shapes with values in the given range (one value when low = high)', async () => {
    const state = randomSource({
      inputs: inputs.slice(1, 2),
      count: 2,
      seed: 1,
      shapes: { state: [2, 1, 128] },
      low: 0,
      high: 0,
    });
    const audio = randomSource({
      inputs: inputs.slice(0, 1),
      count: 2,
      seed: 1,
      shapes: { input: [1, 512] },
      low: -1,
      high: 1,
    });
    const rate = randomSource({ inputs: inputs.slice(2), count: 2, seed: 1, low: 16000, high: 16000 });
    expect(audio.description).toBe('random (seed 1, values -1..1)');
    const [a] = await collect(audio);
    const x = a!['input']!.data as Float32Array;
    expect(a!['input']!.shape).toEqual([1, 512]);
    expect(Math.min(...x)).toBeLessThan(-0.9);
    expect(Math.max(...x)).toBeGreaterThan(0.9);
    expect(Math.max(...x.map(Math.abs))).toBeLessThanOrEqual(1);
    const [s] = await collect(state);
    // A state has no batch axis: each sample is the whole tensor, behind the sample axis.
    expect(s!['state']!.shape).toEqual([1, 2, 1, 128]);
    expect([...(s!['state']!.data as Float32Array)].every((v) => v === 0)).toBe(true);
    const [r] = await collect(rate);
    expect([...(r!['sr']!.data as BigInt64Array)]).toEqual([16000n]);
  });
});

describe('data locations', () => {
  it('picks the reader by extension or folder', () => {
    expect(readerKindForPath('a.NPY', false)).toBe('npy');
    expect(readerKindForPath('a.npy.gz', false)).toBe('npy.gz');
    expect(readerKindForPath('a.npz', false)).toBe('npz');
    expect(readerKindForPath('a.json', false)).toBe('json');
    expect(readerKindForPath('imgs', true)).toBe('images');
    expect(() => readerKindForPath('a.csv', false)).toThrow(/a\.csv: unknown calibration data format/);
  });

  it('inputs without a batch axis (a scalar, a recurrent state) are generated and fed whole', async () => {
    // silero VAD's inputs: audio [batch, samples], state [2, batch, 128], sample rate (a scalar).
    const inputs = [
      { name: 'input', dtype: 'float32', shape: ['batch', 512] },
      { name: 'state', dtype: 'float32', shape: [2, 'batch', 128] },
      { name: 'sr', dtype: 'int64', shape: [] },
    ] as const;
    const source = randomSource({ inputs, count: 3, seed: 1 });
    expect(source.inputs.map((i) => i.shape)).toEqual([[3, 512], [3, 2, 1, 128], [3]]);
    const bound = bindDataSource(source, inputs, { batchSize: 1 });
    const samples = await collect(bound);
    expect(samples).toHaveLength(3);
    expect(samples[0]!['input']!.shape).toEqual([1, 512]);
    expect(samples[0]!['state']!.shape).toEqual([2, 1, 128]);
    expect(samples[0]!['sr']!.shape).toEqual([]);
    // Whole inputs cannot be concatenated into batches: the error names the input.
    const error = errorOf(() => bindDataSource(source, inputs, { batchSize: 2 }));
    expect(error.message).toContain("input 'state' [2, ?, 128] is fed whole");
    expect(error.message).toContain('use batch size 1');
  });

  it('an array with one axis more than the input feeds one whole tensor per sample', async () => {
    const model = { name: 'x', dtype: 'float32', shape: [1, 3, 4] } as const;
    const source = npyBytesSource(npy([5, 1, 3, 4]), 'x.npy');
    expect(checkSourceInput(source.inputs[0]!, model)).toBe('whole');
    const samples = await collect(bindDataSource(source, [model]));
    expect(samples).toHaveLength(5);
    expect(samples[1]!['x']!.shape).toEqual([1, 3, 4]);
    expect([...samples[1]!['x']!.data].slice(0, 3)).toEqual([12, 13, 14]);
    // A wrong dim is still named, in the sample's own axes.
    const wrong = errorOf(() =>
      checkSourceInput(npyBytesSource(npy([5, 1, 3, 5]), 'x.npy').inputs[0]!, model),
    );
    expect(wrong.message).toContain('fed whole');
    expect(wrong.message).toContain('sample axis 2 differs');
  });
});

describe('splitting data into calibration and held-back batches', () => {
  const firstValues = async (feeds: FeedSource) => {
    const out: number[] = [];
    for await (const feed of feeds()) out.push(Number(Object.values(feed)[0]!.data[0]));
    return out;
  };

  it('calibrates on the first batches and holds back the last, whether or not the source can seek', async () => {
    // Five samples of 2 values: sample i starts with 2 * i.
    const seekable = npyBytesSource(npy([5, 2]), 'five.npy');
    const streamOnly: DataSource = { ...seekable, samplesFrom: undefined, samples: () => seekable.samples() };
    for (const source of [seekable, streamOnly]) {
      const { calibration, holdout } = splitData(source, 5, 2);
      expect(await firstValues(calibration)).toEqual([0, 2, 4]);
      expect(await firstValues(holdout)).toEqual([6, 8]);
    }
  });

  it('zipped sources read each part from the same index', async () => {
    const zipped = zipSources([
      npyBytesSource(npy([4, 2]), 'a.npy', { inputName: 'a' }),
      npyBytesSource(npy([4, 3]), 'b.npy', { inputName: 'b' }),
    ]);
    const from: Sample[] = [];
    for await (const sample of readSamplesFrom(zipped, 3)) from.push(sample);
    expect(from.map((s) => [s['a']!.data[0], s['b']!.data[0]])).toEqual([[6, 9]]);
  });
});
