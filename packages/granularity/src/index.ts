export {
  type AxisContext,
  type AxisName,
  type Granularity,
  type ResolvedGranularity,
  formatGranularity,
  layoutOf,
  parseGranularity,
  perAxis,
  perBlock,
  perChannel,
  perTensor,
  perToken,
  resolveGranularity,
  scaleShapeOf,
} from './granularity.js';
export { cosineSimilarity, maxAbsError, meanSquaredError, sqnr, sqnrFromSums } from './metrics.js';
export {
  MIN_SCALE_FLOAT16,
  MIN_SCALE_FLOAT32,
  type ObserveOptions,
  type QParams,
  type QParamsOptions,
  ZERO_RANGE_SCALE,
  qparamsFromData,
  qparamsFromRanges,
  qparamsFromValues,
} from './qparams.js';
export {
  type QuantSpec,
  type ScaleType,
  formatQuantSpec,
  parseQuantSpec,
  quantRangeOf,
  quantSpec,
} from './quant-spec.js';
export { type QuantType, formatQuantType, parseQuantType, storageBitsOf, storageOf } from './quant-type.js';
export { dequantize, fakeQuant, quantizationSqnr, quantize } from './quantize.js';
export { type StorageCost, storageCost } from './storage.js';
