// Quantization. The fast path works in float32 lanes and is exact when qmin, qmax and every zero
// point are integers within +/-2^21 (the host checks qmin/qmax, quantFits checks the zero points):
// then qmin - zp and qmax - zp are exact float32 values, so clamping in float32 equals the JS
// clamp in float64, and the rounded value fits an i32. Anything else takes the general path,
// a scalar float64 transcription of the JS code.
import {
  blockLength,
  followPosition,
  forgetRun,
  nextRun,
  rowLength,
  runGroup0,
  runLength,
  runStep,
  runsAreBlocks,
} from './layout';

// Adding and subtracting 1.5 * 2^52 rounds a double to an integer, ties to even; the JS reference
// rounds this way, so the general (float64) path repeats it instead of calling nearest().
const ROUNDING_MAGIC: f64 = 6755399441055744.0;

// The largest zero point magnitude the float32 path accepts: with |qmin|, |qmax|, |zp| <= 2^21,
// |qmin - zp| and |qmax - zp| stay below 2^22, where the ROUND_MAGIC_F32 trick is exact.
const FAST_LIMIT: i32 = 1 << 21;

// 1.5 * 2^23: for |v| < 2^22, v + ROUND_MAGIC_F32 lands where float32 spacing is 1, so the add
// rounds v half to even, and the sum's bit pattern is ROUND_MAGIC_BITS + round(v). This replaces
// nearest + trunc_sat (trunc_sat is a long instruction sequence on x86).
export const ROUND_MAGIC_F32: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;

/**
 * 1 / s when s is a power of two whose reciprocal is a normal float32, else 0: then x * (1 / s)
 * and x / s are the same real number and round alike, so the multiply is bit-identical to the
 * division. Read from the bits, so that a 32-element block does not pay a division to find out.
 */
export function exactReciprocal(s: f32): f32 {
  const bits = reinterpret<u32>(s);
  const e = (bits >>> 23) & 0xff;
  if ((bits & 0x7fffff) !== 0 || e < 1 || e > 253) return 0;
  return reinterpret<f32>((bits & 0x80000000) | ((254 - e) << 23));
}

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

// Shared with fake-quant.ts by export statements (here and below): AssemblyScript warns about any
// exported declaration with v128 in its signature (it could be handed to the host), not about these.
export { clampLanes };

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

export { nanToZero, quotient };

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

// Byte outputs of a blocked layout along the last axis (every run one group), N i8 or u8: a
// saturating narrow, the range fitting the byte type. Short blocks (32 elements) make quantize's
// per-run work (nextRun, quantRun's call and dispatch) cost as much as the quantization, so here
// the blocks are walked in one loop: after the first run, each block starts where the last ended,
// in the next group, and is at most a block long and ends at its row's end. Returns where it
// stopped: at the end, or at the first block whose zero point lies outside [qmin, qmax], which
// quantize's loop takes on from there.
function quantizeBlocks<N>(
  xBase: usize,
  i: u32,
  end: u32,
  scalePtr: usize,
  zpPtr: usize,
  qmin: i32,
  qmax: i32,
  outBase: usize,
): u32 {
  if (i >= end) return i;
  nextRun(i, end);
  let length = runLength;
  let group = runGroup0;
  let position = followPosition();
  const row = rowLength();
  const block = blockLength();
  for (;;) {
    const stop = i + length;
    const g = (<usize>group) << 2;
    const zp = load<i32>(zpPtr + g);
    const lo = qmin - zp;
    const hi = qmax - zp;
    if (lo > 0 || hi < 0) break;
    const sc = load<f32>(scalePtr + g);
    const recip = exactReciprocal(sc);
    const loM = f32x4.splat(<f32>lo + ROUND_MAGIC_F32);
    const hiM = f32x4.splat(<f32>hi + ROUND_MAGIC_F32);
    const zpAdj = i32x4.splat(zp - ROUND_MAGIC_BITS);
    let j = i;
    if (recip !== 0) {
      const d = f32x4.splat(recip);
      for (; j + 16 <= stop; j += 16) {
        const p = xBase + ((<usize>j) << 2);
        const q0 = quantLanes<f32>(v128.load(p), d, loM, hiM, zpAdj);
        const q1 = quantLanes<f32>(v128.load(p, 16), d, loM, hiM, zpAdj);
        const q2 = quantLanes<f32>(v128.load(p, 32), d, loM, hiM, zpAdj);
        const q3 = quantLanes<f32>(v128.load(p, 48), d, loM, hiM, zpAdj);
        v128.store(outBase + <usize>j, bytesOf<N>(q0, q1, q2, q3));
      }
    } else {
      const d = f32x4.splat(sc);
      for (; j + 16 <= stop; j += 16) {
        const p = xBase + ((<usize>j) << 2);
        const q0 = quantLanes<f64>(v128.load(p), d, loM, hiM, zpAdj);
        const q1 = quantLanes<f64>(v128.load(p, 16), d, loM, hiM, zpAdj);
        const q2 = quantLanes<f64>(v128.load(p, 32), d, loM, hiM, zpAdj);
        const q3 = quantLanes<f64>(v128.load(p, 48), d, loM, hiM, zpAdj);
        v128.store(outBase + <usize>j, bytesOf<N>(q0, q1, q2, q3));
      }
    }
    if (j < stop) {
      const s = f32x4.splat(sc);
      for (; j + 4 <= stop; j += 4) {
        const q = quantLanes<f64>(v128.load(xBase + ((<usize>j) << 2)), s, loM, hiM, zpAdj);
        storeLanes(outBase + <usize>j, q, STORE_8);
      }
      for (; j < stop; j++) {
        const q = quantizeGeneral(load<f32>(xBase + ((<usize>j) << 2)), sc, zp, <f64>qmin, <f64>qmax);
        store<u8>(outBase + <usize>j, <u8>wrapToI32(q));
      }
    }
    i = stop;
    if (i >= end) break;
    // The next run: the next group, from the start of a block, to its end, its row's or `end`.
    if (position === row) position = 0;
    group++;
    length = min(min(block, row - position), end - i);
    position += length;
  }
  // The last run nextRun knows of may not be the last one walked here.
  forgetRun();
  return i;
}

// Sixteen bytes of 4-bit values as eight nibble pairs in 16-bit lanes, low nibble first: each
// lane holds an (even, odd) pair, the even one's low nibble stays, the odd one's moves up (as
// packInt4 does); an unsigned narrow then makes the bytes.
function nibblePairs(b: v128): v128 {
  return v128.or(v128.and(b, i16x8.splat(0x0f)), v128.and(i16x8.shr_u(b, 4), i16x8.splat(0xf0)));
}

// round(v) + zp as i32 lanes for |v| <= 2^22, and ordered like v beyond: the magic-constant sum is
// kept at or above 2^23 (pmax), where its bits stay ordered like the values, and zpAdj is
// zp - ROUND_MAGIC_BITS. NaN lanes come out as NaN bits plus zpAdj.
function roundedOrdered(v: v128, zpAdj: v128): v128 {
  const t = f32x4.pmax(f32x4.add(v, f32x4.splat(ROUND_MAGIC_F32)), f32x4.splat(8388608.0));
  return i32x4.add(t, zpAdj);
}

// Sixteen quotients (no NaN) of a group as quantized bytes, for [qmin, qmax] within [-128, 127]
// and the zero point in it, clamped after the saturating narrows so that a group needs no bounds
// of its own: roundedOrdered's lanes are ordered like round(v) + zp, the narrows keep that order,
// and clamping to [qmin, qmax] inside their range is the same before or after them. The
// reference clamps v to [qmin - zp, qmax - zp] before rounding, the same for integer bounds.
function nibbleBytes(v0: v128, v1: v128, v2: v128, v3: v128, zpAdj: v128, qminB: v128, qmaxB: v128): v128 {
  const a = i16x8.narrow_i32x4_s(roundedOrdered(v0, zpAdj), roundedOrdered(v1, zpAdj));
  const b = i16x8.narrow_i32x4_s(roundedOrdered(v2, zpAdj), roundedOrdered(v3, zpAdj));
  return i8x16.min_s(i8x16.max_s(i8x16.narrow_i16x8_s(a, b), qminB), qmaxB);
}

// Quantizes the sixteen elements from i (a multiple of 16) of a group whose scale splat is d into
// eight bytes of nibbles (zpAdj as in roundedOrdered); returns the sum of their quotients, for
// quantizeNibbles' NaN check.
function nibbleStep(
  xBase: usize,
  i: u32,
  d: v128,
  zpAdj: v128,
  qminB: v128,
  qmaxB: v128,
  outBase: usize,
): v128 {
  const p = xBase + ((<usize>i) << 2);
  const v0 = f32x4.div(v128.load(p), d);
  const v1 = f32x4.div(v128.load(p, 16), d);
  const v2 = f32x4.div(v128.load(p, 32), d);
  const v3 = f32x4.div(v128.load(p, 48), d);
  const b = nibblePairs(nibbleBytes(v0, v1, v2, v3, zpAdj, qminB, qmaxB));
  v128.store64_lane(outBase + <usize>(i >> 1), i8x16.narrow_i16x8_u(b, b), 0);
  return f32x4.add(f32x4.add(v0, v1), f32x4.add(v2, v3));
}

/**
 * Quantizes elements [start, end) of a blocked layout along the last axis into 4-bit storage
 * packed at outBase (element i in byte outBase + (i >> 1), low nibble first), as they are
 * quantized rather than in a second pass over bytes. Takes calls whose [qmin, qmax] lies within
 * [-128, 127] (int4, uint4), `fast` set, blocks a multiple of 16 elements that divide the rows, and
 * start and end multiples of 16, so that every run is one group and whole SIMD steps. Returns
 * where it stopped: `end`, or earlier (nothing usable written) when the call needs quantize into
 * bytes and packInt4: another layout or range, a zero point outside [qmin, qmax], a NaN quotient.
 * NaN quotients are not zeroed here (two instructions per four lanes): the quotients are summed
 * (one add), and a NaN sum (a NaN quotient, or infinities of both signs) sends the call back.
 */
export function quantizeNibbles(
  xBase: usize,
  start: u32,
  end: u32,
  scalePtr: usize,
  zpPtr: usize,
  qmin: f64,
  qmax: f64,
  outBase: usize,
  fast: i32,
): u32 {
  const block = blockLength();
  if (fast === 0 || qmin < -128 || qmax > 127 || !runsAreBlocks()) return start;
  if (block & 15 || rowLength() % block !== 0 || (start | end) & 15) return start;
  const qminB = i8x16.splat(<i8>qmin);
  const qmaxB = i8x16.splat(<i8>qmax);
  // With whole blocks per row, element i is in group i / block.
  let group = start / block;
  let i = start;
  let sum = f32x4.splat(0);
  while (i < end) {
    const stop = min(end, (group + 1) * block);
    const g = (<usize>group) << 2;
    const zp = load<i32>(zpPtr + g);
    if (zp < <i32>qmin || zp > <i32>qmax) return start;
    const d = v128.load32_splat(scalePtr + g);
    const zpAdj = i32x4.splat(zp - ROUND_MAGIC_BITS);
    for (; i < stop; i += 16) {
      sum = f32x4.add(sum, nibbleStep(xBase, i, d, zpAdj, qminB, qmaxB, outBase));
    }
    group++;
  }
  return i32x4.all_true(f32x4.eq(sum, sum)) ? end : start;
}

// One element of the JS quantizeValue, in float64.
export function quantizeGeneral(x: f32, s: f32, zp: i32, qmin: f64, qmax: f64): f64 {
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
  if (kind === STORE_8 && narrow !== NARROW_NONE && runsAreBlocks()) {
    const signed = narrow === NARROW_S || narrow === NARROW_S_TOP;
    i = signed
      ? quantizeBlocks<i8>(xBase, i, end, scalePtr, zpPtr, <i32>qmin, <i32>qmax, outBase)
      : quantizeBlocks<u8>(xBase, i, end, scalePtr, zpPtr, <i32>qmin, <i32>qmax, outBase);
  }
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
          const recip = exactReciprocal(load<f32>(scalePtr + g));
          const loM = f32x4.splat(<f32>lo + ROUND_MAGIC_F32);
          const hiM = f32x4.splat(<f32>hi + ROUND_MAGIC_F32);
          if (recip !== 0) {
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
