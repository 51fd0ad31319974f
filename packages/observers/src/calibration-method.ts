import { QgrainError } from '@qgrain/tensor';
import { DEFAULT_AVERAGING_CONSTANT } from './moving-average-observer.js';
import { DEFAULT_PERCENTILE } from './percentile-threshold.js';

/** A calibration method: which observer to build, with its one parameter. */
export type CalibrationMethod =
  | { readonly kind: 'minmax' }
  | { readonly kind: 'moving-average'; readonly averagingConstant: number }
  | { readonly kind: 'percentile'; readonly percentile: number }
  | { readonly kind: 'entropy' }
  | { readonly kind: 'mse' };

const FORMS = 'minmax, moving-average[:c], percentile[:P], entropy or mse';

function invalid(text: string, why: string): QgrainError {
  return new QgrainError('invalid-spec', `invalid calibration method '${text}': ${why}; expected ${FORMS}`);
}

function parseNumber(text: string, part: string): number {
  // Number('') is 0 and Number('0x1') is 1: accept only plain decimals.
  if (!/^\d+(\.\d+)?(e-?\d+)?$/i.test(part)) throw invalid(text, `'${part}' is not a number`);
  return Number(part);
}

/**
 * Parses the text form used by the CLI and plan files: `minmax`, `moving-average` or
 * `moving-average:0.05`, `percentile` or `percentile:99.99`, `entropy`, `mse`.
 */
export function parseCalibrationMethod(text: string): CalibrationMethod {
  const [head, arg, ...rest] = text.trim().split(':');
  if (rest.length > 0) throw invalid(text, "more than one ':'");
  switch (head) {
    case 'minmax':
    case 'entropy':
    case 'mse':
      if (arg !== undefined) throw invalid(text, `'${head}' takes no parameter`);
      return { kind: head };
    case 'moving-average': {
      const c = arg === undefined ? DEFAULT_AVERAGING_CONSTANT : parseNumber(text, arg);
      if (!(c > 0 && c <= 1)) throw invalid(text, `the averaging constant ${c} must be in (0, 1]`);
      return { kind: 'moving-average', averagingConstant: c };
    }
    case 'percentile': {
      const p = arg === undefined ? DEFAULT_PERCENTILE : parseNumber(text, arg);
      if (!(p > 0 && p <= 100)) throw invalid(text, `the percentile ${p} must be in (0, 100]`);
      return { kind: 'percentile', percentile: p };
    }
    default:
      throw invalid(text, `unknown method '${head}'`);
  }
}

/** The text form of a method; parseCalibrationMethod(formatCalibrationMethod(m)) gives m back. */
export function formatCalibrationMethod(method: CalibrationMethod): string {
  switch (method.kind) {
    case 'moving-average':
      return `moving-average:${method.averagingConstant}`;
    case 'percentile':
      return `percentile:${method.percentile}`;
    default:
      return method.kind;
  }
}
