// Image preprocessing for calibration: resize, crop, channel order, normalisation, layout.
// Steps run in a fixed order: resize (size | keep-aspect | short) -> center crop -> channel
// order -> (x * scale - mean) / std -> right padding (keep-aspect) -> layout.
import { QgrainError, Tensor } from '@qgrain/tensor';
import type { RgbImage } from './image-decode.js';

/** How images become model inputs; a plain JSON-able object. */
export interface PreprocessSpec {
  /** Output [height, width]. Without `keepAspect` the image is stretched to it. */
  readonly size?: readonly [number, number];
  /**
   * With `size`: scale to the height, width round(w * H / h) capped at W, then pad on the right
   * to W with `pad` (PaddleOCR's text-line format).
   */
  readonly keepAspect?: boolean;
  /** Resize so the shorter side has this length, keeping the aspect ratio (before `crop`). */
  readonly shortSide?: number;
  /** Center crop [height, width] taken after resizing. */
  readonly crop?: readonly [number, number];
  /** Value of padded pixels, in output units (after normalisation). Default 0. */
  readonly pad?: number;
  /** Factor applied to 0..255 pixel values before mean/std. Default 1/255. */
  readonly scale?: number;
  /** Per-channel (or one shared) mean subtracted after scaling. Default 0. */
  readonly mean?: readonly number[];
  /** Per-channel (or one shared) divisor after the mean. Default 1. */
  readonly std?: readonly number[];
  /** 'nchw' (default) or 'nhwc'. */
  readonly layout?: 'nchw' | 'nhwc';
  /** 'rgb' (default) or 'bgr' (OpenCV-trained models). */
  readonly order?: 'rgb' | 'bgr';
  /** 3 (default) or 1 (gray: BT.601 luma). */
  readonly channels?: 1 | 3;
}

/** ImageNet statistics (torchvision's normalisation constants), for `mean=imagenet,std=imagenet`. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** See {@link IMAGENET_MEAN}. */
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
const DEFAULT_SCALE = 1 / 255;
/** ITU-R BT.601 luma weights, the usual RGB -> gray conversion (OpenCV, PIL). */
const LUMA = [0.299, 0.587, 0.114] as const;

function invalid(message: string): QgrainError {
  return new QgrainError('invalid-spec', `preprocessing spec: ${message}`);
}

function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parsePair(text: string, what: string): [number, number] {
  const parts = text.toLowerCase().split('x');
  if (parts.length === 1) {
    const side = positiveInteger(Number(parts[0]), what);
    return [side, side];
  }
  if (parts.length !== 2) throw invalid(`${what} must be HxW (height x width), got '${text}'`);
  return [
    positiveInteger(Number(parts[0]), `${what} height`),
    positiveInteger(Number(parts[1]), `${what} width`),
  ];
}

function parseNumber(text: string, what: string): number {
  const fraction = /^\s*([-+]?[\d.eE+-]+)\s*\/\s*([\d.eE+-]+)\s*$/.exec(text);
  const value = fraction
    ? Number(fraction[1]) / Number(fraction[2])
    : text.trim() === ''
      ? Number.NaN
      : Number(text);
  if (!Number.isFinite(value))
    throw invalid(`${what} must be a number (or a fraction like 1/255), got '${text}'`);
  return value;
}

function parseList(text: string, what: string, preset: readonly number[]): number[] {
  if (text.toLowerCase() === 'imagenet') return [...preset];
  return text.split(':').map((part) => parseNumber(part, what));
}

/**
 * Checks a spec (from JSON or code) and returns it with every field validated. Throws a
 * QgrainError with code 'invalid-spec' saying which field is wrong.
 */
export function validatePreprocessSpec(spec: PreprocessSpec): PreprocessSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid('expected an object');
  const known = new Set([
    'size',
    'keepAspect',
    'shortSide',
    'crop',
    'pad',
    'scale',
    'mean',
    'std',
    'layout',
    'order',
    'channels',
  ]);
  for (const key of Object.keys(spec)) if (!known.has(key)) throw invalid(`unknown field '${key}'`);
  for (const key of ['size', 'crop'] as const) {
    const pair = spec[key];
    if (pair !== undefined) {
      if (!Array.isArray(pair) || pair.length !== 2) throw invalid(`${key} must be [height, width]`);
      positiveInteger(pair[0], `${key} height`);
      positiveInteger(pair[1], `${key} width`);
    }
  }
  if (spec.shortSide !== undefined) positiveInteger(spec.shortSide, 'shortSide');
  if (spec.keepAspect && !spec.size)
    throw invalid('keep-aspect needs a size (HxW) to scale to and pad up to');
  if (spec.size && spec.shortSide !== undefined) throw invalid('use either size or short, not both');
  const channels = spec.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw invalid(`channels must be 1 or 3, got ${channels}`);
  for (const key of ['mean', 'std'] as const) {
    const list = spec[key];
    if (list === undefined) continue;
    if (
      !Array.isArray(list) ||
      (list.length !== 1 && list.length !== channels) ||
      list.some((v) => !Number.isFinite(v))
    ) {
      throw invalid(`${key} must hold 1 or ${channels} finite numbers, got ${JSON.stringify(list)}`);
    }
    if (key === 'std' && list.some((v) => v === 0)) throw invalid('std must not be 0');
  }
  for (const key of ['pad', 'scale'] as const) {
    const value = spec[key];
    if (value !== undefined && !Number.isFinite(value)) throw invalid(`${key} must be a finite number`);
  }
  if (spec.layout !== undefined && spec.layout !== 'nchw' && spec.layout !== 'nhwc') {
    throw invalid(`layout must be nchw or nhwc, got '${spec.layout}'`);
  }
  if (spec.order !== undefined && spec.order !== 'rgb' && spec.order !== 'bgr') {
    throw invalid(`order must be rgb or bgr, got '${spec.order}'`);
  }
  return spec;
}

/**
 * Parses the CLI text form: comma-separated `key=value` items and flags, e.g.
 * `size=48x320,keep-aspect,pad=0,scale=1/255,mean=0.5,std=0.5,layout=nchw,order=rgb`.
 * Keys: size=HxW, keep-aspect, short=N, crop=HxW (or N), pad=V, scale=V (1/255 allowed),
 * mean=a:b:c | imagenet, std=a:b:c | imagenet, layout=nchw|nhwc, order=rgb|bgr, channels=1|3 (or gray).
 * Text starting with `{` is read as the JSON form of {@link PreprocessSpec}.
 */
export function parsePreprocessSpec(text: string): PreprocessSpec {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw invalid(`not valid JSON: ${(error as Error).message}`);
    }
    return validatePreprocessSpec(parsed as PreprocessSpec);
  }
  const spec: { -readonly [K in keyof PreprocessSpec]: PreprocessSpec[K] } = {};
  for (const item of trimmed
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    switch (key) {
      case 'size':
        spec.size = parsePair(value, 'size');
        break;
      case 'keep-aspect':
        spec.keepAspect = true;
        break;
      case 'short':
        spec.shortSide = positiveInteger(Number(value), 'short');
        break;
      case 'crop':
        spec.crop = parsePair(value, 'crop');
        break;
      case 'pad':
        spec.pad = parseNumber(value, 'pad');
        break;
      case 'scale':
        spec.scale = parseNumber(value, 'scale');
        break;
      case 'mean':
        spec.mean = parseList(value, 'mean', IMAGENET_MEAN);
        break;
      case 'std':
        spec.std = parseList(value, 'std', IMAGENET_STD);
        break;
      case 'layout':
        spec.layout = value.toLowerCase() as 'nchw' | 'nhwc';
        break;
      case 'order':
        spec.order = value.toLowerCase() as 'rgb' | 'bgr';
        break;
      case 'gray':
        spec.channels = 1;
        break;
      case 'channels':
        spec.channels = Number(value) as 1 | 3;
        break;
      default:
        throw invalid(
          `unknown item '${item}'; known: size=HxW, keep-aspect, short=N, crop=HxW, pad=V, scale=V, mean=a:b:c, std=a:b:c, layout=nchw|nhwc, order=rgb|bgr, channels=1|3`,
        );
    }
  }
  return validatePreprocessSpec(spec);
}

/** The text form of a spec (inverse of {@link parsePreprocessSpec}, defaults omitted). */
export function formatPreprocessSpec(spec: PreprocessSpec): string {
  const items: string[] = [];
  if (spec.size) items.push(`size=${spec.size[0]}x${spec.size[1]}`);
  if (spec.keepAspect) items.push('keep-aspect');
  if (spec.shortSide !== undefined) items.push(`short=${spec.shortSide}`);
  if (spec.crop) items.push(`crop=${spec.crop[0]}x${spec.crop[1]}`);
  if (spec.pad !== undefined) items.push(`pad=${spec.pad}`);
  if (spec.scale !== undefined) items.push(`scale=${spec.scale === DEFAULT_SCALE ? '1/255' : spec.scale}`);
  if (spec.mean) items.push(`mean=${spec.mean.join(':')}`);
  if (spec.std) items.push(`std=${spec.std.join(':')}`);
  if (spec.layout) items.push(`layout=${spec.layout}`);
  if (spec.order) items.push(`order=${spec.order}`);
  if (spec.channels !== undefined) items.push(`channels=${spec.channels}`);
  return items.join(',');
}

/** Per output index along one axis: the two source indices and the weight of the second. */
interface AxisTaps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly frac: Float64Array;
}

/**
 * Bilinear taps with half-pixel centers and edge clamping (OpenCV's INTER_LINEAR, ONNX Resize
 * 'half_pixel'): no antialiasing filter, so it matches how PaddleOCR (cv2.resize) and the
 * shared OCR calibration data were made; strong downscaling aliases, as it does there.
 */
function bilinearTaps(source: number, target: number): AxisTaps {
  const lo = new Int32Array(target);
  const hi = new Int32Array(target);
  const frac = new Float64Array(target);
  const ratio = source / target;
  for (let o = 0; o < target; o++) {
    const x = Math.max(0, (o + 0.5) * ratio - 0.5);
    const i = Math.min(Math.floor(x), source - 1);
    lo[o] = i;
    hi[o] = Math.min(i + 1, source - 1);
    frac[o] = x - i;
  }
  return { lo, hi, frac };
}

/** Bilinear resize of an RGB image to `height` x `width`. */
export function resizeBilinear(image: RgbImage, height: number, width: number): RgbImage {
  if (image.height === height && image.width === width) return image;
  const xs = bilinearTaps(image.width, width);
  const ys = bilinearTaps(image.height, height);
  // Rows first into a float64 scratch of source height, then columns: two 1-D passes.
  const rows = new Float64Array(image.height * width * 3);
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (y * image.width + xs.lo[x]!) * 3;
      const b = (y * image.width + xs.hi[x]!) * 3;
      const f = xs.frac[x]!;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) rows[o + c] = src[a + c]! + (src[b + c]! - src[a + c]!) * f;
    }
  }
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const a = ys.lo[y]! * width * 3;
    const b = ys.hi[y]! * width * 3;
    const f = ys.frac[y]!;
    for (let i = 0; i < width * 3; i++)
      out[y * width * 3 + i] = rows[a + i]! + (rows[b + i]! - rows[a + i]!) * f;
  }
  return { width, height, data: out };
}

function centerCrop(image: RgbImage, height: number, width: number, origin: string): RgbImage {
  if (height > image.height || width > image.width) {
    throw new QgrainError(
      'shape-mismatch',
      `${origin}: cannot center-crop ${height}x${width} from a ${image.height}x${image.width} image; resize first (size= or short=)`,
    );
  }
  const top = Math.floor((image.height - height) / 2);
  const left = Math.floor((image.width - width) / 2);
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const start = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(start, start + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/**
 * The per-sample output shape a spec produces, [C, H, W] or [H, W, C], with null where it
 * depends on the image (no size or crop given).
 */
export function preprocessOutputShape(spec: PreprocessSpec): (number | null)[] {
  const channels = spec.channels ?? 3;
  const hw: [number | null, number | null] = spec.crop
    ? [spec.crop[0], spec.crop[1]]
    : spec.size
      ? [spec.size[0], spec.size[1]]
      : [null, null];
  return (spec.layout ?? 'nchw') === 'nchw' ? [channels, ...hw] : [...hw, channels];
}

/**
 * Turns a decoded image into a float32 tensor of shape [1, C, H, W] (or [1, H, W, C]) as `spec`
 * says. `origin` names the image in errors.
 */
export function preprocessImage(image: RgbImage, spec: PreprocessSpec, origin = 'image'): Tensor<'float32'> {
  let img = image;
  let validWidth: number | undefined; // columns holding image data; the rest is padding
  if (spec.size) {
    const [h, w] = spec.size;
    if (spec.keepAspect) {
      validWidth = Math.min(w, Math.max(1, Math.round((img.width * h) / img.height)));
      img = resizeBilinear(img, h, validWidth);
    } else {
      img = resizeBilinear(img, h, w);
    }
  } else if (spec.shortSide !== undefined) {
    const s = spec.shortSide / Math.min(img.width, img.height);
    img = resizeBilinear(
      img,
      Math.max(1, Math.round(img.height * s)),
      Math.max(1, Math.round(img.width * s)),
    );
  }
  if (spec.crop) img = centerCrop(img, spec.crop[0], spec.crop[1], origin);
  const height = img.height;
  const width = spec.keepAspect && spec.size ? spec.size[1] : img.width;
  const channels = spec.channels ?? 3;
  const scale = spec.scale ?? DEFAULT_SCALE;
  const mean = spec.mean ?? [0];
  const std = spec.std ?? [1];
  const pad = spec.pad ?? 0;
  const bgr = spec.order === 'bgr';
  const nchw = (spec.layout ?? 'nchw') === 'nchw';
  const out = new Float32Array(channels * height * width);
  const filled = validWidth ?? width;
  const src = img.data;
  // Output index of (c, y, x) is rowOut + x * stride.
  const stride = nchw ? 1 : channels;
  for (let c = 0; c < channels; c++) {
    const m = mean[mean.length === 1 ? 0 : c]!;
    const s = std[std.length === 1 ? 0 : c]!;
    const from = bgr ? 2 - c : c;
    for (let y = 0; y < height; y++) {
      const rowIn = y * img.width * 3;
      const rowOut = nchw ? (c * height + y) * width : y * width * channels + c;
      if (channels === 1) {
        for (let x = 0; x < filled; x++) {
          const p = rowIn + x * 3;
          const raw = LUMA[0] * src[p]! + LUMA[1] * src[p + 1]! + LUMA[2] * src[p + 2]!;
          out[rowOut + x * stride] = (raw * scale - m) / s;
        }
      } else {
        for (let x = 0; x < filled; x++)
          out[rowOut + x * stride] = (src[rowIn + x * 3 + from]! * scale - m) / s;
      }
      for (let x = filled; x < width; x++) out[rowOut + x * stride] = pad;
    }
  }
  return new Tensor('float32', nchw ? [1, channels, height, width] : [1, height, width, channels], out);
}
