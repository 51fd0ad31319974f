import type { Backend } from '@qgrain/tensor';
import { type BackendChoice, selectBackend } from '@qgrain/wasm';
import type { CliIO } from './io.js';

/** The values `--backend` accepts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['js', 'wasm', 'auto'];

/** What `--backend` means when it is not given: WASM when the runtime has SIMD, else JS. */
export const DEFAULT_BACKEND: BackendChoice = 'auto';

/** Options every command sees (declared on the program). */
export interface GlobalOptions {
  readonly backend: BackendChoice;
}

/**
 * The kernels a command computes with. An 'auto' fallback to JS is worth one warning line on
 * stderr (results are the same, only slower); an explicit 'wasm' that cannot load is an error.
 */
export function resolveBackend(choice: BackendChoice, io: CliIO): Promise<Backend> {
  return selectBackend(choice, { onWarning: (message) => io.err(`${message}\n`) });
}
