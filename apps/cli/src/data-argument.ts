// The `--data` flag's syntax: `<input>=<path>`, a bare `<path>`, or
// `random:seed=N[,count=M][,<dim>=<size>...]`, parsed into the pipeline's DataLocation.
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

/** `seed=N[,count=M][,<dim>=<size>...]`: the seed is required, so a run is always reproducible. */
function parseRandom(spec: string, text: string): NonNullable<DataLocation['random']> {
  const options = new Map<string, string>();
  for (const item of spec.split(',').filter((s) => s !== '')) {
    const [key, value = ''] = item.split('=');
    options.set(key!.trim(), value.trim());
  }
  const seed = Number(options.get('seed'));
  if (!options.has('seed') || !Number.isInteger(seed)) {
    throw new UsageError(
      `random data needs an explicit integer seed: --data random:seed=<n>[,count=<n>][,<dim>=<size>] (got '${text}')`,
    );
  }
  const countText = options.get('count');
  const count = countText === undefined ? undefined : Number(countText);
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new UsageError(`random data count must be a positive integer (got '${countText}')`);
  }
  const dims: Record<string, number> = {};
  for (const [key, value] of options) {
    if (key === 'seed' || key === 'count') continue;
    const size = Number(value);
    if (value === '' || !Number.isInteger(size) || size < 1) {
      throw new UsageError(
        `random data: '${key}=${value}' must size a symbolic input dim with a positive integer, e.g. random:seed=1,sequence=512 (got '${text}')`,
      );
    }
    dims[key] = size;
  }
  return {
    seed,
    ...(count === undefined ? {} : { count }),
    ...(Object.keys(dims).length > 0 ? { dims } : {}),
  };
}
