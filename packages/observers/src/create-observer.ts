import { type CalibrationMethod, parseCalibrationMethod } from './calibration-method.js';
import { HistogramObserver, type HistogramOptions } from './histogram-observer.js';
import { MinMaxObserver } from './min-max-observer.js';
import { MovingAverageMinMaxObserver } from './moving-average-observer.js';
import type { Observer, ObserverOptions } from './observer.js';
import { readObserverJSON } from './observer-base.js';

/**
 * Options for `createObserver`: the shared ones plus the histogram's (bins, symmetric, bits,
 * minCoverage), which the min-max kinds ignore. The method's own parameter (percentile,
 * averaging constant) comes from the method.
 */
export type CreateObserverOptions = ObserverOptions & Omit<HistogramOptions, 'selection' | 'percentile'>;

/** Builds the observer a calibration method names, e.g. `createObserver('percentile:99.99')`. */
export function createObserver(
  method: string | CalibrationMethod,
  options: CreateObserverOptions = {},
): Observer {
  const m = typeof method === 'string' ? parseCalibrationMethod(method) : method;
  const shared: ObserverOptions = {
    ...(options.granularity === undefined ? {} : { granularity: options.granularity }),
    ...(options.context === undefined ? {} : { context: options.context }),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    ...(options.clip === undefined ? {} : { clip: options.clip }),
  };
  switch (m.kind) {
    case 'minmax':
      return new MinMaxObserver(shared);
    case 'moving-average':
      return new MovingAverageMinMaxObserver({ ...shared, averagingConstant: m.averagingConstant });
    case 'percentile':
      return new HistogramObserver({ ...options, selection: 'percentile', percentile: m.percentile });
    case 'entropy':
    case 'mse':
      return new HistogramObserver({ ...options, selection: m.kind });
  }
}

/** Rebuilds any observer from its `toJSON()` output (a calibration cache entry). */
export function observerFromJSON(json: unknown, options: Pick<ObserverOptions, 'backend'> = {}): Observer {
  switch (readObserverJSON(json).kind) {
    case 'minmax':
      return MinMaxObserver.fromJSON(json, options);
    case 'moving-average':
      return MovingAverageMinMaxObserver.fromJSON(json, options);
    case 'histogram':
      return HistogramObserver.fromJSON(json, options);
  }
}
