// Fake quantization (quantize then dequantize) and the quantization error sums (signal and noise
// energy, for SQNR), which run the same loop and add up instead of storing.
import { nextRun, runGroup0, runLength, runStep } from './layout';
import {
  ROUND_MAGIC_F32,
  clampLanes,
  exactReciprocal,
  nanToZero,
  quantizeGeneral,
  quotient,
} from './quantize';

// Fast-path fake quantization of four lanes: the rounded value r is exact in float32, q - zp is
// r with -0 turned to +0 (as JS's (r + zp) - zp does), and float32(r * s) is exact in float32.
function fakeLanes(x: v128, s: v128, lo: v128, hi: v128): v128 {
  const r = f32x4.add(f32x4.nearest(clampLanes(x, s, lo, hi)), f32x4.splat(0));
  return f32x4.mul(r, s);
}

// Fake quantization of four lanes whose zero point lies in [qmin, qmax], with quantLanes' rounding:
// NaN quotients zeroed (N u16; N u8 leaves them, for errorRun, to which a NaN input's result does
// not matter), the magic constant added before a pmax/pmin clamp against lo + magic and
// hi + magic, so t - magic is the rounded, clamped quotient r (never -0). r * s is exact before
// its one rounding to float32, so the result is the reference's float32((q - zp) * s). `d` is
// what x is divided by, or multiplied by when Q marks it as s's exact reciprocal (see quotient).
function dequantLanes<Q, N>(x: v128, d: v128, s: v128, loM: v128, hiM: v128): v128 {
  let v = quotient<Q>(x, d);
  if (sizeof<N>() === 2) v = nanToZero(v);
  const t = f32x4.pmin(f32x4.pmax(f32x4.add(v, f32x4.splat(ROUND_MAGIC_F32)), loM), hiM);
  return f32x4.mul(f32x4.sub(t, f32x4.splat(ROUND_MAGIC_F32)), s);
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

// fakeQuant's results for the single-group elements [j, stop) with dequantLanes, 4 per iteration.
function fakeRun<Q>(
  xBase: usize,
  j: u32,
  stop: u32,
  outBase: usize,
  d: v128,
  s: v128,
  loM: v128,
  hiM: v128,
): u32 {
  for (; j + 4 <= stop; j += 4) {
    const p = (<usize>j) << 2;
    v128.store(outBase + p, dequantLanes<Q, u16>(v128.load(xBase + p), d, s, loM, hiM));
  }
  return j;
}

// quantError's sums over the single-group elements [j, stop) (j a multiple of 4) with
// dequantLanes, added as accumulateFour adds them but in locals: as globals, the four partial sums
// would be stored and reloaded every four elements, a dependency through memory. N is a marker:
// u8 when the scale is finite and nonzero, so that NaN quotients come only from NaN inputs, whose
// noise is NaN whatever they quantize to, and are not zeroed; u16 otherwise.
function errorRun<Q, N>(xBase: usize, j: u32, stop: u32, d: v128, s: v128, loM: v128, hiM: v128): u32 {
  let signal01 = sumSignal01;
  let signal23 = sumSignal23;
  let noise01 = sumNoise01;
  let noise23 = sumNoise23;
  for (; j + 4 <= stop; j += 4) {
    const x = v128.load(xBase + ((<usize>j) << 2));
    const dq = dequantLanes<Q, N>(x, d, s, loM, hiM);
    const xLow = f64x2.promote_low_f32x4(x);
    const xHigh = f64x2.promote_low_f32x4(i64x2.shuffle(x, x, 1, 0));
    const eLow = f64x2.sub(xLow, f64x2.promote_low_f32x4(dq));
    const eHigh = f64x2.sub(xHigh, f64x2.promote_low_f32x4(i64x2.shuffle(dq, dq, 1, 0)));
    signal01 = f64x2.add(signal01, f64x2.mul(xLow, xLow));
    signal23 = f64x2.add(signal23, f64x2.mul(xHigh, xHigh));
    noise01 = f64x2.add(noise01, f64x2.mul(eLow, eLow));
    noise23 = f64x2.add(noise23, f64x2.mul(eHigh, eHigh));
  }
  sumSignal01 = signal01;
  sumSignal23 = signal23;
  sumNoise01 = noise01;
  sumNoise23 = noise23;
  return j;
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
        const sc = load<f32>(scalePtr + g);
        const s = f32x4.splat(sc);
        const loI = <i32>qmin - zp;
        const hiI = <i32>qmax - zp;
        const lo = f32x4.splat(<f32>loI);
        const hi = f32x4.splat(<f32>hiI);
        if (loI <= 0 && hiI >= 0) {
          const loM = f32x4.splat(<f32>loI + ROUND_MAGIC_F32);
          const hiM = f32x4.splat(<f32>hiI + ROUND_MAGIC_F32);
          const recip = exactReciprocal(sc);
          // A finite, nonzero scale: x / s is NaN only where x is.
          const plain = sc !== 0 && sc - sc === 0;
          if (recip !== 0) {
            const d = f32x4.splat(recip);
            if (sums === 0) j = fakeRun<f32>(xBase, j, stop, outBase, d, s, loM, hiM);
            else if (plain) j = errorRun<f32, u8>(xBase, j, stop, d, s, loM, hiM);
            else j = errorRun<f32, u16>(xBase, j, stop, d, s, loM, hiM);
          } else if (sums === 0) j = fakeRun<f64>(xBase, j, stop, outBase, s, s, loM, hiM);
          else if (plain) j = errorRun<f64, u8>(xBase, j, stop, s, s, loM, hiM);
          else j = errorRun<f64, u16>(xBase, j, stop, s, s, loM, hiM);
        } else if (sums !== 0) {
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
