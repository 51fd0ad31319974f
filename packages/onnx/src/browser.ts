// The browser entry (the package's "browser" export): everything but Node file access. Models
// come in as bytes (parseModel) and go out as bytes (serializeModel).
export * from './portable.js';
