import { QgrainError } from './errors.js';
import { formatShape, normalizeAxis, shapeSize } from './shape.js';

/**
 * How the elements of a row-major tensor fall into quantization groups, in the form kernels
 * iterate: the tensor is viewed as [outer, dim, inner] around one axis, and the axis is cut
 * into blocks of `block` indices.
 *
 * - `shared` mode: the group of element (o, d, i) is floor(d / block), whatever o and i are.
 *   Per-tensor is shared with block = dim; per-axis is shared with block = 1.
 * - `blocked` mode: every (o, block, i) is its own group, numbered row-major over
 *   [outer, ceil(dim / block), inner], which is also the layout of ONNX's blocked scale tensor.
 *   Per-block and per-token are blocked.
 */
export interface GroupLayout {
  readonly mode: 'shared' | 'blocked';
  readonly outer: number;
  readonly dim: number;
  readonly inner: number;
  readonly block: number;
  /** Number of groups (length of the scale and zero point arrays). */
  readonly groups: number;
}

function viewAround(shape: readonly number[], axis: number): { outer: number; dim: number; inner: number } {
  const a = normalizeAxis(axis, shape.length, `tensor of shape ${formatShape(shape)}`);
  return {
    outer: shapeSize(shape.slice(0, a)),
    dim: shape[a]!,
    inner: shapeSize(shape.slice(a + 1)),
  };
}

/** One group for the whole tensor. */
export function perTensorLayout(shape: readonly number[]): GroupLayout {
  const size = shapeSize(shape);
  return { mode: 'shared', outer: 1, dim: size, inner: 1, block: Math.max(size, 1), groups: 1 };
}

/** One group per index of `axis`. */
export function perAxisLayout(shape: readonly number[], axis: number): GroupLayout {
  const { outer, dim, inner } = viewAround(shape, axis);
  return { mode: 'shared', outer, dim, inner, block: 1, groups: dim };
}

/** Blocks of `block` consecutive indices along `axis`, the last block possibly shorter. */
export function perBlockLayout(shape: readonly number[], axis: number, block: number): GroupLayout {
  if (!Number.isInteger(block) || block < 1) {
    throw new QgrainError('invalid-argument', `block size must be a positive integer, got ${block}`);
  }
  const { outer, dim, inner } = viewAround(shape, axis);
  return { mode: 'blocked', outer, dim, inner, block, groups: outer * Math.ceil(dim / block) * inner };
}

/** The group that holds the element at flat (row-major) index `index`. */
export function groupOf(layout: GroupLayout, index: number): number {
  const i = index % layout.inner;
  const rest = (index - i) / layout.inner;
  const d = rest % layout.dim;
  const b = Math.floor(d / layout.block);
  if (layout.mode === 'shared') return b;
  const o = (rest - d) / layout.dim;
  return (o * Math.ceil(layout.dim / layout.block) + b) * layout.inner + i;
}

/** Collects the element indices of every group (for tests and small tensors; kernels use runs). */
export function groupMembers(layout: GroupLayout): number[][] {
  const members: number[][] = Array.from({ length: layout.groups }, () => []);
  forEachSegment(layout, (start, length, group0, groupStep) => {
    for (let k = 0; k < length; k++) members[group0 + k * groupStep]!.push(start + k);
  });
  return members;
}

/** Throws unless `length` elements are what the layout describes. */
export function assertLayoutFits(layout: GroupLayout, length: number, what = 'input'): void {
  const expected = layout.outer * layout.dim * layout.inner;
  if (expected !== length) {
    throw new QgrainError(
      'shape-mismatch',
      `${what} has ${length} elements but the group layout covers ${expected}`,
    );
  }
}

/**
 * Walks the tensor in memory order as contiguous segments: element `start + k` of a segment
 * belongs to group `group0 + k * groupStep`, with groupStep 0 (the segment is one group) or 1
 * (consecutive elements are consecutive groups). Every layout decomposes this way, in few
 * segments for the common cases (per-tensor: one; per-axis on the last axis: one per row;
 * blocks on the last axis: one per block), which is what keeps kernel loops tight.
 */
export function forEachSegment(
  layout: GroupLayout,
  visit: (start: number, length: number, group0: number, groupStep: 0 | 1) => void,
): void {
  const { outer, dim, inner, block } = layout;
  const total = outer * dim * inner;
  if (total === 0) return;
  if (layout.groups === 1) {
    visit(0, total, 0, 0);
    return;
  }
  const blocksPerRow = Math.ceil(dim / block);
  if (layout.mode === 'shared') {
    if (inner === 1 && block === 1) {
      for (let o = 0; o < outer; o++) visit(o * dim, dim, 0, 1);
      return;
    }
    for (let o = 0; o < outer; o++) {
      if (inner === 1) {
        for (let b = 0; b < blocksPerRow; b++) {
          const d0 = b * block;
          visit(o * dim + d0, Math.min(block, dim - d0), b, 0);
        }
      } else {
        for (let d = 0; d < dim; d++) visit((o * dim + d) * inner, inner, Math.floor(d / block), 0);
      }
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      for (let b = 0; b < blocksPerRow; b++) {
        const d0 = b * block;
        visit(o * dim + d0, Math.min(block, dim - d0), o * blocksPerRow + b, 0);
      }
    } else {
      for (let d = 0; d < dim; d++) {
        visit((o * dim + d) * inner, inner, (o * blocksPerRow + Math.floor(d / block)) * inner, 1);
      }
    }
  }
}
