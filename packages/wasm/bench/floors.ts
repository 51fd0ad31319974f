// Floors for bench/kernels.mjs: loops that do only part of a kernel's work, to show how fast that
// part alone runs next to the same-run copy. They are not kernels (their results are not the
// reference's) and are not in the package; the bench compiles this file when it runs.

/** Grows the memory by `bytes` (rounded up to pages) and returns where the new space starts. */
export function grow(bytes: u32): usize {
  const start = (<usize>memory.grow(<i32>((bytes + 0xffff) >>> 16))) << 16;
  return start;
}

/**
 * Quantize's division alone: x / s for `count` floats (a multiple of 16), four lanes at a time,
 * the quotients summed so the loop cannot be dropped. Every quantize with a general scale divides
 * each element once (a rounded reciprocal multiply can land on the other side of a tie).
 */
export function divideOnly(xPtr: usize, count: u32, s: f32): f32 {
  const d = f32x4.splat(s);
  let a = f32x4.splat(0);
  let b = f32x4.splat(0);
  for (let j: u32 = 0; j < count; j += 16) {
    const p = xPtr + ((<usize>j) << 2);
    const v0 = f32x4.div(v128.load(p), d);
    const v1 = f32x4.div(v128.load(p, 16), d);
    const v2 = f32x4.div(v128.load(p, 32), d);
    const v3 = f32x4.div(v128.load(p, 48), d);
    a = f32x4.add(a, f32x4.add(v0, v1));
    b = f32x4.add(b, f32x4.add(v2, v3));
  }
  return f32x4.extract_lane(f32x4.add(a, b), 0);
}

// round(x / s) clamped to [-8, 7] as i32 lanes: division, round half to even by the magic constant
// 1.5 * 2^23, clamp: the least the int4 quantize does per four elements.
function int4Lanes(x: v128, d: v128): v128 {
  const t = f32x4.add(f32x4.div(x, d), f32x4.splat(12582912.0));
  const c = f32x4.pmin(f32x4.pmax(t, f32x4.splat(12582904.0)), f32x4.splat(12582919.0));
  return i32x4.sub(c, i32x4.splat(0x4b400000));
}

/**
 * int4 quantization with one scale and zero point 0 and no NaN handling, packed two per byte: the
 * per-element work of the int4 block kernel without its per-block loads and its NaN check.
 * `count` is a multiple of 16.
 */
export function int4Only(xPtr: usize, count: u32, s: f32, outPtr: usize): void {
  const d = f32x4.splat(s);
  for (let j: u32 = 0; j < count; j += 16) {
    const p = xPtr + ((<usize>j) << 2);
    const a = i16x8.narrow_i32x4_s(int4Lanes(v128.load(p), d), int4Lanes(v128.load(p, 16), d));
    const b = i16x8.narrow_i32x4_s(int4Lanes(v128.load(p, 32), d), int4Lanes(v128.load(p, 48), d));
    const bytes = i8x16.narrow_i16x8_s(a, b);
    const pairs = v128.or(
      v128.and(bytes, i16x8.splat(0x0f)),
      v128.and(i16x8.shr_u(bytes, 4), i16x8.splat(0xf0)),
    );
    v128.store64_lane(outPtr + <usize>(j >> 1), i8x16.narrow_i16x8_u(pairs, pairs), 0);
  }
}

/**
 * The quantization error's float64 sums alone, in the order the contract fixes (element i into
 * partial sum i mod 4, two float64 lanes per instruction), with x * 0.5 standing in for the
 * fake-quantized value: promotions, differences, squares and the four dependent sums of signal
 * and noise. `count` is a multiple of 4.
 */
export function errorSumsOnly(xPtr: usize, count: u32): f64 {
  let signal01 = f64x2.splat(0);
  let signal23 = f64x2.splat(0);
  let noise01 = f64x2.splat(0);
  let noise23 = f64x2.splat(0);
  for (let j: u32 = 0; j < count; j += 4) {
    const x = v128.load(xPtr + ((<usize>j) << 2));
    const dq = f32x4.mul(x, f32x4.splat(0.5));
    const xLow = f64x2.promote_low_f32x4(x);
    const xHigh = f64x2.promote_low_f32x4(i64x2.shuffle(x, x, 1, 0));
    const eLow = f64x2.sub(xLow, f64x2.promote_low_f32x4(dq));
    const eHigh = f64x2.sub(xHigh, f64x2.promote_low_f32x4(i64x2.shuffle(dq, dq, 1, 0)));
    signal01 = f64x2.add(signal01, f64x2.mul(xLow, xLow));
    signal23 = f64x2.add(signal23, f64x2.mul(xHigh, xHigh));
    noise01 = f64x2.add(noise01, f64x2.mul(eLow, eLow));
    noise23 = f64x2.add(noise23, f64x2.mul(eHigh, eHigh));
  }
  const s = f64x2.add(signal01, signal23);
  const n = f64x2.add(noise01, noise23);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(n, 1);
}

/**
 * The histogram's counting alone: a bin (of 2048) taken from each float's mantissa bits instead
 * of computed, counted in four interleaved u16 counters per bin as the tabled kernel counts (two
 * extracts per four elements, one load, add and store per element). `count` is a multiple of 4;
 * the table holds 2048 x 8 bytes.
 */
export function countOnly(xPtr: usize, count: u32, tablePtr: usize): void {
  for (let j: u32 = 0; j < count; j += 4) {
    const bits = v128.load(xPtr + ((<usize>j) << 2));
    const at = v128.and(i32x4.shr_u(bits, 9), i32x4.splat(2047 << 3));
    const at01 = i64x2.extract_lane(at, 0);
    const at23 = i64x2.extract_lane(at, 1);
    const p0 = tablePtr + <usize>(<u32>at01);
    const p1 = tablePtr + <usize>(<u32>(at01 >>> 32));
    const p2 = tablePtr + <usize>(<u32>at23);
    const p3 = tablePtr + <usize>(<u32>(at23 >>> 32));
    store<u16>(p0, load<u16>(p0) + 1);
    store<u16>(p1, load<u16>(p1, 2) + 1, 2);
    store<u16>(p2, load<u16>(p2, 4) + 1, 4);
    store<u16>(p3, load<u16>(p3, 6) + 1, 6);
  }
}
