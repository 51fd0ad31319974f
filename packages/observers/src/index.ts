export {
  AlignedHistogram,
  type AlignedHistogramJSON,
  DEFAULT_HISTOGRAM_BINS,
  type HistogramMode,
} from './aligned-histogram.js';
export {
  type CalibrationMethod,
  formatCalibrationMethod,
  parseCalibrationMethod,
} from './calibration-method.js';
export { type CreateObserverOptions, createObserver, observerFromJSON } from './create-observer.js';
export { DEFAULT_ENTROPY_LEVELS, entropyThresholdBins } from './entropy-threshold.js';
export {
  DEFAULT_CALIBRATION_BITS,
  DEFAULT_MIN_COVERAGE,
  type HistogramConfig,
  HistogramObserver,
  type HistogramOptions,
  type HistogramSelection,
} from './histogram-observer.js';
export { MinMaxObserver } from './min-max-observer.js';
export {
  DEFAULT_AVERAGING_CONSTANT,
  MovingAverageMinMaxObserver,
  type MovingAverageOptions,
} from './moving-average-observer.js';
export { expectedSquaredError, integratedSquaredError, mseThresholdBins } from './mse-threshold.js';
export {
  type BaseObserverConfig,
  OBSERVER_JSON_FORMAT,
  OBSERVER_JSON_VERSION,
  type ObservedRange,
  type Observer,
  type ObserverClip,
  type ObserverJSON,
  type ObserverKind,
  type ObserverOptions,
} from './observer.js';
export { type ObserverQParamsOptions, qparamsFromObserver } from './observer-qparams.js';
export {
  DEFAULT_PERCENTILE,
  nearestRank,
  percentileRange,
  percentileThreshold,
} from './percentile-threshold.js';
