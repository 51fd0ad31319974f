// Dequantization: stored integers widened to i32, then (q - zp) * scale in float64 lanes.
import { nextRun, runGroup0, runLength, runStep } from './layout';

// Widening kinds for dequantize input.
const WIDEN_I8: i32 = 0;
const WIDEN_U8: i32 = 1;
const WIDEN_I16: i32 = 2;
const _WIDEN_U16: i32 = 3;

/** Widens `count` stored integers of `kind` (0 i8, 1 u8, 2 i16, 3 u16) at src to i32 at dst. */
export function widen(src: usize, count: u32, kind: i32, dst: usize): void {
  let j: u32 = 0;
  if (kind === WIDEN_I8 || kind === WIDEN_U8) {
    const signed = kind === WIDEN_I8;
    for (; j + 8 <= count; j += 8) {
      const h = signed ? v128.load8x8_s(src + <usize>j) : v128.load8x8_u(src + <usize>j);
      const p = dst + ((<usize>j) << 2);
      v128.store(p, signed ? i32x4.extend_low_i16x8_s(h) : i32x4.extend_low_i16x8_u(h));
      v128.store(p, signed ? i32x4.extend_high_i16x8_s(h) : i32x4.extend_high_i16x8_u(h), 16);
    }
    for (; j < count; j++) {
      store<i32>(
        dst + ((<usize>j) << 2),
        signed ? <i32>load<i8>(src + <usize>j) : <i32>load<u8>(src + <usize>j),
      );
    }
  } else {
    const signed = kind === WIDEN_I16;
    for (; j + 4 <= count; j += 4) {
      const p = src + ((<usize>j) << 1);
      v128.store(dst + ((<usize>j) << 2), signed ? v128.load16x4_s(p) : v128.load16x4_u(p));
    }
    for (; j < count; j++) {
      const p = src + ((<usize>j) << 1);
      store<i32>(dst + ((<usize>j) << 2), signed ? <i32>load<i16>(p) : <i32>load<u16>(p));
    }
  }
}

// float32((q - zp) * s) for two lanes, in float64 exactly as JS computes it.
function dequantPair(q: v128, zp: v128, s: v128): v128 {
  return f64x2.mul(
    f64x2.sub(f64x2.convert_low_i32x4_s(q), f64x2.convert_low_i32x4_s(zp)),
    f64x2.promote_low_f32x4(s),
  );
}

/**
 * Dequantizes i32 values (qBase + 4 * i) of elements [start, end) into float32 at outBase + 4 * i.
 * Works in float64 lanes, which matches the JS reference for every zero point and storage type.
 */
export function dequantize(
  qBase: usize,
  start: u32,
  end: u32,
  scalePtr: usize,
  zpPtr: usize,
  outBase: usize,
): void {
  let i = start;
  while (i < end) {
    nextRun(i, end);
    const stop = i + runLength;
    let j = i;
    if (runStep === 0) {
      const g = (<usize>runGroup0) << 2;
      const zp = i32x4.splat(load<i32>(zpPtr + g));
      const s = f32x4.splat(load<f32>(scalePtr + g));
      for (; j + 4 <= stop; j += 4) {
        const q = v128.load(qBase + ((<usize>j) << 2));
        const lowPair = f32x4.demote_f64x2_zero(dequantPair(q, zp, s));
        const highPair = f32x4.demote_f64x2_zero(dequantPair(i64x2.shuffle(q, q, 1, 0), zp, s));
        v128.store(outBase + ((<usize>j) << 2), i64x2.shuffle(lowPair, highPair, 0, 2));
      }
    } else {
      let g = (<usize>runGroup0) << 2;
      for (; j + 4 <= stop; j += 4, g += 16) {
        const q = v128.load(qBase + ((<usize>j) << 2));
        const zp = v128.load(zpPtr + g);
        const s = v128.load(scalePtr + g);
        const lowPair = f32x4.demote_f64x2_zero(dequantPair(q, zp, s));
        const highPair = f32x4.demote_f64x2_zero(
          dequantPair(i64x2.shuffle(q, q, 1, 0), i64x2.shuffle(zp, zp, 1, 0), i64x2.shuffle(s, s, 1, 0)),
        );
        v128.store(outBase + ((<usize>j) << 2), i64x2.shuffle(lowPair, highPair, 0, 2));
      }
    }
    for (; j < stop; j++) {
      const g = (<usize>(runGroup0 + (j - i) * runStep)) << 2;
      const q = <f64>load<i32>(qBase + ((<usize>j) << 2));
      const v = (q - <f64>load<i32>(zpPtr + g)) * <f64>load<f32>(scalePtr + g);
      store<f32>(outBase + ((<usize>j) << 2), <f32>v);
    }
    i = stop;
  }
}
