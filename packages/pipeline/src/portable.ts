// Everything that runs in any JavaScript runtime. index.ts adds the Node parts (files, the
// onnxruntime-node runner); browser.ts is this alone (the package's "browser" export).
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
  emitReshapedWeightDequantize,
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
  histogramTarget,
  type ObserverTarget,
  observerTargets,
  planQuantization,
} from './plan.js';
export { type Saturation, readerSaturation } from './saturation.js';
export {
  type ActivationReport,
  DEFAULT_CALIBRATION_METHOD,
  type QuantizeModelOptions,
  type QuantizeReport,
  type WeightReport,
  quantizeModel,
} from './quantize-model.js';
export {
  type OrtModuleLike,
  type OrtRunnerOptions,
  type Runner,
  type RunnerFactory,
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
  parseCalibrationCache,
  rangesFromCache,
  sha256Hex,
  validateCalibrationCache,
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
export { defaultHoldout, splitData } from './holdout.js';
export {
  type JsonNumber,
  type LayerRow,
  type QuantizationReportDocument,
  type SizeBreakdown,
  buildReportDocument,
  jsonNumber,
  sizeBreakdown,
} from './report.js';
export {
  BLOCKED_QDQ_OPSET,
  type BlockWeightReport,
  DEFAULT_WEIGHT_ONLY_SCHEME,
  MAX_WEIGHT_BLOCK,
  MIN_WEIGHT_BLOCK,
  type WeightOnlyFormat,
  type WeightOnlyOptions,
  type WeightOnlyReport,
  quantizeWeightsOnly,
} from './block-weights.js';
export {
  CLIP_SEARCH_MIN_RATIO,
  CLIP_SEARCH_STEPS,
  type ClipMethod,
  groupSquaredErrors,
  searchClipping,
} from './clip-search.js';
export {
  MATMUL_NBITS_ACCURACY_FLOAT32,
  MATMUL_NBITS_MIN_BLOCK,
  MS_DOMAIN,
  MS_DOMAIN_VERSION,
  type MatMulNBitsWeight,
  emitMatMulNBits,
  packMatMulNBits,
} from './matmul-nbits.js';
export {
  DYNAMIC_SCHEMES,
  type DynamicOptions,
  type DynamicReport,
  quantizeDynamic,
} from './dynamic-per-token.js';
export * from './report/weight-survey.js';
