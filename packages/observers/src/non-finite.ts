/**
 * A copy of `data` with every +-Infinity replaced by NaN, and how many there were. The kernels
 * already skip NaN, so this is how an observer ignores infinities; it runs only after a kernel
 * result showed that the batch holds one, so finite data pays nothing.
 */
export function replaceInfinities(data: Float32Array): { data: Float32Array; count: number } {
  const out = new Float32Array(data);
  let count = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
      out[i] = Number.NaN;
      count++;
    }
  }
  return { data: out, count };
}

/**
 * True when a batch's per-group minima and maxima show an infinity in the data: a minimum of
 * -Infinity or a maximum of +Infinity. (+Infinity minima are just groups that saw no value.)
 */
export function rangeHoldsInfinity(min: ArrayLike<number>, max: ArrayLike<number>): boolean {
  for (let g = 0; g < min.length; g++) {
    if (min[g] === Number.NEGATIVE_INFINITY || max[g] === Number.POSITIVE_INFINITY) return true;
  }
  return false;
}
