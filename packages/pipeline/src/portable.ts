// Everything that runs in any JavaScript runtime, stage by stage in the order of the data flow.
// index.ts adds the Node parts (files, the onnxruntime-node runner); browser.ts is this alone
// (the package's "browser" export).

// The one way in.
export {
  DEFAULT_ACTIVATION_SCHEMES,
  DEFAULT_WEIGHT_SCHEMES,
  QUANTIZE_MODES,
  type QuantizeOptions,
  type QuantizeResult,
  quantize,
} from './quantize.js';

// data/: calibration data readers, batching, binding to model inputs, held-back batches.
export * from './data/index.js';

// runner/: the two-method interface in front of every inference engine.
export {
  type OrtModuleLike,
  type OrtRunnerOptions,
  type Runner,
  type RunnerFactory,
  ortRunner,
  webRunnerFactory,
} from './runner/runner.js';

// plan/: what to quantize, at which scheme.
export {
  type ActivationPlan,
  type BiasPlan,
  DEFAULT_ACTIVATION_SCHEME,
  DEFAULT_WEIGHT_SCHEME,
  type ObserverTarget,
  type Plan,
  type PlanOptions,
  type TensorOverride,
  type WeightPlan,
  histogramTarget,
  observerTargets,
  planQuantization,
} from './plan/plan.js';
export { planModel, qdqOpsetOf } from './plan/plan-model.js';
export { type Saturation, readerSaturation } from './plan/saturation.js';
export { INSPECT_SCHEMES, type SchemeOutcome, analyzeWeight, weightView } from './plan/weight-analysis.js';
export { WEIGHT_OPS, type WeightAttributes, type WeightRole, weightRoleOf } from './plan/weight-roles.js';

// calibrate/: the augmented model run over the data, observers, the calibration cache.
export {
  type CalibrateOptions,
  type CalibrationResult,
  DEFAULT_CALIBRATION_BUDGET_BYTES,
  type FeedSource,
  calibrateActivations,
  exposeTensors,
  packByBudget,
} from './calibrate/calibrate.js';
export {
  type CalibrateModelOptions,
  type CalibrateShardOptions,
  calibrateModel,
  calibrateShard,
  modelInputSpecs,
} from './calibrate/calibrate-model.js';
export {
  CALIBRATION_STATE_FORMAT,
  type CalibrationShard,
  type CalibrationState,
  type MergeCalibrationStatesOptions,
  checkShard,
  formatCalibrationState,
  mergeCalibrationStates,
  parseCalibrationState,
  rangesFromObservers,
  shardBatchRange,
  shardSource,
  sourceBatches,
  validateCalibrationState,
} from './calibrate/calibration-state.js';
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
} from './calibrate/calibration-cache.js';

// modes/: static, weight-only (blocks) and dynamic quantization, reached through `quantize`.
export { DEFAULT_CALIBRATION_METHOD, type StaticOptions } from './modes/static.js';
export {
  DEFAULT_WEIGHT_ONLY_SCHEME,
  MAX_WEIGHT_BLOCK,
  MIN_WEIGHT_BLOCK,
  type WeightOnlyOptions,
} from './modes/weight-only.js';
export {
  CLIP_SEARCH_MIN_RATIO,
  CLIP_SEARCH_STEPS,
  type ClipMethod,
  groupSquaredErrors,
  searchClipping,
} from './modes/clip-search.js';
export { DYNAMIC_SCHEMES, type DynamicOptions } from './modes/dynamic.js';

// parallel/: weights quantized on worker threads, emitted in plan order.
export { MIN_PARALLEL_ELEMENTS, isWeightWorker } from './parallel/weight-pool.js';

// emit/: the Q/DQ and MatMulNBits nodes written into the graph.
export {
  type ActivationStorage,
  type BiasOutcome,
  emitActivationQdq,
  emitBiasDequantize,
  emitReshapedWeightDequantize,
  emitWeightDequantize,
  qdqAttributes,
} from './emit/emit-qdq.js';
export { type WeightWrittenHook, newInitializers } from './emit/written-initializers.js';
export {
  MATMUL_NBITS_ACCURACY_FLOAT32,
  MATMUL_NBITS_MIN_BLOCK,
  MS_DOMAIN,
  MS_DOMAIN_VERSION,
  type MatMulNBitsWeight,
  emitMatMulNBits,
  packMatMulNBits,
} from './emit/matmul-nbits.js';

// report/: what a run did and what it cost, and float-vs-quantized comparison.
export type {
  ActivationReport,
  BiasReport,
  QuantizeMode,
  QuantizeReport,
  WeightOnlyFormat,
  WeightReport,
} from './report/quantize-report.js';
export {
  type CompareOptions,
  DEFAULT_SQNR_THRESHOLD_DB,
  type ModelComparison,
  type TensorComparison,
  compareModels,
} from './report/compare.js';
export {
  type ActivationCoverage,
  type CoverageOptions,
  DEFAULT_COVERAGE_MIN_OUTSIDE,
  DEFAULT_COVERAGE_THRESHOLD,
  type RangeCoverage,
  type SkippedQuantize,
  rangeCoverage,
} from './report/coverage.js';
export {
  type JsonNumber,
  type ActivationRow,
  type LayerRow,
  type QuantizationReportDocument,
  type SizeBreakdown,
  type WeightStorageSummary,
  buildReportDocument,
  jsonNumber,
  sizeBreakdown,
  weightStorageSummary,
} from './report/report.js';
export * from './report/weight-survey.js';

// advise/: the granularity advisor and its plan file.
export { type Advice, type AdviseOptions, type ModelMeasurement, advise } from './advise/advise.js';
export {
  DEFAULT_ACTIVATION_CANDIDATES,
  DEFAULT_METHODS,
  DEFAULT_WEIGHT_CANDIDATES,
  parseActivationCandidates,
  parseMethods,
  parseWeightCandidates,
} from './advise/candidates.js';
export { type Budget, type Decision, type Option, choose } from './advise/choose.js';
export {
  PLAN_FORMAT,
  type PlanActivation,
  type PlanCandidate,
  type PlanDocument,
  type PlanWeight,
  applyPlan,
  checkPlanFits,
  planOptions,
  validatePlan,
} from './advise/plan-file.js';
export { type Switchboard, buildSwitchboard, switchFeeds } from './advise/switchboard.js';

// report/html/: the self-contained HTML report, the data it draws and the pieces that fill it.
export type {
  ActivationHistogram,
  CandidateBar,
  ChannelRanges,
  FrontierPoint,
  HtmlReportData,
  LayerRow as HtmlLayerRow,
} from './report/html/report-data.js';
export { renderHtmlReport } from './report/html/render.js';
export { MAX_HISTOGRAM_BINS, activationHistogram, downsampleHistogram } from './report/html/histograms.js';
export {
  CANDIDATE_ELEMENT_LIMIT,
  type QuantizeHtmlReportOptions,
  quantizeHtmlReport,
  weightChannelRanges,
} from './report/html/quantize-data.js';
