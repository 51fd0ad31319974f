// Reductions: min/max and abs-max per group. pmin(a, b) is `b < a ? b : a` and pmax(a, b) is
// `a < b ? b : a`: exactly the JS comparisons, so NaN inputs are skipped and a NaN already in the
// accumulator stays.
import { nextRun, runGroup0, runLength, runStep } from './layout';

/** Folds max |x| of elements [start, end) into out[group]. */
export function absMax(xBase: usize, start: u32, end: u32, outPtr: usize): void {
  let i = start;
  while (i < end) {
    nextRun(i, end);
    const n = runLength;
    const stop = i + n;
    if (runStep === 0) {
      const g = outPtr + ((<usize>runGroup0) << 2);
      const m0 = load<f32>(g);
      let a0 = f32x4.splat(m0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      let j = i;
      for (; j + 16 <= stop; j += 16) {
        const p = xBase + ((<usize>j) << 2);
        a0 = f32x4.pmax(a0, f32x4.abs(v128.load(p)));
        a1 = f32x4.pmax(a1, f32x4.abs(v128.load(p, 16)));
        a2 = f32x4.pmax(a2, f32x4.abs(v128.load(p, 32)));
        a3 = f32x4.pmax(a3, f32x4.abs(v128.load(p, 48)));
      }
      for (; j + 4 <= stop; j += 4) a0 = f32x4.pmax(a0, f32x4.abs(v128.load(xBase + ((<usize>j) << 2))));
      a0 = f32x4.pmax(f32x4.pmax(a0, a1), f32x4.pmax(a2, a3));
      let m = f32x4.extract_lane(a0, 0);
      const l1 = f32x4.extract_lane(a0, 1);
      const l2 = f32x4.extract_lane(a0, 2);
      const l3 = f32x4.extract_lane(a0, 3);
      if (l1 > m) m = l1;
      if (l2 > m) m = l2;
      if (l3 > m) m = l3;
      for (; j < stop; j++) {
        const a = Mathf.abs(load<f32>(xBase + ((<usize>j) << 2)));
        if (a > m) m = a;
      }
      store<f32>(g, m);
    } else {
      let g = outPtr + ((<usize>runGroup0) << 2);
      let j = i;
      for (; j + 4 <= stop; j += 4, g += 16) {
        v128.store(g, f32x4.pmax(v128.load(g), f32x4.abs(v128.load(xBase + ((<usize>j) << 2)))));
      }
      for (; j < stop; j++, g += 4) {
        const a = Mathf.abs(load<f32>(xBase + ((<usize>j) << 2)));
        if (a > load<f32>(g)) store<f32>(g, a);
      }
    }
    i = stop;
  }
}

/** Folds the minimum and maximum of elements [start, end) into min[group] and max[group]. */
export function minMax(xBase: usize, start: u32, end: u32, minPtr: usize, maxPtr: usize): void {
  let i = start;
  while (i < end) {
    nextRun(i, end);
    const stop = i + runLength;
    if (runStep === 0) {
      const gMin = minPtr + ((<usize>runGroup0) << 2);
      const gMax = maxPtr + ((<usize>runGroup0) << 2);
      let lo0 = f32x4.splat(load<f32>(gMin));
      let hi0 = f32x4.splat(load<f32>(gMax));
      let lo1 = lo0;
      let hi1 = hi0;
      let j = i;
      for (; j + 8 <= stop; j += 8) {
        const p = xBase + ((<usize>j) << 2);
        const v0 = v128.load(p);
        const v1 = v128.load(p, 16);
        lo0 = f32x4.pmin(lo0, v0);
        hi0 = f32x4.pmax(hi0, v0);
        lo1 = f32x4.pmin(lo1, v1);
        hi1 = f32x4.pmax(hi1, v1);
      }
      for (; j + 4 <= stop; j += 4) {
        const v = v128.load(xBase + ((<usize>j) << 2));
        lo0 = f32x4.pmin(lo0, v);
        hi0 = f32x4.pmax(hi0, v);
      }
      lo0 = f32x4.pmin(lo0, lo1);
      hi0 = f32x4.pmax(hi0, hi1);
      let mn = f32x4.extract_lane(lo0, 0);
      let mx = f32x4.extract_lane(hi0, 0);
      const a = f32x4.extract_lane(lo0, 1);
      const b = f32x4.extract_lane(lo0, 2);
      const c = f32x4.extract_lane(lo0, 3);
      if (a < mn) mn = a;
      if (b < mn) mn = b;
      if (c < mn) mn = c;
      const d = f32x4.extract_lane(hi0, 1);
      const e = f32x4.extract_lane(hi0, 2);
      const f = f32x4.extract_lane(hi0, 3);
      if (d > mx) mx = d;
      if (e > mx) mx = e;
      if (f > mx) mx = f;
      for (; j < stop; j++) {
        const v = load<f32>(xBase + ((<usize>j) << 2));
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      store<f32>(gMin, mn);
      store<f32>(gMax, mx);
    } else {
      let gMin = minPtr + ((<usize>runGroup0) << 2);
      let gMax = maxPtr + ((<usize>runGroup0) << 2);
      let j = i;
      for (; j + 4 <= stop; j += 4, gMin += 16, gMax += 16) {
        const v = v128.load(xBase + ((<usize>j) << 2));
        v128.store(gMin, f32x4.pmin(v128.load(gMin), v));
        v128.store(gMax, f32x4.pmax(v128.load(gMax), v));
      }
      for (; j < stop; j++, gMin += 4, gMax += 4) {
        const v = load<f32>(xBase + ((<usize>j) << 2));
        if (v < load<f32>(gMin)) store<f32>(gMin, v);
        if (v > load<f32>(gMax)) store<f32>(gMax, v);
      }
    }
    i = stop;
  }
}

/** Replaces -0 by +0 in `count` floats: reductions store a zero result as +0. */
export function canonicalZero(ptr: usize, count: u32): void {
  const zero = f32x4.splat(0);
  let j: u32 = 0;
  for (; j + 4 <= count; j += 4) {
    const p = ptr + ((<usize>j) << 2);
    const v = v128.load(p);
    v128.store(p, v128.bitselect(zero, v, f32x4.eq(v, zero)));
  }
  for (; j < count; j++) {
    const p = ptr + ((<usize>j) << 2);
    if (load<f32>(p) === 0) store<f32>(p, 0);
  }
}
