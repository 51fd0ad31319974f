import { parseQuantSpec } from '@qgrain/granularity';
import { parseCalibrationMethod } from '@qgrain/observers';
import {
  DYNAMIC_SCHEMES,
  MAX_WEIGHT_BLOCK,
  MIN_WEIGHT_BLOCK,
  parseActivationCandidates,
  parseMethods,
  parseWeightCandidates,
} from '@qgrain/pipeline';
import { QgrainError } from '@qgrain/tensor';
import type { Command } from 'commander';
import { UsageError } from './exit.js';

// Option values are checked as soon as the command line is parsed, before any model or data file
// is opened: a typo in a scheme must cost nothing and exit 2, not fail minutes later with exit 1.
// The library parsers do the parsing, so the CLI accepts exactly what the library does; the
// rules here are only those of each mode (what each quantization path can emit).

/** Weight-only block quantization stores these types (int4 and uint4 hold any width up to 4 bits). */
function blockStorageOk(bits: number, signed: boolean): boolean {
  return bits <= 4 || (bits === 8 && signed);
}

function usage(flag: string, text: string, why: string): UsageError {
  return new UsageError(`${flag} '${text}': ${why}`);
}

/** Runs a library parser, turning its QgrainError into a usage error naming the flag. */
function parsed<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (error) {
    if (QgrainError.isInstance(error)) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
}

interface QuantizeValues {
  readonly method?: string;
  readonly weights?: string;
  readonly activations?: string;
  readonly dynamic?: string;
  readonly weightsOnly?: boolean;
  readonly output?: string;
  readonly report?: string;
}

/** The checks of `qgrain quantize`'s option values. */
export function checkQuantizeValues(options: QuantizeValues): void {
  if (options.weightsOnly && options.dynamic !== undefined) {
    throw new UsageError('--weights-only and --dynamic are two different modes; pick one');
  }
  if (options.method !== undefined) parsed('--method', options.method, parseCalibrationMethod);
  if (options.activations !== undefined) {
    const spec = parsed('--activations', options.activations, parseQuantSpec);
    if (spec.granularity.kind !== 'per-tensor') {
      throw usage(
        '--activations',
        options.activations,
        'static activations are quantized per tensor; use --dynamic int8/per-token for per-token activations',
      );
    }
  }
  if (options.dynamic !== undefined && !(DYNAMIC_SCHEMES as readonly string[]).includes(options.dynamic)) {
    throw usage('--dynamic', options.dynamic, `expected ${DYNAMIC_SCHEMES.join(' or ')}`);
  }
  if (options.weights !== undefined) {
    const text = options.weights;
    const spec = parsed('--weights', text, parseQuantSpec);
    const g = spec.granularity;
    if (options.dynamic !== undefined) {
      if (spec.type.bits !== 8 || !spec.type.signed || !spec.symmetric || g.kind === 'per-block') {
        throw usage('--weights', text, 'dynamic weights are symmetric int8, per channel or per tensor');
      }
    } else if (options.weightsOnly && g.kind === 'per-block') {
      if (g.size < MIN_WEIGHT_BLOCK || g.size > MAX_WEIGHT_BLOCK) {
        throw usage('--weights', text, `blocks hold ${MIN_WEIGHT_BLOCK} to ${MAX_WEIGHT_BLOCK} weights`);
      }
      if (!blockStorageOk(spec.type.bits, spec.type.signed) || spec.reduceRange) {
        throw usage('--weights', text, 'block weights are stored as int4, uint4 or int8');
      }
    }
  }
}

/** The checks of `qgrain calibrate`'s option values. */
export function checkCalibrateValues(options: { readonly method?: string }): void {
  if (options.method !== undefined) parsed('--method', options.method, parseCalibrationMethod);
}

/** The checks of `qgrain advise`'s option values: every candidate list parses, one budget is given. */
export function checkAdviseValues(options: {
  readonly weightsCandidates?: readonly string[];
  readonly activationsCandidates?: readonly string[];
  readonly methods?: readonly string[];
  readonly targetSqnr?: number;
  readonly maxSize?: string;
}): void {
  if (options.weightsCandidates)
    parsed('--weights-candidates', options.weightsCandidates.join(','), () =>
      parseWeightCandidates(options.weightsCandidates!),
    );
  if (options.activationsCandidates)
    parsed('--activations-candidates', options.activationsCandidates.join(','), () =>
      parseActivationCandidates(options.activationsCandidates!),
    );
  if (options.methods) parsed('--methods', options.methods.join(','), () => parseMethods(options.methods!));
  if ((options.targetSqnr === undefined) === (options.maxSize === undefined))
    throw new UsageError('advise needs a budget: --target-sqnr <dB> or --max-size <bytes|%>, one of the two');
}

/**
 * Checks the option values of the command about to run (a commander preAction hook): throws a
 * UsageError, which exits 2, before the command's action reads anything.
 */
export function checkOptionValues(_program: Command, command: Command): void {
  const options = command.opts();
  if (command.name() === 'quantize') checkQuantizeValues(options);
  else if (command.name() === 'calibrate') checkCalibrateValues(options);
  else if (command.name() === 'advise') checkAdviseValues(options);
}
