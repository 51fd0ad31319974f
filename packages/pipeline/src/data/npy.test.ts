import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { type DType, QgrainError, Tensor, allocate } from '@qgrain/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataSource, Sample } from './data-source.js';
import { gunzipBytes } from './gzip.js';
import { openDataSource } from './node-files.js';
import { decodeNpy, encodeNpy, npyBytesSource, npySamplesFromChunks, parseNpyHeader } from './npy.js';
import { decodeNpz, encodeNpz, npzBytesSource } from './npz.js';
import { sharedDataPath } from './shared-data-for-tests.js';

const work = mkdtempSync(join(tmpdir(), 'qgrain-npy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function collect(source: DataSource): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of source.samples()) out.push(s);
  return out;
}

/** A [3, 2, 2] tensor of `dtype` with values that differ per element and exercise the sign bit. */
function sampleTensor(dtype: DType): Tensor {
  const data = allocate(dtype, 12);
  for (let i = 0; i < 12; i++) {
    const v = i - 5;
    if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(v) * 10_000_000_000n;
    else if (dtype === 'bool') (data as Uint8Array)[i] = i % 3 === 0 ? 1 : 0;
    else if (dtype === 'uint8') (data as Uint8Array)[i] = 250 - i;
    else if (dtype === 'float16')
      (data as Uint16Array)[i] = 0x3c00 + i * 0x0101; // varied bit patterns
    else if (dtype === 'float32' || dtype === 'float64') (data as Float32Array)[i] = v * 1.25e-3 + 1 / 3;
    else (data as Int32Array)[i] = v * 3;
  }
  return new Tensor(dtype, [3, 2, 2], data);
}

const DTYPES: DType[] = ['float32', 'float16', 'float64', 'int64', 'int32', 'uint8', 'int8', 'bool'];

describe('.npy on the shared OCR calibration files', () => {
  it('streams calib_rec.npy.gz: 48 samples of [1, 3, 48, 320] matching numpy', async () => {
    const path = sharedDataPath('ocr-calibration/calib_rec.npy.gz');
    const source = await openDataSource(path);
    expect(source.count).toBe(48);
    expect(source.inputs[0]).toMatchObject({ dtype: 'float32', shape: [48, 3, 48, 320] });
    let sum = 0;
    let n = 0;
    let probe = Number.NaN;
    for await (const sample of source.samples()) {
      const t = sample['']!;
      expect(t.shape).toEqual([1, 3, 48, 320]);
      for (const v of t.data as Float32Array) sum += v;
      // numpy: a[5, 1, 20, 100]
      if (n === 5) probe = (t.data as Float32Array)[1 * 48 * 320 + 20 * 320 + 100]!;
      n++;
    }
    expect(n).toBe(48);
    expect(probe).toBe(Math.fround(0.6941176652908325));
    // numpy: a.astype(float64).sum() = 1217409.7405253518; float64 sums in another order differ in the last bits.
    expect(sum).toBeCloseTo(1217409.7405253518, 4);
  });

  it('reads calib_det.npy.gz whole and streamed alike ([8, 3, 640, 640])', async () => {
    const path = sharedDataPath('ocr-calibration/calib_det.npy.gz');
    const whole = decodeNpy(gunzipBytes(readFileSync(path), path), path);
    expect(whole.header).toMatchObject({
      version: 1,
      dtype: 'float32',
      bigEndian: false,
      shape: [8, 3, 640, 640],
    });
    const source = await openDataSource({ inputName: 'x', path });
    expect(source.inputs[0]!.name).toBe('x');
    let i = 0;
    let sum = 0;
    for await (const sample of source.samples()) {
      const streamed = sample['x']!.data as Float32Array;
      expect(
        Buffer.from(streamed.buffer, streamed.byteOffset, streamed.byteLength).equals(
          Buffer.from(
            whole.sample(i).data.buffer,
            whole.sample(i).data.byteOffset,
            whole.sample(i).data.byteLength,
          ),
        ),
      ).toBe(true);
      for (const v of streamed) sum += v;
      i++;
    }
    expect(i).toBe(8);
    expect((whole.sample(3).data as Float32Array)[2 * 640 * 640 + 100 * 640 + 200]).toBe(
      Math.fround(2.640000104904175),
    );
    expect(sum).toBeCloseTo(12217020.248932129, 2);
  });
});

describe('.npy writer and reader round trip', () => {
  for (const dtype of DTYPES) {
    for (const bigEndian of [false, true]) {
      for (const version of [1, 2, 3] as const) {
        it(`${dtype} ${bigEndian ? 'big' : 'little'}-endian v${version}.0`, async () => {
          const tensor = sampleTensor(dtype);
          const bytes = encodeNpy(tensor, { bigEndian, version });
          const header = parseNpyHeader(bytes, 'mem')!;
          expect(header).toMatchObject({
            version,
            dtype,
            shape: [3, 2, 2],
            bigEndian: bigEndian && header.itemSize > 1,
          });
          expect(header.dataOffset % 64).toBe(0);
          const array = decodeNpy(bytes, 'mem');
          expect([...array.tensor().data]).toEqual([...tensor.data]);
          for (let i = 0; i < 3; i++) {
            const s = array.sample(i);
            expect(s.shape).toEqual([1, 2, 2]);
            expect([...s.data]).toEqual([...tensor.data.slice(i * 4, i * 4 + 4)]);
          }
          // The streaming reader, fed in awkward 7-byte chunks, agrees.
          async function* chunks() {
            for (let o = 0; o < bytes.length; o += 7) yield bytes.slice(o, o + 7);
          }
          const streamed: (number | bigint)[] = [];
          for await (const t of npySamplesFromChunks(chunks(), 'mem')) {
            streamed.push(...Array.from(t.data as Iterable<number | bigint>));
          }
          expect(streamed).toEqual(Array.from(tensor.data as Iterable<number | bigint>));
        });
      }
    }
  }

  it('big-endian bytes really are reversed on disk', () => {
    const t = new Tensor('float32', [1, 1], new Float32Array([1]));
    const le = encodeNpy(t);
    const be = encodeNpy(t, { bigEndian: true });
    expect([...le.subarray(-4)]).toEqual([0, 0, 0x80, 0x3f]);
    expect([...be.subarray(-4)]).toEqual([0x3f, 0x80, 0, 0]);
    expect(new TextDecoder().decode(be.subarray(10, 30))).toContain("'>f4'");
  });

  it('little-endian aligned samples are views of the file bytes, not copies', () => {
    const bytes = encodeNpy(sampleTensor('float32'));
    const array = decodeNpy(bytes, 'mem');
    expect(array.sample(1).data.buffer).toBe(bytes.buffer);
    expect(
      decodeNpy(encodeNpy(sampleTensor('float32'), { bigEndian: true }), 'mem').sample(1).data.buffer,
    ).not.toBe(bytes.buffer);
  });

  it('a source over bytes yields every sample under the unnamed input', async () => {
    const samples = await collect(
      npyBytesSource(encodeNpy(sampleTensor('int32')), 'mem', { inputName: 'ids' }),
    );
    expect(samples.map((s) => [...s['ids']!.data])).toEqual([
      [-15, -12, -9, -6],
      [-3, 0, 3, 6],
      [9, 12, 15, 18],
    ]);
  });
});

describe('.npz', () => {
  for (const compress of [false, true]) {
    it(`${compress ? 'deflated' : 'stored'}: each member feeds the input of its name`, async () => {
      const bytes = encodeNpz({ pixels: sampleTensor('float32'), mask: sampleTensor('bool') }, { compress });
      const arrays = decodeNpz(bytes, 'calib.npz');
      expect([...arrays.keys()].sort()).toEqual(['mask', 'pixels']);
      const source = npzBytesSource(bytes, 'calib.npz');
      expect(source.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
        ['pixels', 'float32', [3, 2, 2]],
        ['mask', 'bool', [3, 2, 2]],
      ]);
      const samples = await collect(source);
      expect(samples).toHaveLength(3);
      expect([...samples[2]!['mask']!.data]).toEqual([0, 1, 0, 0]); // i % 3 === 0 for i = 8..11
      expect([...samples[1]!['pixels']!.data]).toEqual([...sampleTensor('float32').data.slice(4, 8)]);
    });
  }

  it('rejects arrays with different sample counts, naming the file', () => {
    const bytes = encodeNpz({
      a: sampleTensor('float32'),
      b: new Tensor('float32', [2], new Float32Array(2)),
    });
    expect(() => npzBytesSource(bytes, 'two.npz')).toThrow(/^two\.npz: arrays hold different sample counts/);
  });
});

describe('.npy errors are one-line QgrainErrors naming the file', () => {
  function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
    try {
      fn();
    } catch (error) {
      expect(QgrainError.isInstance(error)).toBe(true);
      const e = error as QgrainError;
      expect(e.code).toBe(code);
      expect(e.message).toMatch(pattern);
      expect(e.message).not.toContain('\n');
      return;
    }
    throw new Error('expected an error');
  }

  it('Fortran order', () => {
    const bytes = encodeNpy(sampleTensor('float32'), { fortranOrder: true });
    expectError(
      () => decodeNpy(bytes, 'f.npy'),
      'unsupported',
      /^f\.npy is stored in Fortran .*ascontiguousarray/,
    );
  });

  it('not a .npy at all', () => {
    expectError(
      () => decodeNpy(new TextEncoder().encode('hello, world'), 'c.npy'),
      'io',
      /^c\.npy is not a valid \.npy file: missing/,
    );
  });

  it('truncated data', () => {
    const bytes = encodeNpy(sampleTensor('float32'));
    expectError(
      () => decodeNpy(bytes.subarray(0, bytes.length - 3), 't.npy'),
      'io',
      /^t\.npy .*needs 48 data bytes, the file has 45/,
    );
  });

  it('unsupported dtype', () => {
    const bytes = encodeNpy(sampleTensor('float32'));
    bytes.set(new TextEncoder().encode("'<c8'"), bytes.indexOf(0x27 /* ' */, 20));
    expectError(() => decodeNpy(bytes, 'z.npy'), 'unsupported', /^z\.npy holds dtype '<c8'/);
  });

  it('missing, truncated and corrupt files on disk', async () => {
    await expect(openDataSource(join(work, 'nope.npy'))).rejects.toThrow(/nope\.npy: no such file or folder/);
    const good = encodeNpy(sampleTensor('float32'));
    const cut = join(work, 'cut.npy.gz');
    writeFileSync(cut, gzipSync(good.subarray(0, good.length - 10)));
    const source = await openDataSource(cut);
    await expect(collect(source)).rejects.toThrow(
      /cut\.npy\.gz is not a valid \.npy file: data ends inside sample 2 of 3/,
    );
    const junk = join(work, 'junk.npy.gz');
    const gz = gzipSync(good);
    gz.fill(0x55, 20, 40);
    writeFileSync(junk, gz);
    const error = await openDataSource(junk)
      .then(collect)
      .catch((e: unknown) => e);
    expect(QgrainError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/junk\.npy\.gz/);
  });
});
