// The Node entry: the portable API plus file-based data readers, calibration cache files and the
// onnxruntime-node runner.
export * from './portable.js';
export {
  readCalibrationCache,
  readCalibrationState,
  writeCalibrationCache,
  writeCalibrationState,
} from './calibrate/calibration-cache-files.js';
export { type OpenDataOptions, openDataSource, openDataSources } from './data/node-files.js';
export { nodeRunnerFactory } from './runner/runner.js';
export { type RunnerPool, isRunnerWorker, openRunnerPool } from './runner/runner-pool.js';
