import { type Backend, jsBackend } from '@qgrain/tensor';
import { createWasmBackend, isWasmSimdSupported } from './wasm-backend.js';

/** Which kernels to use: the JS reference, the WASM backend, or WASM when the runtime allows. */
export type BackendChoice = 'js' | 'wasm' | 'auto';

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** Receives the one-line warning of an 'auto' fallback; defaults to console.warn. */
  readonly onWarning?: (message: string) => void;
}

/**
 * Resolves a backend choice. 'wasm' rejects when WebAssembly SIMD is missing; 'auto' degrades to
 * the JS reference with a one-line warning instead (same results, only slower).
 */
export async function selectBackend(
  choice: BackendChoice,
  options: SelectBackendOptions = {},
): Promise<Backend> {
  if (choice === 'js') return jsBackend;
  if (choice === 'wasm' || isWasmSimdSupported()) return createWasmBackend();
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  warn(
    'qgrain: WebAssembly SIMD is not available in this runtime; using the JS backend (same results, slower)',
  );
  return jsBackend;
}
