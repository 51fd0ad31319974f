import { QgrainError } from '@qgrain/tensor';

// Saved state must reload bit for bit: JavaScript prints every double with the shortest text
// that parses back to the same double, so plain JSON numbers are exact. Only the non-finite
// values JSON cannot hold (the +-Infinity of a group that saw nothing) need a text form.

/** A float saved in JSON: finite values as numbers, the rest as 'Infinity' / '-Infinity' / 'NaN'. */
export type JsonFloat = number | 'Infinity' | '-Infinity' | 'NaN';

/** Encodes one float so that `decodeFloat` gives back the same value. */
export function encodeFloat(value: number): JsonFloat {
  if (Number.isFinite(value)) return value;
  if (value !== value) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

/** Encodes an array of floats (see `encodeFloat`). */
export function encodeFloats(values: ArrayLike<number>): JsonFloat[] {
  return Array.from(values, encodeFloat);
}

function invalidState(what: string, why: string): QgrainError {
  return new QgrainError(
    'invalid-argument',
    `saved observer state is not valid: ${what} ${why}; pass the object an observer's toJSON() produced`,
  );
}

/** Reads a float written by `encodeFloat`, or throws naming the field. */
export function decodeFloat(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (value === 'NaN') return Number.NaN;
  throw invalidState(what, `is ${JSON.stringify(value)}, not a number`);
}

/** Reads an array of floats of an expected length (when given). */
export function decodeFloats(value: unknown, what: string, length?: number): number[] {
  if (!Array.isArray(value)) throw invalidState(what, 'is not an array');
  if (length !== undefined && value.length !== length) {
    throw invalidState(what, `has ${value.length} entries where ${length} were expected`);
  }
  return value.map((v, i) => decodeFloat(v, `${what}[${i}]`));
}

/** Reads a plain object field. */
export function expectRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidState(what, 'is not an object');
  return value as Record<string, unknown>;
}

/** Reads a finite number field. */
export function expectNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidState(what, 'is not a finite number');
  return value;
}

/** Reads a non-negative integer field. */
export function expectCount(value: unknown, what: string): number {
  const n = expectNumber(value, what);
  if (!Number.isInteger(n) || n < 0) throw invalidState(what, 'is not a non-negative integer');
  return n;
}

/** Reads an optional shape field. */
export function expectShape(value: unknown, what: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidState(what, 'is not an array');
  return value.map((d, i) => expectCount(d, `${what}[${i}]`));
}
