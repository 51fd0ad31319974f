import { type QParams, type QParamsOptions, type QuantSpec, qparamsFromRanges } from '@qgrain/granularity';
import { QgrainError } from '@qgrain/tensor';
import type { Observer } from './observer.js';

/** Options of `qparamsFromObserver`: the tensor shape defaults to the first batch's. */
export interface ObserverQParamsOptions extends QParamsOptions {
  readonly shape?: readonly number[];
}

/**
 * QParams for `spec` from what an observer chose, via `qparamsFromRanges` (which widens each
 * range to contain 0). The spec's granularity must give the observer's group count for the shape.
 */
export function qparamsFromObserver(
  observer: Observer,
  spec: QuantSpec,
  options: ObserverQParamsOptions = {},
): QParams {
  const shape = options.shape ?? observer.shape;
  const name = options.name ?? observer.name;
  if (shape === undefined) {
    throw new QgrainError(
      'invalid-argument',
      `${name === undefined ? 'observer' : `tensor '${name}'`}: the observer has seen no batch, so there is no shape ` +
        'to build qparams for; observe calibration data first or pass { shape }',
    );
  }
  const { min, max } = observer.range();
  return qparamsFromRanges(min, max, spec, shape, {
    context: options.context ?? observer.config.context,
    ...(name === undefined ? {} : { name }),
  });
}
