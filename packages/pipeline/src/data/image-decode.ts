// PNG and JPEG decoding from bytes (fast-png, jpeg-js: pure JS, so it runs in browsers too),
// normalised to one pixel format so preprocessing has a single code path.
import { type DecodedPng, convertIndexedToRgb, decode as decodePng, hasPngSignature } from 'fast-png';
import { decode as decodeJpeg } from 'jpeg-js';
import { QgrainError } from '@qgrain/tensor';

/** An RGB image, row-major, 3 values per pixel on the 8-bit scale 0..255. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

const JPEG_SOI_0 = 0xff;
const JPEG_SOI_1 = 0xd8;
/**
 * 65535 / 255: the factor between 16-bit and 8-bit sample scales. 16-bit samples are truncated
 * to 8 bits (floor(v / 257)): the shared OCR calibration .npy files were made that way, and the
 * rec images match them exactly only with it.
 */
const SIXTEEN_TO_EIGHT_BIT = 257;
/** jpeg-js refuses images above this many megapixels unless told otherwise; calibration images are far smaller. */
const MAX_JPEG_MEGAPIXELS = 100;

/** True for bytes that start like a PNG or a JPEG. */
export function isImageBytes(bytes: Uint8Array): boolean {
  return hasPngSignature(bytes) || (bytes[0] === JPEG_SOI_0 && bytes[1] === JPEG_SOI_1);
}

/** Sample value `v` of a `depth`-bit channel (depth < 8) on the 8-bit scale. */
function toEightBit(depth: number): (v: number) => number {
  const factor = 255 / (2 ** depth - 1);
  return (v) => v * factor;
}

/** Sample `index` of a row-packed buffer of `depth`-bit samples (depth < 8). */
function packedSample(
  data: ArrayLike<number>,
  rowBytes: number,
  rowLength: number,
  index: number,
  depth: number,
): number {
  const row = Math.floor(index / rowLength);
  const bit = (index % rowLength) * depth;
  const byte = data[row * rowBytes + (bit >> 3)]!;
  return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function pngToRgb(png: DecodedPng): RgbImage {
  const { width, height } = png;
  const pixels = width * height;
  const out = new Float32Array(pixels * 3);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const step = rgb.length / pixels; // 3, or 4 when the palette has transparency
    for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgb[p * step + c]!;
    return { width, height, data: out };
  }
  const channels = png.channels;
  // Gray (+alpha) spreads to three channels; alpha is dropped, not composited.
  const colour = channels >= 3;
  if (png.depth === 8 || png.depth === 16) {
    // Byte and 16-bit samples are read straight from the typed array, with no call per sample
    // (a 640x640 16-bit RGBA page has 1.6M of them).
    const data = png.data as Uint8Array | Uint16Array;
    const sixteen = png.depth === 16;
    for (let p = 0, i = 0, o = 0; p < pixels; p++, i += channels, o += 3) {
      for (let c = 0; c < 3; c++) {
        const v = data[i + (colour ? c : 0)]!;
        out[o + c] = sixteen ? Math.floor(v / SIXTEEN_TO_EIGHT_BIT) : v;
      }
    }
    return { width, height, data: out };
  }
  const convert = toEightBit(png.depth);
  const rowBytes = Math.ceil((width * channels * png.depth) / 8);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const index = p * channels + (colour ? c : 0);
      out[p * 3 + c] = convert(packedSample(png.data, rowBytes, width * channels, index, png.depth));
    }
  }
  return { width, height, data: out };
}

/**
 * Decodes a PNG (any bit depth, gray/RGB/palette, alpha dropped) or a baseline/progressive JPEG
 * into an {@link RgbImage}. Throws a one-line QgrainError naming `origin` when the bytes are
 * neither or are corrupt.
 */
export function decodeImage(bytes: Uint8Array, origin: string): RgbImage {
  try {
    if (hasPngSignature(bytes)) return pngToRgb(decodePng(bytes));
    if (bytes[0] === JPEG_SOI_0 && bytes[1] === JPEG_SOI_1) {
      const jpeg = decodeJpeg(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_JPEG_MEGAPIXELS,
      });
      const pixels = jpeg.width * jpeg.height;
      const out = new Float32Array(pixels * 3);
      for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = jpeg.data[p * 4 + c]!;
      return { width: jpeg.width, height: jpeg.height, data: out };
    }
  } catch (error) {
    throw new QgrainError('io', `${origin} is not a readable image: ${(error as Error).message}`, {
      cause: error,
    });
  }
  throw new QgrainError('io', `${origin} is neither a PNG nor a JPEG (unknown signature)`);
}
