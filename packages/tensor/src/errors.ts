const MARKER = Symbol.for('qgrain.error');

/** Stable codes a caller can branch on: `QgrainError.isInstance(e) && e.code === 'shape-mismatch'`. */
export type QgrainErrorCode =
  | 'invalid-argument'
  | 'shape-mismatch'
  | 'dtype-mismatch'
  | 'invalid-spec'
  | 'non-finite-range'
  | 'unsupported'
  | 'invalid-model'
  | 'io'
  | 'unsafe-path'
  | 'internal';

/**
 * The one base class of every error qgrain throws on purpose. It carries a stable `code` and
 * is recognised across package copies (two installed versions) through a global symbol marker.
 */
export class QgrainError extends Error {
  readonly [MARKER] = true;
  readonly code: QgrainErrorCode;

  constructor(code: QgrainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QgrainError';
    this.code = code;
  }

  /** True when `error` is a QgrainError from any copy of this package. */
  static isInstance(error: unknown): error is QgrainError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
