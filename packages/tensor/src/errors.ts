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
  | 'missing-data'
  | 'plan-mismatch'
  | 'internal';

/**
 * Where an error happened and what value was at fault, as typed fields, so that a program can
 * branch on them without parsing the message. Each is set only where the thrower knows it.
 */
export interface QgrainErrorContext {
  /** The file being read or written (a model, its external data, a data file, a cache). */
  readonly file?: string;
  /** The graph node involved, by name. */
  readonly node?: string;
  /** The tensor (initializer, activation, graph input or output) involved, by name. */
  readonly tensor?: string;
  /** The offending value: an option's text, a declared size, a scheme. */
  readonly value?: unknown;
  /**
   * The API option at fault or missing, by its name in the options object (`data`, `activations`,
   * `preprocess`, ...), so that a front end can point at its own flag or field for it.
   */
  readonly option?: string;
}

/** Options of the QgrainError constructor: the error context plus the standard `cause`. */
export interface QgrainErrorOptions extends QgrainErrorContext {
  readonly cause?: unknown;
}

/**
 * The one base class of every error qgrain throws on purpose. It carries a stable `code`, the
 * context fields of {@link QgrainErrorContext} where known, and is recognised across package copies
 * (two installed versions) through a global symbol marker.
 */
export class QgrainError extends Error {
  readonly [MARKER] = true;
  readonly code: QgrainErrorCode;
  declare readonly file?: string;
  declare readonly node?: string;
  declare readonly tensor?: string;
  declare readonly value?: unknown;
  declare readonly option?: string;

  constructor(code: QgrainErrorCode, message: string, options: QgrainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QgrainError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.node !== undefined) this.node = options.node;
    if (options.tensor !== undefined) this.tensor = options.tensor;
    if (options.value !== undefined) this.value = options.value;
    if (options.option !== undefined) this.option = options.option;
  }

  /** True when `error` is a QgrainError from any copy of this package. */
  static isInstance(error: unknown): error is QgrainError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }

  /**
   * The same error with context filled in where it was not set yet: an outer layer that knows the
   * file adds it to an error thrown by code that only knew the tensor. Keeps code, message and cause.
   */
  static withContext(error: QgrainError, context: QgrainErrorContext): QgrainError {
    const merged: QgrainErrorOptions = {
      file: error.file ?? context.file,
      node: error.node ?? context.node,
      tensor: error.tensor ?? context.tensor,
      value: error.value ?? context.value,
      option: error.option ?? context.option,
      cause: error.cause,
    };
    const copy = new QgrainError(error.code, error.message, merged);
    if (error.stack) copy.stack = error.stack;
    return copy;
  }
}
