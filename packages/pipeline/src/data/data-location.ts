// The CLI's `--data` argument: `<input>=<path>`, a bare `<path>`, or
// `random:seed=N[,count=M][,<dim>=<size>...]`.
import { QgrainError } from '@qgrain/tensor';

/** Which reader a path needs. */
export type DataReaderKind = 'npy' | 'npy.gz' | 'npz' | 'json' | 'images' | 'random';

/** A parsed `--data` argument. */
export interface DataArgument {
  /** Model input it feeds; undefined for a bare path (the model's only input, or an .npz's member names). */
  readonly inputName?: string;
  /** File or folder path; 'random' for synthetic data. */
  readonly path: string;
  /** Set for `random:`; the other kinds follow from the path (see {@link readerKindForPath}). */
  readonly random?: {
    readonly seed: number;
    readonly count?: number;
    /** Sizes of symbolic input dims by name (`random:seed=1,sequence=512`); others are 1. */
    readonly dims?: Readonly<Record<string, number>>;
  };
}

const RANDOM_PREFIX = 'random';

/**
 * Parses `--data` text. `name=path` names the input when `name` holds no path separator (so
 * `./a=b.npy` is a path); `random:seed=7,count=16` asks for seeded synthetic data explicitly.
 */
export function parseDataArgument(text: string): DataArgument {
  const trimmed = text.trim();
  if (trimmed === '')
    throw new QgrainError('invalid-argument', '--data needs a path: --data <input>=<path> or --data <path>');
  const eq = trimmed.indexOf('=');
  const left = eq > 0 ? trimmed.slice(0, eq) : '';
  const named =
    eq > 0 && !/[/\\]/.test(left) && !left.startsWith(RANDOM_PREFIX + ':') && left !== RANDOM_PREFIX;
  const inputName = named ? left : undefined;
  const rest = named ? trimmed.slice(eq + 1) : trimmed;
  if (rest === RANDOM_PREFIX || rest.startsWith(`${RANDOM_PREFIX}:`)) {
    const options = new Map<string, string>();
    for (const item of rest
      .slice(RANDOM_PREFIX.length + 1)
      .split(',')
      .filter((s) => s !== '')) {
      const [key, value = ''] = item.split('=');
      options.set(key!.trim(), value.trim());
    }
    const seed = Number(options.get('seed'));
    if (!options.has('seed') || !Number.isInteger(seed)) {
      throw new QgrainError(
        'invalid-argument',
        `random data needs an explicit integer seed: --data random:seed=<n>[,count=<n>][,<dim>=<size>] (got '${text}')`,
      );
    }
    const countText = options.get('count');
    const count = countText === undefined ? undefined : Number(countText);
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
      throw new QgrainError(
        'invalid-argument',
        `random data count must be a positive integer (got '${countText}')`,
      );
    }
    const dims: Record<string, number> = {};
    for (const [key, value] of options) {
      if (key === 'seed' || key === 'count') continue;
      const size = Number(value);
      if (value === '' || !Number.isInteger(size) || size < 1) {
        throw new QgrainError(
          'invalid-argument',
          `random data: '${key}=${value}' must size a symbolic input dim with a positive integer, e.g. random:seed=1,sequence=512 (got '${text}')`,
        );
      }
      dims[key] = size;
    }
    return {
      ...(inputName ? { inputName } : {}),
      path: RANDOM_PREFIX,
      random: {
        seed,
        ...(count === undefined ? {} : { count }),
        ...(Object.keys(dims).length > 0 ? { dims } : {}),
      },
    };
  }
  if (rest === '') throw new QgrainError('invalid-argument', `--data '${text}' names an input but no path`);
  return inputName ? { inputName, path: rest } : { path: rest };
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
  );
}
