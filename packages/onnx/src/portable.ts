// Everything that runs in any JavaScript runtime: the parts that need Node's file system are
// added by index.ts, and browser.ts is this alone (the package's "browser" export).
export {
  type AttributeInit,
  getAttribute,
  makeAttribute,
  nodeSubgraphs,
  readFloat,
  readInt,
  readInts,
  readString,
  setAttribute,
} from './attributes.js';
export {
  type ModelInit,
  type ValueInit,
  createGraph,
  createModel,
  makeUnshapedValueInfo,
  makeValueInfo,
} from './builder.js';
export {
  OnnxDataType,
  dtypeOfOnnx,
  onnxByteLength,
  onnxOfDtype,
  onnxTypeName,
} from './data-type.js';
export type { ExternalDataReader } from './external-data.js';
export { Graph, type NodeInit } from './graph.js';
export { Initializer } from './initializer.js';
export { Model, type ParseOptions, parseModel } from './model.js';
export { PROTOBUF_MAX_BYTES, inlineModelSize } from './model-size.js';
export * from './proto-types.js';
export { onnxTypes } from './schema.js';
export { serializeModel } from './serialize.js';
export {
  type ExternalDataInfo,
  type TensorStorage,
  makeTensorProto,
  tensorFromBytes,
} from './tensor-proto.js';
export { clipBounds, scalarConstant } from './constant-values.js';
export { foldChannelAffines } from './fold-affine.js';
export { foldBatchNorms } from './fold-batch-norm.js';
export {
  HARD_SWISH_ALPHA,
  HARD_SWISH_BETA,
  fuseHardSwishes,
  spelledHardSwish,
} from './fuse-hard-swish.js';
export { stripExporterNotes } from './exporter-notes.js';
export { liftConstants } from './lift-constants.js';
export { type PrepareOptions, type PrepareSummary, prepareModel } from './prepare-model.js';
export { removeIdentities } from './remove-identity.js';
export { type OpsetUpgrade, minimumIrVersion, upgradeOpset } from './upgrade-opset.js';
export { elementTypes } from './element-types.js';
export {
  DYNAMIC_QUANTIZE_OPSET,
  QDQ_BLOCKED_OPSET,
  QDQ_PER_AXIS_OPSET,
  REDUCE_AXES_INPUT_OPSET,
} from './opsets.js';
export type { GraphOwner } from './graph-owner.js';
