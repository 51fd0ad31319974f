// The qgrain Backend kernels in AssemblyScript, compiled to WebAssembly with 128-bit SIMD: this
// entry re-exports every kernel family into one module (scripts/build-wasm.mjs compiles it).
//
// Every kernel mirrors a loop of packages/tensor/src/js-backend.ts and must give the same bits.
// Memory is managed by the TypeScript host: it passes byte addresses into linear memory. Element
// pointers are "bases": element i of a tensor lives at base + 4 * i (or + i for bytes), so a chunk
// copied to scratch is addressed with the tensor's own element indices (the base wraps modulo
// 2^32, which wasm32 address arithmetic does for us).
export { setLayout } from './layout';
export { absMax, minMax, canonicalZero } from './reduce';
export { histogram, histogramReset, histogramTable, histogramFold } from './histogram';
export { quantFits, quantize, quantizeNibbles } from './quantize';
export { widen, dequantize } from './dequantize';
export { resetError, errorSignal, errorNoise, fakeQuant } from './fake-quant';
export { packInt4, unpackInt4 } from './int4';
export { heapBase } from './memory';
