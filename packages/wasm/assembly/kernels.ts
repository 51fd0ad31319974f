// The qgrain Backend kernels in AssemblyScript, compiled to WebAssembly with 128-bit SIMD.
//
// Every function here mirrors a loop of packages/tensor/src/js-backend.ts and must give the same
// bits. Memory is managed by the TypeScript host: it passes byte addresses into linear memory.
// Element pointers are "bases": element i of a tensor lives at base + 4 * i (or + i for bytes),
// so a chunk copied to scratch is addressed with the tensor's own element indices (the base
// wraps modulo 2^32, which wasm32 address arithmetic does for us).

// Adding and subtracting 1.5 * 2^52 rounds a double to an integer, ties to even; the JS reference
// rounds this way, so the general (float64) path repeats it instead of calling nearest().
const ROUNDING_MAGIC: f64 = 6755399441055744.0;

// Layout of the current call (see GroupLayout in @qgrain/tensor); set once per kernel call.
let layoutBlocked: bool = false;
let layoutDim: u32 = 1;
let layoutInner: u32 = 1;
let layoutBlock: u32 = 1;
let layoutGroups: u32 = 1;
let layoutBlocksPerRow: u32 = 1;

// The run found by nextRun: elements [i, i + runLength) map to groups runGroup0 + k * runStep.
let runLength: u32 = 0;
let runGroup0: u32 = 0;
let runStep: u32 = 0;

/** Sets the group layout (mode 1 = blocked) that the per-group kernels walk. */
export function setLayout(blocked: i32, dim: u32, inner: u32, block: u32, groups: u32): void {
  layoutBlocked = blocked !== 0;
  layoutDim = dim;
  layoutInner = inner;
  layoutBlock = block;
  layoutGroups = groups;
  layoutBlocksPerRow = (dim + block - 1) / block;
}

// Finds the longest run starting at element i (and ending before `end`) whose groups are either
// one group or consecutive groups: the same decomposition as forEachSegment, but computable from
// any index, which lets the host cut a tensor into chunks anywhere.
function nextRun(i: u32, end: u32): void {
  const left = end - i;
  if (layoutGroups === 1) {
    runLength = left;
    runGroup0 = 0;
    runStep = 0;
    return;
  }
  if (layoutInner === 1) {
    const d = i % layoutDim;
    const o = i / layoutDim;
    if (!layoutBlocked && layoutBlock === 1) {
      runLength = min(layoutDim - d, left);
      runGroup0 = d;
      runStep = 1;
      return;
    }
    const b = d / layoutBlock;
    runLength = min(min(layoutBlock * (b + 1), layoutDim) - d, left);
    runGroup0 = layoutBlocked ? o * layoutBlocksPerRow + b : b;
    runStep = 0;
    return;
  }
  const k = i % layoutInner;
  const rest = i / layoutInner;
  const d = rest % layoutDim;
  const b = d / layoutBlock;
  runLength = min(layoutInner - k, left);
  if (layoutBlocked) {
    runGroup0 = ((rest / layoutDim) * layoutBlocksPerRow + b) * layoutInner + k;
    runStep = 1;
  } else {
    runGroup0 = b;
    runStep = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Reductions. pmin(a, b) is `b < a ? b : a` and pmax(a, b) is `a < b ? b : a`: exactly the JS
// comparisons, so NaN inputs are skipped and a NaN already in the accumulator stays.

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

/**
 * Adds `count` floats into `bins` float64 counters over [lo, hi]. The bin index is computed in
 * float64 exactly as the JS reference does; a NaN index (Inf * 0) is dropped, as a NaN property
 * write on a typed array is.
 */
export function histogram(xPtr: usize, count: u32, lo: f64, hi: f64, countsPtr: usize, bins: u32): void {
  if (bins === 0) return;
  const last = <f64>(bins - 1);
  const perUnit: f64 = hi > lo ? <f64>bins / (hi - lo) : 0;
  for (let j: u32 = 0; j < count; j++) {
    const v = load<f32>(xPtr + ((<usize>j) << 2));
    if (v !== v) continue;
    const b = Math.floor((<f64>v - lo) * perUnit);
    if (b !== b) continue;
    const k = b < 0 ? 0 : b > last ? last : b;
    const p = countsPtr + ((<usize>(<u32>k)) << 3);
    store<f64>(p, load<f64>(p) + 1);
  }
}

// The tabled histogram: the same bin indices as `histogram`, computed two float64 lanes at a time,
// counted in u32 sub-counters and added to the float64 counts once per call (histogramFold).
// Each bin owns four u32 counters (16 bytes), one per element index mod 4, so runs of equal values
// (the zeros after a ReLU) update four different addresses instead of waiting on one
// load-add-store chain. Slot `bins` collects the skipped NaN indices, which keeps the loop
// branch-free.

/** Zeroes the (bins + 1) x 4 u32 counters at tablePtr. */
export function histogramReset(tablePtr: usize, bins: u32): void {
  memory.fill(tablePtr, 0, (<usize>bins + 1) << 4);
}

// Bin index + 2^52 of two float64 values, as float64 lanes: floor((v - lo) * perUnit) clamped to
// [0, bins - 1], NaN to `bins`. Clamping before the floor is the same as after (the bounds are
// integers and floor is monotonic). pmax(y, 0) and pmin(t, last) keep a NaN, the final
// pmin(binsV, u) turns it into bins; adding 2^52 to an integer below 2^52 leaves it in the low
// 32 bits.
function binPair(v: v128, loV: v128, perUnitV: v128, lastV: v128, binsV: v128): v128 {
  const y = f64x2.mul(f64x2.sub(v, loV), perUnitV);
  const c = f64x2.pmin(binsV, f64x2.pmin(f64x2.pmax(y, f64x2.splat(0)), lastV));
  return f64x2.add(f64x2.floor(c), f64x2.splat(4503599627370496.0));
}

function countAt(tablePtr: usize, index: u32, lane: usize): void {
  const p = tablePtr + ((<usize>index) << 4) + lane;
  store<u32>(p, load<u32>(p) + 1);
}

/** Counts `count` floats at xPtr into the (bins + 1) x 4 u32 counters at tablePtr. */
export function histogramTable(xPtr: usize, count: u32, lo: f64, hi: f64, tablePtr: usize, bins: u32): void {
  const lastV = f64x2.splat(<f64>(bins - 1));
  const binsV = f64x2.splat(<f64>bins);
  const loV = f64x2.splat(lo);
  const perUnitV = f64x2.splat(hi > lo ? <f64>bins / (hi - lo) : 0);
  let j: u32 = 0;
  for (; j + 4 <= count; j += 4) {
    const x = v128.load(xPtr + ((<usize>j) << 2));
    const a = binPair(f64x2.promote_low_f32x4(x), loV, perUnitV, lastV, binsV);
    const b = binPair(f64x2.promote_low_f32x4(i64x2.shuffle(x, x, 1, 0)), loV, perUnitV, lastV, binsV);
    countAt(tablePtr, i32x4.extract_lane(a, 0), 0);
    countAt(tablePtr, i32x4.extract_lane(a, 2), 4);
    countAt(tablePtr, i32x4.extract_lane(b, 0), 8);
    countAt(tablePtr, i32x4.extract_lane(b, 2), 12);
  }
  for (; j < count; j++) {
    const v = f64x2.splat(<f64>load<f32>(xPtr + ((<usize>j) << 2)));
    countAt(tablePtr, i32x4.extract_lane(binPair(v, loV, perUnitV, lastV, binsV), 0), 0);
  }
}

/**
 * Adds the u32 counters at tablePtr to the `bins` float64 counts. Adding n at once equals adding 1
 * n times when every intermediate value is exact: true for an integral count c with
 * -2^53 <= c and c + n <= 2^53. Other counts (fractional, huge, NaN, infinite) get the n
 * additions one by one, as the reference makes them.
 */
export function histogramFold(tablePtr: usize, countsPtr: usize, bins: u32): void {
  for (let k: u32 = 0; k < bins; k++) {
    const t = tablePtr + ((<usize>k) << 4);
    const n = <f64>load<u32>(t) + <f64>load<u32>(t, 4) + <f64>load<u32>(t, 8) + <f64>load<u32>(t, 12);
    if (n === 0) continue;
    const p = countsPtr + ((<usize>k) << 3);
    let c = load<f64>(p);
    if (Math.floor(c) === c && c >= -9007199254740992.0 && c <= 9007199254740992.0 - n) {
      c += n;
    } else {
      for (let i: f64 = 0; i < n; i++) c += 1;
    }
    store<f64>(p, c);
  }
}

// ---------------------------------------------------------------------------------------------
// Quantization. The fast path works in float32 lanes and is exact when qmin, qmax and every zero
// point are integers within +/-2^21 (the host checks qmin/qmax, quantFits checks the zero points):
// then qmin - zp and qmax - zp are exact float32 values, so clamping in float32 equals the JS
// clamp in float64, and the rounded value fits an i32. Anything else takes the general path,
// a scalar float64 transcription of the JS code.

// The largest zero point magnitude the float32 path accepts: with |qmin|, |qmax|, |zp| <= 2^21,
// |qmin - zp| and |qmax - zp| stay below 2^22, where the ROUND_MAGIC_F32 trick is exact.
const FAST_LIMIT: i32 = 1 << 21;

// 1.5 * 2^23: for |v| < 2^22, v + ROUND_MAGIC_F32 lands where float32 spacing is 1, so the add
// rounds v half to even, and the sum's bit pattern is ROUND_MAGIC_BITS + round(v). This replaces
// nearest + trunc_sat (trunc_sat is a long instruction sequence on x86).
const ROUND_MAGIC_F32: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;

/** 1 when every zero point allows the float32 path. */
export function quantFits(zpPtr: usize, groups: u32): i32 {
  for (let g: u32 = 0; g < groups; g++) {
    const zp = load<i32>(zpPtr + ((<usize>g) << 2));
    if (zp > FAST_LIMIT || zp < -FAST_LIMIT) return 0;
  }
  return 1;
}

// Storage kinds of quantize output (bytes per element): 4-bit types are written as bytes and
// packed afterwards by packInt4.
const STORE_8: i32 = 0;
const STORE_16: i32 = 1;
// Any other kind (2) stores 32-bit lanes as they are.

// x / s clamped to [lo, hi] (NaN -> 0), as float32 lanes, before rounding.
function clampLanes(x: v128, s: v128, lo: v128, hi: v128): v128 {
  const v = f32x4.div(x, s);
  const low = v128.and(lo, f32x4.eq(v, v));
  return v128.bitselect(v128.bitselect(hi, v, f32x4.gt(v, hi)), low, f32x4.gt(v, lo));
}

// Bit patterns of v + ROUND_MAGIC_F32: round(v) + ROUND_MAGIC_BITS per lane (|v| < 2^22).
function roundedBits(v: v128): v128 {
  return f32x4.add(v, f32x4.splat(ROUND_MAGIC_F32));
}

function storeLanes(p: usize, q: v128, kind: i32): void {
  if (kind === STORE_8) {
    v128.store32_lane(p, i8x16.shuffle(q, q, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12), 0);
  } else if (kind === STORE_16) {
    v128.store64_lane(p, i8x16.shuffle(q, q, 0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13), 0);
  } else {
    v128.store(p, q);
  }
}

function storeOne(p: usize, q: i32, kind: i32): void {
  if (kind === STORE_8) store<u8>(p, <u8>q);
  else if (kind === STORE_16) store<u16>(p, <u16>q);
  else store<i32>(p, q);
}

// How quantRun turns i32 results into storage. Its results always lie in [qmin, qmax], so when
// that range fits the storage type a saturating narrow (one instruction per pair of vectors)
// never saturates and gives the same bits as the truncating JS typed-array store.
const NARROW_NONE: i32 = 0;
const NARROW_S: i32 = 1;
const NARROW_U: i32 = 2;
// Byte storage whose qmax is the type's maximum (127 or 255): the narrow's saturation is the upper
// clamp, one instruction fewer per four lanes.
const NARROW_S_TOP: i32 = 3;
const NARROW_U_TOP: i32 = 4;

function narrowMode(kind: i32, qmin: f64, qmax: f64): i32 {
  if (kind === STORE_8) {
    if (qmin >= -128 && qmax === 127) return NARROW_S_TOP;
    if (qmin >= -128 && qmax <= 127) return NARROW_S;
    if (qmin >= 0 && qmax === 255) return NARROW_U_TOP;
    if (qmin >= 0 && qmax <= 255) return NARROW_U;
  } else if (kind === STORE_16) {
    if (qmin >= -32768 && qmax <= 32767) return NARROW_S;
    if (qmin >= 0 && qmax <= 65535) return NARROW_U;
  }
  return NARROW_NONE;
}

// The quantRun family is specialised at compile time by marker type parameters, so every hot loop
// is branch-free (AssemblyScript folds the sizeof/isSigned tests of each instance):
// - Q: f32 multiplies by an exact reciprocal, f64 divides;
// - N: the byte/16-bit store, i8 a signed saturating narrow, u8 an unsigned one, i16/u16 the same
//   narrows also doing the upper clamp, i32 truncation.

// round(clamp(x / s)) + zp as i32 lanes, for a group whose zero point lies in [qmin, qmax].
// - NaN quotients become +0 before clamping: the JS result for NaN is the zero point, i.e. a
//   rounded value of 0, which the clamp keeps because lo <= 0 <= hi.
// - Adding ROUND_MAGIC_F32 before clamping (against lo + magic and hi + magic, both exact) is the
//   same as clamping first: rounding is monotonic, so a quotient at or beyond a bound still lands
//   at or beyond it, and quotients strictly inside the bounds are below 2^22 in magnitude, where
//   the add rounds half to even exactly. pmax/pmin are single min/max instructions on x86.
// - The sum's bits are ROUND_MAGIC_BITS + round(v); zpAdj = zp - ROUND_MAGIC_BITS finishes.
function quantLanes<Q>(x: v128, s: v128, loM: v128, hiM: v128, zpAdj: v128): v128 {
  const v = nanToZero(quotient<Q>(x, s));
  const r = f32x4.pmin(f32x4.pmax(f32x4.add(v, f32x4.splat(ROUND_MAGIC_F32)), loM), hiM);
  return i32x4.add(r, zpAdj);
}

// x / s, or x * s when Q marks s as an exact reciprocal.
function quotient<Q>(x: v128, s: v128): v128 {
  return sizeof<Q>() === 4 ? f32x4.mul(x, s) : f32x4.div(x, s);
}

function nanToZero(q: v128): v128 {
  return v128.and(q, f32x4.eq(q, q));
}

// quantLanes' last steps without the upper clamp, for outputs whose saturating narrow clamps at
// qmax (qmax is the storage maximum), on a quotient v without NaNs. The lower clamp stays: besides
// clamping, it keeps the sum positive, so its bits stay ordered like the values and cannot wrap
// when zpAdj is added.
function lowClamped(v: v128, loM: v128, zpAdj: v128): v128 {
  return i32x4.add(f32x4.pmax(f32x4.add(v, f32x4.splat(ROUND_MAGIC_F32)), loM), zpAdj);
}

// Sixteen i32 results as bytes: signed or unsigned saturating narrows when the range fits the
// storage (N i8/i16 or u8/u16, see the quantRun markers), else the low byte of each, as a
// typed-array store keeps it (N i32).
function bytesOf<N>(q0: v128, q1: v128, q2: v128, q3: v128): v128 {
  if (sizeof<N>() <= 2 && isSigned<N>()) {
    return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
  }
  if (sizeof<N>() <= 2) {
    // Values are in [0, 255]: the signed 16-bit narrow is exact, the unsigned one finishes.
    return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
  }
  const a = i8x16.shuffle(q0, q1, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  const b = i8x16.shuffle(q2, q3, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

// Byte outputs of quantRun for NARROW_S_TOP (N = i8) and NARROW_U_TOP (N = u8), 16 per
// iteration, without zeroing NaN quotients: the quotients are summed instead (one add per four
// lanes, against two instructions for the zeroing), and if the sums end up NaN (a NaN quotient, or
// infinities of both signs) the result is -1 and the caller redoes the run with quantBytes.
// Without NaNs the lanes are lowClamped ones: pmax against loM also maps -Inf to the
// bound, and +Inf saturates in the narrow.
function quantBytesTop<Q, N>(
  xBase: usize,
  j: u32,
  stop: u32,
  outBase: usize,
  s: v128,
  loM: v128,
  zpAdj: v128,
): i64 {
  let sum0 = f32x4.splat(0);
  let sum1 = f32x4.splat(0);
  let sum2 = f32x4.splat(0);
  let sum3 = f32x4.splat(0);
  for (; j + 16 <= stop; j += 16) {
    const p = xBase + ((<usize>j) << 2);
    const v0 = quotient<Q>(v128.load(p), s);
    const v1 = quotient<Q>(v128.load(p, 16), s);
    const v2 = quotient<Q>(v128.load(p, 32), s);
    const v3 = quotient<Q>(v128.load(p, 48), s);
    sum0 = f32x4.add(sum0, v0);
    sum1 = f32x4.add(sum1, v1);
    sum2 = f32x4.add(sum2, v2);
    sum3 = f32x4.add(sum3, v3);
    const q0 = lowClamped(v0, loM, zpAdj);
    const q1 = lowClamped(v1, loM, zpAdj);
    const q2 = lowClamped(v2, loM, zpAdj);
    const q3 = lowClamped(v3, loM, zpAdj);
    v128.store(outBase + <usize>j, bytesOf<N>(q0, q1, q2, q3));
  }
  const total = f32x4.add(f32x4.add(sum0, sum1), f32x4.add(sum2, sum3));
  return i32x4.all_true(f32x4.eq(total, total)) ? <i64>j : -1;
}

// Byte outputs of quantRun, 16 per iteration.
function quantBytes<Q, N>(
  xBase: usize,
  j: u32,
  stop: u32,
  outBase: usize,
  s: v128,
  loM: v128,
  hiM: v128,
  zpAdj: v128,
): u32 {
  for (; j + 16 <= stop; j += 16) {
    const p = xBase + ((<usize>j) << 2);
    let q0: v128, q1: v128, q2: v128, q3: v128;
    if (sizeof<N>() === 2) {
      q0 = lowClamped(nanToZero(quotient<Q>(v128.load(p), s)), loM, zpAdj);
      q1 = lowClamped(nanToZero(quotient<Q>(v128.load(p, 16), s)), loM, zpAdj);
      q2 = lowClamped(nanToZero(quotient<Q>(v128.load(p, 32), s)), loM, zpAdj);
      q3 = lowClamped(nanToZero(quotient<Q>(v128.load(p, 48), s)), loM, zpAdj);
    } else {
      q0 = quantLanes<Q>(v128.load(p), s, loM, hiM, zpAdj);
      q1 = quantLanes<Q>(v128.load(p, 16), s, loM, hiM, zpAdj);
      q2 = quantLanes<Q>(v128.load(p, 32), s, loM, hiM, zpAdj);
      q3 = quantLanes<Q>(v128.load(p, 48), s, loM, hiM, zpAdj);
    }
    v128.store(outBase + <usize>j, bytesOf<N>(q0, q1, q2, q3));
  }
  return j;
}

// 16-bit outputs of quantRun, 8 per iteration, when the range fits the storage (N is i8 or u8).
function quantShorts<Q, N>(
  xBase: usize,
  j: u32,
  stop: u32,
  outBase: usize,
  s: v128,
  loM: v128,
  hiM: v128,
  zpAdj: v128,
): u32 {
  for (; j + 8 <= stop; j += 8) {
    const p = xBase + ((<usize>j) << 2);
    const q0 = quantLanes<Q>(v128.load(p), s, loM, hiM, zpAdj);
    const q1 = quantLanes<Q>(v128.load(p, 16), s, loM, hiM, zpAdj);
    let out: v128;
    if (isSigned<N>()) out = i16x8.narrow_i32x4_s(q0, q1);
    else out = i16x8.narrow_i32x4_u(q0, q1);
    v128.store(outBase + ((<usize>j) << 1), out);
  }
  return j;
}

// Quantizes the single-group elements [j, stop) with quantLanes: 16 (bytes) or 8 (16-bit) per
// iteration, then 4 at a time; returns where the scalar tail starts.
function quantRun<Q>(
  xBase: usize,
  j: u32,
  stop: u32,
  outBase: usize,
  kind: i32,
  narrow: i32,
  s: v128,
  loM: v128,
  hiM: v128,
  zpAdj: v128,
): u32 {
  if (kind === STORE_8) {
    if (narrow === NARROW_S_TOP || narrow === NARROW_U_TOP) {
      const signed = narrow === NARROW_S_TOP;
      const done = signed
        ? quantBytesTop<Q, i8>(xBase, j, stop, outBase, s, loM, zpAdj)
        : quantBytesTop<Q, u8>(xBase, j, stop, outBase, s, loM, zpAdj);
      if (done >= 0) j = <u32>done;
      else if (signed) j = quantBytes<Q, i16>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
      else j = quantBytes<Q, u16>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
    } else if (narrow === NARROW_S) j = quantBytes<Q, i8>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
    else if (narrow === NARROW_U) j = quantBytes<Q, u8>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
    else j = quantBytes<Q, i32>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
  } else if (kind === STORE_16) {
    if (narrow === NARROW_S) j = quantShorts<Q, i8>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
    else if (narrow === NARROW_U) j = quantShorts<Q, u8>(xBase, j, stop, outBase, s, loM, hiM, zpAdj);
  }
  const shift: usize = kind === STORE_8 ? 0 : kind === STORE_16 ? 1 : 2;
  for (; j + 4 <= stop; j += 4) {
    const q = quantLanes<Q>(v128.load(xBase + ((<usize>j) << 2)), s, loM, hiM, zpAdj);
    storeLanes(outBase + ((<usize>j) << shift), q, kind);
  }
  return j;
}

// One element of the JS quantizeValue, in float64.
function quantizeGeneral(x: f32, s: f32, zp: i32, qmin: f64, qmax: f64): f64 {
  let v = <f64>(x / s);
  const lo = qmin - <f64>zp;
  const hi = qmax - <f64>zp;
  v = !(v > lo) ? (v === v ? lo : 0) : v > hi ? hi : v;
  return v + ROUNDING_MAGIC - ROUNDING_MAGIC + <f64>zp;
}

// Converts an integral float64 to the integer a JS typed-array store would keep (modulo 2^32).
function wrapToI32(q: f64): i32 {
  // Saturating conversion (non-trapping float-to-int is on by default), then wrap to 32 bits.
  return <i32>(<i64>q);
}

/**
 * Quantizes elements [start, end) into storage of `kind` (0: 1 byte, 1: 2 bytes, 2: 4 bytes per
 * element) at outBase + width * i. `fast` selects the float32 SIMD path.
 */
export function quantize(
  xBase: usize,
  start: u32,
  end: u32,
  scalePtr: usize,
  zpPtr: usize,
  qmin: f64,
  qmax: f64,
  outBase: usize,
  kind: i32,
  fast: i32,
): void {
  const shift: usize = kind === STORE_8 ? 0 : kind === STORE_16 ? 1 : 2;
  const magicBits = i32x4.splat(ROUND_MAGIC_BITS);
  const qminV = i32x4.splat(<i32>qmin);
  const qmaxV = i32x4.splat(<i32>qmax);
  const narrow = fast !== 0 ? narrowMode(kind, qmin, qmax) : NARROW_NONE;
  let i = start;
  while (i < end) {
    nextRun(i, end);
    const stop = i + runLength;
    let j = i;
    if (fast !== 0) {
      if (runStep === 0) {
        const g = (<usize>runGroup0) << 2;
        const zp = load<i32>(zpPtr + g);
        const s = f32x4.splat(load<f32>(scalePtr + g));
        const zpV = i32x4.splat(zp - ROUND_MAGIC_BITS);
        const lo = <i32>qmin - zp;
        const hi = <i32>qmax - zp;
        if (lo <= 0 && hi >= 0) {
          // The zero point lies in [qmin, qmax], so NaN's result (the zero point) is inside the
          // clamp range too and the short quantLanes formulation applies.
          const sc = load<f32>(scalePtr + g);
          const recip: f32 = <f32>1 / sc;
          const loM = f32x4.splat(<f32>lo + ROUND_MAGIC_F32);
          const hiM = f32x4.splat(<f32>hi + ROUND_MAGIC_F32);
          // recip * sc is exact in float64; when it is 1, recip is exactly 1 / sc (sc is a power of
          // two whose reciprocal is a float32), x * recip and x / sc are the same real number and
          // so round to the same float32: the multiply is bit-identical to the division.
          if (<f64>recip * <f64>sc === 1) {
            j = quantRun<f32>(xBase, j, stop, outBase, kind, narrow, f32x4.splat(recip), loM, hiM, zpV);
          } else {
            j = quantRun<f64>(xBase, j, stop, outBase, kind, narrow, s, loM, hiM, zpV);
          }
        } else {
          const loV = f32x4.splat(<f32>lo);
          const hiV = f32x4.splat(<f32>hi);
          if (kind === STORE_8) {
            // 16 elements per store: the hot loop of int8 weight quantization.
            for (; j + 16 <= stop; j += 16) {
              const p = xBase + ((<usize>j) << 2);
              const q0 = i32x4.add(roundedBits(clampLanes(v128.load(p), s, loV, hiV)), zpV);
              const q1 = i32x4.add(roundedBits(clampLanes(v128.load(p, 16), s, loV, hiV)), zpV);
              const q2 = i32x4.add(roundedBits(clampLanes(v128.load(p, 32), s, loV, hiV)), zpV);
              const q3 = i32x4.add(roundedBits(clampLanes(v128.load(p, 48), s, loV, hiV)), zpV);
              v128.store(outBase + <usize>j, bytesOf<i32>(q0, q1, q2, q3));
            }
          }
          for (; j + 4 <= stop; j += 4) {
            const x = v128.load(xBase + ((<usize>j) << 2));
            const q = i32x4.add(roundedBits(clampLanes(x, s, loV, hiV)), zpV);
            storeLanes(outBase + ((<usize>j) << shift), q, kind);
          }
        }
      } else {
        let g = (<usize>runGroup0) << 2;
        for (; j + 4 <= stop; j += 4, g += 16) {
          const zpV = v128.load(zpPtr + g);
          const lo = f32x4.convert_i32x4_s(i32x4.sub(qminV, zpV));
          const hi = f32x4.convert_i32x4_s(i32x4.sub(qmaxV, zpV));
          const x = v128.load(xBase + ((<usize>j) << 2));
          const q = i32x4.add(
            roundedBits(clampLanes(x, v128.load(scalePtr + g), lo, hi)),
            i32x4.sub(zpV, magicBits),
          );
          storeLanes(outBase + ((<usize>j) << shift), q, kind);
        }
      }
    }
    // The tail of a run, and every element on the general path.
    for (; j < stop; j++) {
      const g = (<usize>(runGroup0 + (j - i) * runStep)) << 2;
      const q = quantizeGeneral(
        load<f32>(xBase + ((<usize>j) << 2)),
        load<f32>(scalePtr + g),
        load<i32>(zpPtr + g),
        qmin,
        qmax,
      );
      storeOne(outBase + ((<usize>j) << shift), wrapToI32(q), kind);
    }
    i = stop;
  }
}

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

// Fast-path fake quantization of four lanes: the rounded value r is exact in float32, q - zp is
// r with -0 turned to +0 (as JS's (r + zp) - zp does), and float32(r * s) is exact in float32.
function fakeLanes(x: v128, s: v128, lo: v128, hi: v128): v128 {
  const r = f32x4.add(f32x4.nearest(clampLanes(x, s, lo, hi)), f32x4.splat(0));
  return f32x4.mul(r, s);
}

// One element of dequantize(quantize(x)) in float64, as the JS reference computes it.
function fakeGeneral(x: f32, s: f32, zp: i32, qmin: f64, qmax: f64): f32 {
  const q = quantizeGeneral(x, s, zp, qmin, qmax);
  return <f32>((q - <f64>zp) * <f64>s);
}

// quantError's four interleaved float64 partial sums: lanes (p0, p1) and (p2, p3).
let sumSignal01: v128 = f64x2.splat(0);
let sumSignal23: v128 = f64x2.splat(0);
let sumNoise01: v128 = f64x2.splat(0);
let sumNoise23: v128 = f64x2.splat(0);

/** Clears the four interleaved float64 partial sums of quantError. */
export function resetError(): void {
  sumSignal01 = f64x2.splat(0);
  sumSignal23 = f64x2.splat(0);
  sumNoise01 = f64x2.splat(0);
  sumNoise23 = f64x2.splat(0);
}

/** (p0 + p1) + (p2 + p3) of the signal partial sums. */
export function errorSignal(): f64 {
  return (
    f64x2.extract_lane(sumSignal01, 0) +
    f64x2.extract_lane(sumSignal01, 1) +
    (f64x2.extract_lane(sumSignal23, 0) + f64x2.extract_lane(sumSignal23, 1))
  );
}

/** (p0 + p1) + (p2 + p3) of the noise partial sums. */
export function errorNoise(): f64 {
  return (
    f64x2.extract_lane(sumNoise01, 0) +
    f64x2.extract_lane(sumNoise01, 1) +
    (f64x2.extract_lane(sumNoise23, 0) + f64x2.extract_lane(sumNoise23, 1))
  );
}

// Adds one element's signal and noise to partial sum (i mod 4), scalar.
function accumulateOne(i: u32, x: f32, dq: f32): void {
  const v = <f64>x;
  const e = v - <f64>dq;
  const lane = i & 3;
  const sv = f64x2.splat(v * v);
  const nv = f64x2.splat(e * e);
  const zero = f64x2.splat(0);
  // Add into exactly one lane (adding +0 to the others keeps them: x + 0 == x bit for bit unless x is -0,
  // and partial sums of squares are never -0).
  if (lane < 2) {
    const m = lane === 0 ? i64x2.shuffle(sv, zero, 0, 3) : i64x2.shuffle(zero, sv, 0, 3);
    const mn = lane === 0 ? i64x2.shuffle(nv, zero, 0, 3) : i64x2.shuffle(zero, nv, 0, 3);
    sumSignal01 = f64x2.add(sumSignal01, m);
    sumNoise01 = f64x2.add(sumNoise01, mn);
  } else {
    const m = lane === 2 ? i64x2.shuffle(sv, zero, 0, 3) : i64x2.shuffle(zero, sv, 0, 3);
    const mn = lane === 2 ? i64x2.shuffle(nv, zero, 0, 3) : i64x2.shuffle(zero, nv, 0, 3);
    sumSignal23 = f64x2.add(sumSignal23, m);
    sumNoise23 = f64x2.add(sumNoise23, mn);
  }
}

// Adds four elements whose first index is a multiple of 4.
function accumulateFour(x: v128, dq: v128): void {
  const xLow = f64x2.promote_low_f32x4(x);
  const xHigh = f64x2.promote_low_f32x4(i64x2.shuffle(x, x, 1, 0));
  const eLow = f64x2.sub(xLow, f64x2.promote_low_f32x4(dq));
  const eHigh = f64x2.sub(xHigh, f64x2.promote_low_f32x4(i64x2.shuffle(dq, dq, 1, 0)));
  sumSignal01 = f64x2.add(sumSignal01, f64x2.mul(xLow, xLow));
  sumSignal23 = f64x2.add(sumSignal23, f64x2.mul(xHigh, xHigh));
  sumNoise01 = f64x2.add(sumNoise01, f64x2.mul(eLow, eLow));
  sumNoise23 = f64x2.add(sumNoise23, f64x2.mul(eHigh, eHigh));
}

/**
 * Fake-quantizes elements [start, end): writes float32 results to outBase + 4 * i, or, when
 * `sums` is 1, adds signal and noise to the interleaved partial sums instead.
 */
export function fakeQuant(
  xBase: usize,
  start: u32,
  end: u32,
  scalePtr: usize,
  zpPtr: usize,
  qmin: f64,
  qmax: f64,
  outBase: usize,
  fast: i32,
  sums: i32,
): void {
  const qminV = i32x4.splat(<i32>qmin);
  const qmaxV = i32x4.splat(<i32>qmax);
  let i = start;
  while (i < end) {
    nextRun(i, end);
    const stop = i + runLength;
    let j = i;
    if (fast !== 0) {
      // Align to a multiple of 4 so SIMD lanes line up with the partial sums (element i -> i mod 4).
      for (; j < stop && (j & 3) !== 0; j++) {
        const g = (<usize>(runGroup0 + (j - i) * runStep)) << 2;
        const x = load<f32>(xBase + ((<usize>j) << 2));
        const dq = fakeGeneral(x, load<f32>(scalePtr + g), load<i32>(zpPtr + g), qmin, qmax);
        if (sums !== 0) accumulateOne(j, x, dq);
        else store<f32>(outBase + ((<usize>j) << 2), dq);
      }
      if (runStep === 0) {
        const g = (<usize>runGroup0) << 2;
        const zp = load<i32>(zpPtr + g);
        const s = f32x4.splat(load<f32>(scalePtr + g));
        const lo = f32x4.splat(<f32>(<i32>qmin - zp));
        const hi = f32x4.splat(<f32>(<i32>qmax - zp));
        if (sums !== 0) {
          for (; j + 4 <= stop; j += 4) {
            const x = v128.load(xBase + ((<usize>j) << 2));
            accumulateFour(x, fakeLanes(x, s, lo, hi));
          }
        } else {
          for (; j + 4 <= stop; j += 4) {
            const p = (<usize>j) << 2;
            v128.store(outBase + p, fakeLanes(v128.load(xBase + p), s, lo, hi));
          }
        }
      } else {
        for (; j + 4 <= stop; j += 4) {
          const g = (<usize>(runGroup0 + (j - i))) << 2;
          const zpV = v128.load(zpPtr + g);
          const lo = f32x4.convert_i32x4_s(i32x4.sub(qminV, zpV));
          const hi = f32x4.convert_i32x4_s(i32x4.sub(qmaxV, zpV));
          const x = v128.load(xBase + ((<usize>j) << 2));
          const dq = fakeLanes(x, v128.load(scalePtr + g), lo, hi);
          if (sums !== 0) accumulateFour(x, dq);
          else v128.store(outBase + ((<usize>j) << 2), dq);
        }
      }
    }
    for (; j < stop; j++) {
      const g = (<usize>(runGroup0 + (j - i) * runStep)) << 2;
      const x = load<f32>(xBase + ((<usize>j) << 2));
      const dq = fakeGeneral(x, load<f32>(scalePtr + g), load<i32>(zpPtr + g), qmin, qmax);
      if (sums !== 0) accumulateOne(j, x, dq);
      else store<f32>(outBase + ((<usize>j) << 2), dq);
    }
    i = stop;
  }
}

// ---------------------------------------------------------------------------------------------
// 4-bit packing, low nibble first.

/** Packs `count` bytes at src into nibbles at dst; an odd count leaves the last high nibble 0. */
export function packInt4(src: usize, count: u32, dst: usize): void {
  const pairs = count >> 1;
  const low = i16x8.splat(0x0f);
  const high = i16x8.splat(0xf0);
  let p: u32 = 0;
  for (; p + 8 <= pairs; p += 8) {
    // Each 16-bit lane holds an (even, odd) pair: keep the even low nibble, move the odd one up.
    const v = v128.load(src + ((<usize>p) << 1));
    const packed = v128.or(v128.and(v, low), v128.and(i16x8.shr_u(v, 4), high));
    v128.store64_lane(dst + <usize>p, i8x16.narrow_i16x8_u(packed, packed), 0);
  }
  for (; p < pairs; p++) {
    const a = load<u8>(src + ((<usize>p) << 1));
    const b = load<u8>(src + ((<usize>p) << 1) + 1);
    store<u8>(dst + <usize>p, (a & 0x0f) | ((b & 0x0f) << 4));
  }
  if (count & 1) store<u8>(dst + <usize>pairs, load<u8>(src + <usize>count - 1) & 0x0f);
}

/** Unpacks `count` nibbles from src into bytes at dst, sign-extending when `signed` is 1. */
export function unpackInt4(src: usize, count: u32, dst: usize, signed: i32): void {
  const mask = i8x16.splat(0x0f);
  const eight = i8x16.splat(8);
  let j: u32 = 0;
  for (; j + 32 <= count; j += 32) {
    const v = v128.load(src + <usize>(j >> 1));
    let lo = v128.and(v, mask);
    let hi = i8x16.shr_u(v, 4);
    if (signed !== 0) {
      lo = i8x16.sub(v128.xor(lo, eight), eight);
      hi = i8x16.sub(v128.xor(hi, eight), eight);
    }
    const d = dst + <usize>j;
    v128.store(d, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    v128.store(d, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
  }
  for (; j < count; j++) {
    const byte = <i32>load<u8>(src + <usize>(j >> 1));
    const nibble = j & 1 ? byte >> 4 : byte & 0x0f;
    store<u8>(dst + <usize>j, signed !== 0 ? (nibble ^ 8) - 8 : nibble);
  }
}

/** First free byte after the module's static data: the host lays out its buffers from here. */
export function heapBase(): usize {
  return __heap_base;
}
