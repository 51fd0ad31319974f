import { readFileSync } from 'node:fs';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { QgrainError } from '@qgrain/tensor';
import { ocrDataPath } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import { bindDataSource, readSamplesFrom } from './data-source.js';
import { gunzipBytes } from './gzip.js';
import { decodeImage } from './image-decode.js';
import { imageSource, matchesNameFilter } from './image-folder.js';
import { openDataSource } from './node-files.js';
import { decodeNpy } from './npy.js';
import { formatPreprocessSpec, parsePreprocessSpec, preprocessImage } from './preprocess.js';

// The rec .npy was made with half-pixel bilinear (no antialias) from 8-bit pixels; our resize
// is the same arithmetic in float64, so only float32 rounding of the normalised value remains
// (one float32 ulp near 1.0 is 1.2e-7).
const REC_TOLERANCE = 1e-6;
// det pages are 640x640 already (no resize): only normalisation rounding differs.
const DET_TOLERANCE = 1e-5;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

async function compareFolder(
  npy: string,
  preprocess: string,
  filter: string,
): Promise<{ worst: number; count: number }> {
  const path = ocrDataPath('calibration', npy);
  const reference = decodeNpy(gunzipBytes(readFileSync(path), path), path);
  const source = await openDataSource(ocrDataPath('calibration', 'images'), { preprocess, filter });
  expect(source.count).toBe(reference.count);
  expect(source.inputs[0]!.shape).toEqual(reference.header.shape);
  let worst = 0;
  let i = 0;
  for await (const sample of source.samples()) {
    worst = Math.max(
      worst,
      maxAbsDiff(sample['']!.data as Float32Array, reference.sample(i).data as Float32Array),
    );
    i++;
  }
  return { worst, count: i };
}

describe('image folder vs the calibration set .npy files', () => {
  it('rec_*.png with the PaddleOCR rec preprocessing matches calib_rec.npy.gz', async () => {
    const { worst, count } = await compareFolder(
      'calib_rec.npy.gz',
      'size=48x320,keep-aspect,pad=0,scale=1/255,mean=0.5,std=0.5,layout=nchw,order=rgb',
      'rec_*.png',
    );
    console.info(`rec: ${count} images, max |image - npy| = ${worst.toExponential(3)}`);
    expect(count).toBe(48);
    expect(worst).toBeLessThan(REC_TOLERANCE);
  });

  it('det_*.png with ImageNet mean/std matches calib_det.npy.gz', async () => {
    const { worst, count } = await compareFolder(
      'calib_det.npy.gz',
      'size=640x640,mean=imagenet,std=imagenet',
      'det_',
    );
    console.info(`det: ${count} images, max |image - npy| = ${worst.toExponential(3)}`);
    expect(count).toBe(8);
    expect(worst).toBeLessThan(DET_TOLERANCE);
  });

  it('binding the folder to a model input with another width fails naming the folder and spec', async () => {
    const source = await openDataSource(ocrDataPath('calibration', 'images'), {
      preprocess: 'size=48x300,keep-aspect',
      filter: 'rec_*.png',
    });
    expect(() =>
      bindDataSource(source, [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 48, 320] }]),
    ).toThrow(
      /^input 'x': expected float32 \[\?, 3, 48, 320\], got float32 \[48, 3, 48, 300\] from .*images \(rec_\*\.png\) \(preprocess size=48x300,keep-aspect\); axis 3 differs$/,
    );
  });
});

describe('preprocessing', () => {
  // A 2x4 RGB image with distinct channels so order and layout mistakes show.
  const width = 4;
  const height = 2;
  const rgb = new Uint8Array(width * height * 3).map((_, i) => (i * 10) % 256);
  const png = encodePng({ width, height, data: rgb, channels: 3, depth: 8 });

  it('text form round-trips and rejects unknown items', () => {
    const text = 'size=48x320,keep-aspect,pad=0,scale=1/255,mean=0.5,std=0.5,layout=nchw,order=rgb';
    const spec = parsePreprocessSpec(text);
    expect(spec).toEqual({
      size: [48, 320],
      keepAspect: true,
      pad: 0,
      scale: 1 / 255,
      mean: [0.5],
      std: [0.5],
      layout: 'nchw',
      order: 'rgb',
    });
    expect(formatPreprocessSpec(spec)).toBe(text);
    expect(parsePreprocessSpec('{"size":[48,320],"keepAspect":true}')).toEqual({
      size: [48, 320],
      keepAspect: true,
    });
    expect(() => parsePreprocessSpec('size=48x320,sharpen')).toThrow(/unknown item 'sharpen'/);
    expect(() => parsePreprocessSpec('keep-aspect')).toThrow(/keep-aspect needs a size/);
    expect(() => parsePreprocessSpec('mean=1:2')).toThrow(/mean must hold 1 or 3/);
  });

  it('NHWC, BGR, scale, mean and std land where they should', () => {
    const image = decodeImage(png, 'tiny.png');
    const t = preprocessImage(image, {
      layout: 'nhwc',
      order: 'bgr',
      scale: 1,
      mean: [1, 2, 3],
      std: [2, 4, 8],
    });
    expect(t.shape).toEqual([1, 2, 4, 3]);
    // pixel (0, 1) is RGB (30, 40, 50); BGR order puts 50 first, normalised with channel 0's stats.
    expect([...t.data.slice(3, 6)]).toEqual([(50 - 1) / 2, (40 - 2) / 4, (30 - 3) / 8]);
    const chw = preprocessImage(image, { scale: 1 });
    expect(chw.shape).toEqual([1, 3, 2, 4]);
    expect(chw.data[1 * 8 + 1]).toBe(40); // channel G, row 0, column 1
  });

  it('keep-aspect scales to the height and right-pads with the pad value', () => {
    const image = decodeImage(png, 'tiny.png');
    const t = preprocessImage(image, { size: [2, 10], keepAspect: true, pad: -7, scale: 1 });
    expect(t.shape).toEqual([1, 3, 2, 10]);
    const row = [...t.data.slice(0, 10)];
    expect(row.slice(0, 4)).toEqual([0, 30, 60, 90]); // same height: no resampling
    expect(row.slice(4)).toEqual([-7, -7, -7, -7, -7, -7]);
  });

  it('bilinear resize follows half-pixel centers (2x upscale of a ramp)', () => {
    const gray = encodePng({ width: 2, height: 1, data: new Uint8Array([0, 100]), channels: 1, depth: 8 });
    const t = preprocessImage(decodeImage(gray, 'ramp.png'), { size: [1, 4], scale: 1, channels: 1 });
    expect([...t.data].map((v) => Math.round(v * 1e4) / 1e4)).toEqual([0, 25, 75, 100]);
  });

  it('16-bit gray + alpha: gray spreads to RGB, alpha is dropped, samples truncate to 8 bits', () => {
    // 257 * 100 + 256 is just under 101 on the 8-bit scale.
    const data = new Uint16Array([0, 65535, 65535, 0, 257 * 100 + 256, 1234]);
    const png = encodePng({ width: 3, height: 1, data, channels: 2, depth: 16 });
    const image = decodeImage(png, 'gray16.png');
    expect([...image.data]).toEqual([0, 0, 0, 255, 255, 255, 100, 100, 100]);
  });

  it('center crop takes the middle', () => {
    const t = preprocessImage(decodeImage(png, 'tiny.png'), { crop: [2, 2], scale: 1 });
    expect([...t.data.slice(0, 4)]).toEqual([30, 60, 150, 180]);
  });

  it('decodes JPEG', () => {
    const rgba = new Uint8Array(16 * 16 * 4).fill(200);
    const jpeg = encodeJpeg({ width: 16, height: 16, data: rgba }, 95).data;
    const image = decodeImage(new Uint8Array(jpeg), 'flat.jpg');
    expect(image.width).toBe(16);
    for (const v of image.data) expect(Math.abs(v - 200)).toBeLessThanOrEqual(2);
  });

  it('a corrupt image is a one-line error naming the file', async () => {
    const broken = png.slice(0, 40);
    const source = imageSource([{ name: 'bad.png', read: async () => broken }], {
      preprocess: {},
      origin: 'imgs',
    });
    const error = await (async () => {
      for await (const _ of source.samples()) {
        /* drain */
      }
    })().catch((e: unknown) => e);
    expect(QgrainError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^imgs\/bad\.png is not a readable image/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('filters by glob or prefix and sorts by name', () => {
    expect(matchesNameFilter('rec_01.png', 'rec_*.png')).toBe(true);
    expect(matchesNameFilter('det_1.png', 'rec_*.png')).toBe(false);
    expect(matchesNameFilter('det_1.png', 'det_')).toBe(true);
    expect(matchesNameFilter('xdet_1.png', 'det_')).toBe(false);
    const entries = ['b.png', 'a.jpg', 'c.txt'].map((name) => ({ name, read: async () => png }));
    const source = imageSource(entries, { preprocess: { size: [2, 2] } });
    expect(source.count).toBe(2);
  });
});

describe('reading from a sample index on', () => {
  const image = (value: number) =>
    encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(value), channels: 3, depth: 8 });

  it('skips the images before it unread, and yields what reading them all yields after it', async () => {
    const reads: string[] = [];
    const entry = (name: string, bytes: Uint8Array) => ({
      name,
      read: async () => {
        reads.push(name);
        return bytes;
      },
    });
    // A corrupt first file: reading it fails, so a source that reads it to skip it cannot pass.
    const source = imageSource(
      [entry('a.png', image(1).slice(0, 40)), entry('b.png', image(2)), entry('c.png', image(3))],
      { preprocess: { size: [2, 2] } },
    );
    const from = [];
    for await (const sample of readSamplesFrom(source, 1)) from.push(sample);
    expect(reads).toEqual(['b.png', 'c.png']);
    expect(from.map((sample) => Math.round(Number(sample['']!.data[0]) * 255))).toEqual([2, 3]);
    const bound = bindDataSource(source, [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 2, 2] }], {
      batchSize: 2,
    });
    // Batch 1 of two-image batches is image 2 alone.
    reads.length = 0;
    const batches = [];
    for await (const batch of readSamplesFrom(bound, 1)) batches.push(batch);
    expect(reads).toEqual(['c.png']);
    expect(batches.map((b) => b['x']!.shape)).toEqual([[1, 3, 2, 2]]);
    expect(batches[0]!['x']!.data).toEqual(from[1]!['']!.data);
  });
});
