import { QgrainError } from './errors.js';

/** Number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** Throws unless every dimension is a non-negative integer. */
export function assertShape(shape: readonly number[], what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new QgrainError(
        'invalid-argument',
        `${what} [${shape.join(', ')}] has a dimension that is not a non-negative integer`,
      );
    }
  }
}

/** Turns a possibly negative axis into 0..rank-1, or throws naming the shape. */
export function normalizeAxis(axis: number, rank: number, what = 'tensor'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new QgrainError(
      'invalid-argument',
      `axis ${axis} is out of range for a rank-${rank} ${what}; use an axis in [${-rank}, ${rank - 1}]`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Formats a shape the way error messages and reports print it: `[64, 1, 3, 3]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
