import { QgrainError, type QuantRange } from '@qgrain/tensor';
import { type Granularity, formatGranularity, parseGranularity } from './granularity.js';
import { type QuantType, formatQuantType, parseQuantType, storageOf } from './quant-type.js';

/** Element type of stored scales (float16 halves their cost; block-wise int4 uses it). */
export type ScaleType = 'float32' | 'float16';

/** Everything that decides how one tensor is quantized. */
export interface QuantSpec {
  readonly type: QuantType;
  readonly granularity: Granularity;
  /** Zero point fixed at the middle of the range (0 for signed types). Default: signed types. */
  readonly symmetric: boolean;
  /** Signed types only: drop the most negative code, e.g. int8 in [-127, 127]. */
  readonly narrowRange: boolean;
  /** Use one bit less than the type holds (int8 in [-64, 63]), for kernels that overflow otherwise. */
  readonly reduceRange: boolean;
  readonly scaleType: ScaleType;
}

/** Options of a spec text, after the second '/', joined by '+': `int8/per-tensor/asym+reduce`. */
const OPTION_WORDS = ['sym', 'asym', 'narrow', 'reduce', 'f16-scale'] as const;

/** Builds a spec, filling defaults: symmetric for signed types, asymmetric for unsigned ones. */
export function quantSpec(
  type: QuantType | string,
  granularity: Granularity | string,
  options: Partial<Omit<QuantSpec, 'type' | 'granularity'>> = {},
): QuantSpec {
  const t = typeof type === 'string' ? parseQuantType(type) : type;
  const g = typeof granularity === 'string' ? parseGranularity(granularity) : granularity;
  const spec: QuantSpec = {
    type: t,
    granularity: g,
    symmetric: options.symmetric ?? t.signed,
    narrowRange: options.narrowRange ?? false,
    reduceRange: options.reduceRange ?? false,
    scaleType: options.scaleType ?? 'float32',
  };
  if (spec.narrowRange && !t.signed) {
    throw new QgrainError(
      'invalid-spec',
      `narrow range applies to signed types; '${formatQuantType(t)}' is unsigned (use int${t.bits} or drop 'narrow')`,
    );
  }
  return spec;
}

/**
 * Parses the one text form of a scheme used by the CLI, reports and plan files:
 * `<type>/<granularity>[/<option>+<option>...]`, e.g. `int8/per-channel`, `int4/per-block:32`,
 * `uint8/per-tensor`, `int8/per-tensor/asym`, `int4/per-block:32/f16-scale`.
 */
export function parseQuantSpec(text: string): QuantSpec {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new QgrainError(
      'invalid-spec',
      `invalid scheme '${text}': expected <type>/<granularity>[/<options>], e.g. int8/per-channel or int4/per-block:32`,
    );
  }
  const type = parseQuantType(parts[0]!);
  const granularity = parseGranularity(parts[1]!);
  const options: { -readonly [K in keyof QuantSpec]?: QuantSpec[K] } = {};
  for (const word of parts[2]?.split('+') ?? []) {
    switch (word) {
      case 'sym':
        options.symmetric = true;
        break;
      case 'asym':
        options.symmetric = false;
        break;
      case 'narrow':
        options.narrowRange = true;
        break;
      case 'reduce':
        options.reduceRange = true;
        break;
      case 'f16-scale':
        options.scaleType = 'float16';
        break;
      default:
        throw new QgrainError(
          'invalid-spec',
          `invalid scheme '${text}': unknown option '${word}'; options are ${OPTION_WORDS.join(', ')} joined by '+'`,
        );
    }
  }
  return quantSpec(type, granularity, options);
}

/** The text form of a spec, leaving out options that are at their defaults. */
export function formatQuantSpec(spec: QuantSpec): string {
  const options: string[] = [];
  if (spec.symmetric !== spec.type.signed) options.push(spec.symmetric ? 'sym' : 'asym');
  if (spec.narrowRange) options.push('narrow');
  if (spec.reduceRange) options.push('reduce');
  if (spec.scaleType === 'float16') options.push('f16-scale');
  const base = `${formatQuantType(spec.type)}/${formatGranularity(spec.granularity)}`;
  return options.length > 0 ? `${base}/${options.join('+')}` : base;
}

/** The integer codes a spec may use, and the storage type that holds them. */
export function quantRangeOf(spec: QuantSpec): QuantRange {
  const bits = spec.reduceRange ? spec.type.bits - 1 : spec.type.bits;
  if (bits < 2)
    throw new QgrainError(
      'invalid-spec',
      `reduce range leaves fewer than 2 bits for ${formatQuantSpec(spec)}`,
    );
  const storage = storageOf(spec.type);
  if (spec.type.signed) {
    const qmax = 2 ** (bits - 1) - 1;
    return { storage, qmin: spec.narrowRange ? -qmax : -qmax - 1, qmax };
  }
  return { storage, qmin: 0, qmax: 2 ** bits - 1 };
}
