// The `--data` flag's syntax: `<input>=<path>`, a bare `<path>`, or
// `random:seed=N[,count=M][,range=LO..HI][,shape=AxB...][,<dim>=<size>...]`, parsed into the
// pipeline's DataLocation.
import type { DataLocation } from '@qgrain/pipeline';
import { UsageError } from './exit.js';

const RANDOM_PREFIX = 'random';

/**
 * Parses one `--data` value. `name=path` names the input when `name` holds no path separator (so
 * `./a=b.npy` is a path); `random:seed=7,count=16` asks for seeded synthetic data explicitly.
 * A malformed value is a usage error: it exits 2 before any data is read.
 */
export function parseDataArgument(text: string): DataLocation {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError('--data needs a path: --data <input>=<path> or --data <path>');
  const eq = trimmed.indexOf('=');
  const left = eq > 0 ? trimmed.slice(0, eq) : '';
  const named =
    eq > 0 && !/[/\\]/.test(left) && !left.startsWith(`${RANDOM_PREFIX}:`) && left !== RANDOM_PREFIX;
  const inputName = named ? left : undefined;
  const rest = named ? trimmed.slice(eq + 1) : trimmed;
  const input = inputName ? { inputName } : {};
  if (rest === RANDOM_PREFIX || rest.startsWith(`${RANDOM_PREFIX}:`)) {
    return { ...input, random: parseRandom(rest.slice(RANDOM_PREFIX.length + 1), text) };
  }
  if (rest === '') throw new UsageError(`--data '${text}' names an input but no path`);
  return { ...input, path: rest };
}

/** Keys of `random:` that are not dim names. */
const RANDOM_KEYS = new Set(['seed', 'count', 'range', 'shape']);

/** A number as the command line writes it: optional sign, digits, fraction, exponent. */
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** `LO..HI`, e.g. `-1..1` or `16000..16000`. */
function parseRange(value: string, text: string): { low: number; high: number } {
  const [lo = '', hi = '', ...rest] = value.split('..');
  if (rest.length > 0 || !NUMBER.test(lo) || !NUMBER.test(hi) || Number(lo) > Number(hi)) {
    throw new UsageError(`random data range must be LO..HI with LO <= HI, e.g. range=-1..1 (got '${text}')`);
  }
  return { low: Number(lo), high: Number(hi) };
}

/** `AxBxC`, e.g. `1x512`; positive whole sizes. */
function parseShape(value: string, text: string): number[] {
  const dims = value.split('x').map((d) => (/^\d+$/.test(d) ? Number(d) : Number.NaN));
  if (value === '' || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new UsageError(`random data shape must be sizes joined by x, e.g. shape=1x512 (got '${text}')`);
  }
  return dims;
}

/**
 * `seed=N[,count=M][,range=LO..HI][,shape=AxB][,<dim>=<size>...]`: the seed is required, so a run
 * is always reproducible.
 */
function parseRandom(spec: string, text: string): NonNullable<DataLocation['random']> {
  const options = new Map<string, string>();
  for (const item of spec.split(',').filter((s) => s !== '')) {
    const [key, value = ''] = item.split('=');
    options.set(key!.trim(), value.trim());
  }
  const seed = Number(options.get('seed'));
  if (!options.has('seed') || !Number.isInteger(seed)) {
    throw new UsageError(
      `random data needs an explicit integer seed: --data [<input>=]random:seed=<n>[,count=<n>][,range=<lo>..<hi>][,shape=<AxB>][,<dim>=<size>] (got '${text}')`,
    );
  }
  const countText = options.get('count');
  const count = countText === undefined ? undefined : Number(countText);
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new UsageError(`random data count must be a positive integer (got '${countText}')`);
  }
  const rangeText = options.get('range');
  const range = rangeText === undefined ? undefined : parseRange(rangeText, text);
  const shapeText = options.get('shape');
  const shape = shapeText === undefined ? undefined : parseShape(shapeText, text);
  const dims: Record<string, number> = {};
  for (const [key, value] of options) {
    if (RANDOM_KEYS.has(key)) continue;
    const size = Number(value);
    if (value === '' || !Number.isInteger(size) || size < 1) {
      throw new UsageError(
        `random data: '${key}=${value}' must size a symbolic input dim (by its name) with a positive integer, e.g. random:seed=1,sequence=512 (got '${text}')`,
      );
    }
    dims[key] = size;
  }
  return {
    seed,
    ...(count === undefined ? {} : { count }),
    ...(range ?? {}),
    ...(shape ? { shape } : {}),
    ...(Object.keys(dims).length > 0 ? { dims } : {}),
  };
}
