export * from './data/index.js';
export {
  type CalibrateOptions,
  type CalibrationResult,
  DEFAULT_CALIBRATION_BUDGET_BYTES,
  type FeedSource,
  calibrateActivations,
  exposeTensors,
  packByBudget,
} from './calibrate.js';
export {
  type ActivationStorage,
  type BiasOutcome,
  emitActivationQdq,
  emitBiasDequantize,
  emitWeightDequantize,
  qdqAttributes,
} from './emit-qdq.js';
export {
  type ActivationPlan,
  type BiasPlan,
  DEFAULT_ACTIVATION_SCHEME,
  DEFAULT_WEIGHT_SCHEME,
  type Plan,
  type PlanOptions,
  type TensorOverride,
  type WeightPlan,
  planQuantization,
} from './plan.js';
export {
  type ActivationReport,
  DEFAULT_CALIBRATION_METHOD,
  type QuantizeModelOptions,
  type QuantizeReport,
  type WeightReport,
  quantizeModel,
} from './quantize-model.js';
export {
  type OrtRunnerOptions,
  type Runner,
  type RunnerFactory,
  nodeRunnerFactory,
  ortRunner,
  webRunnerFactory,
} from './runner.js';
export { INSPECT_SCHEMES, type SchemeOutcome, analyzeWeight, weightView } from './weight-analysis.js';
export { WEIGHT_OPS, type WeightAttributes, type WeightRole, weightRoleOf } from './weight-roles.js';
export {
  CALIBRATION_CACHE_FORMAT,
  type CalibrationCache,
  type CalibrationRange,
  type ReadCalibrationCacheOptions,
  feedSourceFromData,
  formatCalibrationCache,
  rangesFromCache,
  readCalibrationCache,
  sha256Hex,
  validateCalibrationCache,
  writeCalibrationCache,
} from './calibration-cache.js';
export {
  type CalibrateModelOptions,
  activationsToCalibrate,
  calibrateModel,
  modelInputSpecs,
} from './calibrate-model.js';
export {
  type CompareOptions,
  DEFAULT_SQNR_THRESHOLD_DB,
  type ModelComparison,
  type TensorComparison,
  compareModels,
} from './compare.js';
export { defaultHoldout, splitFeeds } from './holdout.js';
export {
  type JsonNumber,
  type LayerRow,
  type QuantizationReportDocument,
  buildReportDocument,
  jsonNumber,
} from './report.js';
