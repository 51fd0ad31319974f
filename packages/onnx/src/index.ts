// The Node entry: the portable API plus reading and writing model files.
export * from './portable.js';
export { fileExternalData } from './external-data.js';
export { readModel } from './read-model.js';
export { ExternalDataSpill } from './spill.js';
export {
  DEFAULT_EXTERNAL_THRESHOLD,
  type WriteOptions,
  type WriteResult,
  writeModel,
} from './write-model.js';
export { EXTERNAL_DATA_ALIGNMENT } from './tensor-proto.js';
