// Where calibration data comes from: a file or folder, or seeded random data, for one named
// input or for the model's inputs by their own names. Front ends parse their own syntax into this.
import { QgrainError } from '@qgrain/tensor';

/** Which reader a path needs. */
export type DataReaderKind = 'npy' | 'npy.gz' | 'npz' | 'json' | 'images' | 'random';

/** One data location: a path, or `random` for seeded synthetic data. */
export interface DataLocation {
  /** Model input it feeds; undefined for a bare path (the model's only input, or an .npz's member names). */
  readonly inputName?: string;
  /** File or folder path; ignored when `random` is set. */
  readonly path?: string;
  /** Seeded synthetic data instead of a path; the reader of a path follows from it (see {@link readerKindForPath}). */
  readonly random?: {
    readonly seed: number;
    readonly count?: number;
    /** Sizes of symbolic input dims by name (e.g. `{ sequence: 512 }`); named ones left out are 1. */
    readonly dims?: Readonly<Record<string, number>>;
    /** Float values uniform in [low, high) (default 0..1); integers in [low, high]. */
    readonly low?: number;
    readonly high?: number;
    /**
     * The whole shape of one sample of the input this location feeds (its `inputName`, or the
     * model's only input): needed when a dim is dynamic and has no name to size it by.
     */
    readonly shape?: readonly number[];
  };
}

/**
 * The reader for a path: by extension (.npy, .npy.gz, .npz, .json), or 'images' for a folder.
 * Throws naming the path when the extension is unknown.
 */
export function readerKindForPath(path: string, isDirectory: boolean): DataReaderKind {
  if (isDirectory) return 'images';
  const lower = path.toLowerCase();
  if (lower.endsWith('.npy.gz')) return 'npy.gz';
  if (lower.endsWith('.npy')) return 'npy';
  if (lower.endsWith('.npz')) return 'npz';
  if (lower.endsWith('.json')) return 'json';
  throw new QgrainError(
    'invalid-argument',
    `${path}: unknown calibration data format; use .npy, .npy.gz, .npz, .json, or a folder of .png/.jpg images`,
    { file: path },
  );
}
