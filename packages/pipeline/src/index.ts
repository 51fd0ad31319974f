// The Node entry: the portable API plus file-based data readers, calibration cache files and the
// onnxruntime-node runner.
export * from './portable.js';
export { readCalibrationCache, writeCalibrationCache } from './calibration-cache-files.js';
export { type OpenDataOptions, openDataArguments, openDataSource } from './data/node-files.js';
export { nodeRunnerFactory } from './runner.js';
