export { type BackendChoice, type SelectBackendOptions, selectBackend } from './select-backend.js';
export {
  CHUNK_ELEMENTS,
  type WasmArray,
  type WasmBackend,
  createWasmBackend,
  isWasmSimdSupported,
  kernelsWasmBytes,
} from './wasm-backend.js';
