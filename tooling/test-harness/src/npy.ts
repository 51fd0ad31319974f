import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** A float32 array read from a .npy file, with its shape. */
export interface NpyArray {
  readonly shape: number[];
  readonly data: Float32Array;
}

const MAGIC = '\x93NUMPY';

/**
 * Reads a NumPy .npy (or gzipped .npy.gz) file holding little-endian float32 in C order.
 * A minimal reader for tests only: other dtypes and Fortran order are refused, not converted.
 */
export function readNpy(path: string): NpyArray {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) throw new Error(`${path} is not a .npy file (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4')
    throw new Error(`${path}: dtype ${descr} is not supported (only little-endian float32)`);
  if (fortran !== 'False') throw new Error(`${path}: Fortran order is not supported`);
  if (shapeText === undefined) throw new Error(`${path}: no shape in the header`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLength;
  // Copy (a Buffer slice would be a view) so the data is 4-byte aligned whatever the header length.
  const data = new Float32Array(new Uint8Array(bytes.subarray(start, start + count * 4)).buffer);
  if (data.length !== count) throw new Error(`${path}: expected ${count} values, found ${data.length}`);
  return { shape, data };
}

/**
 * The OCR calibration folder (`<repo>/../shared/data/ocr-calibration`), with a clear error when
 * it is missing: the shared data lives beside the repository on development machines, not in it.
 */
export function ocrCalibrationDir(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = join(repo, '..', 'shared', 'data', 'ocr-calibration');
  if (!existsSync(join(dir, 'calib_rec.npy.gz'))) {
    throw new Error(
      `OCR calibration data not found at ${dir}; these tests need ../shared/data/ocr-calibration beside the repository`,
    );
  }
  return dir;
}

/** The first `count` samples of an N-first array, as their own array. */
export function firstSamples(array: NpyArray, count: number): NpyArray {
  const n = Math.min(count, array.shape[0]!);
  const per = array.data.length / array.shape[0]!;
  return { shape: [n, ...array.shape.slice(1)], data: array.data.slice(0, n * per) };
}
