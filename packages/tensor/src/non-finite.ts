/**
 * How many values of `data` are NaN or +-Infinity (`count`), how many of those are NaN, and the
 * index of the first non-finite value and of the first NaN (-1 when none).
 */
export function countNonFinite(data: ArrayLike<number>): {
  count: number;
  first: number;
  nan: number;
  firstNan: number;
} {
  let count = 0;
  let nan = 0;
  let first = -1;
  let firstNan = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for every finite value and NaN for NaN and both infinities: one test for all three.
    if (v - v !== 0) {
      if (first < 0) first = i;
      count++;
      if (v !== v) {
        if (firstNan < 0) firstNan = i;
        nan++;
      }
    }
  }
  return { count, first, nan, firstNan };
}
