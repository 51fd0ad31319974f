// The browser entry (the package's "browser" export): everything but Node file access and the
// onnxruntime-node runner. Data comes in as bytes (npyBytesSource, imageSource, jsonSource, ...),
// models run through webRunnerFactory or any Runner.
export * from './portable.js';
