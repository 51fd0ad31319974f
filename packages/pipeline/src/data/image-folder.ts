import { QgrainError } from '@qgrain/tensor';
import { type DataSource, type Sample, UNNAMED_INPUT } from './data-source.js';
import { decodeImage } from './image-decode.js';
import {
  type PreprocessSpec,
  formatPreprocessSpec,
  preprocessImage,
  preprocessOutputShape,
  validatePreprocessSpec,
} from './preprocess.js';

/** An image the reader can load on demand (a file on disk, a browser File, a fetched URL). */
export interface ImageEntry {
  /** File name (no folder), used for sorting, filtering and error messages. */
  readonly name: string;
  /** Loads the encoded bytes. */
  read(): Promise<Uint8Array>;
}

/** Options of {@link imageSource}. */
export interface ImageSourceOptions {
  readonly preprocess: PreprocessSpec;
  /** Keeps names matching a glob (`*`, `?`, e.g. `rec_*.png`) or, without wildcards, starting with it. */
  readonly filter?: string;
  /** Model input the images feed (default: the model's only input). */
  readonly inputName?: string;
  /** Where the images come from (a folder path), for messages. */
  readonly origin?: string;
}

/** File extensions read as images (lower case). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** True when `name` has an image extension. */
export function isImageFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** True when `name` matches `filter`: a glob with `*` and `?`, or a plain prefix. */
export function matchesNameFilter(name: string, filter: string | undefined): boolean {
  if (filter === undefined || filter === '') return true;
  if (!/[*?]/.test(filter)) return name.startsWith(filter);
  const pattern = filter
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(name);
}

/**
 * A source over images: kept by extension and `filter`, sorted by name (code-unit order, the same
 * in every locale), decoded and preprocessed one at a time as samples are read.
 */
export function imageSource(entries: readonly ImageEntry[], options: ImageSourceOptions): DataSource {
  const spec = validatePreprocessSpec(options.preprocess);
  const origin = options.origin ?? 'images';
  const description = options.filter ? `${origin} (${options.filter})` : origin;
  const kept = entries
    .filter((e) => isImageFileName(e.name) && matchesNameFilter(e.name, options.filter))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (kept.length === 0) {
    throw new QgrainError(
      'io',
      `${description} holds no ${IMAGE_EXTENSIONS.join('/')} images${options.filter ? ` matching '${options.filter}'` : ''}`,
    );
  }
  const name = options.inputName ?? UNNAMED_INPUT;
  // Files before `from` are skipped unread.
  async function* decoded(from: number): AsyncIterable<Sample> {
    for (const entry of kept.slice(from)) {
      const where = `${origin}/${entry.name}`;
      const image = decodeImage(await entry.read(), where);
      yield { [name]: preprocessImage(image, spec, where) } as Sample;
    }
  }
  return {
    description,
    inputs: [
      {
        name,
        dtype: 'float32',
        shape: [kept.length, ...preprocessOutputShape(spec)],
        origin: description,
        note: `preprocess ${formatPreprocessSpec(spec) || 'none'}`,
      },
    ],
    count: kept.length,
    random: false,
    samples: () => decoded(0),
    samplesFrom: decoded,
  };
}
