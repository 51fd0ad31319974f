import type { Backend, QuantErrorSums, QuantRange, QuantStorage } from './backend.js';
import { QgrainError } from './errors.js';
import { type GroupLayout, assertLayoutFits, forEachSegment } from './group-layout.js';
import { packInt4, unpackInt4 } from './int4.js';

// Adding and subtracting 1.5 * 2^52 rounds a double to an integer, ties to even, for |v| < 2^51
// (the current rounding mode of IEEE arithmetic is nearest-even).
const ROUNDING_MAGIC = 6755399441055744;

/** Rounds to the nearest integer, ties to even (ONNX's rounding). Exact for |v| < 2^51. */
export function roundHalfToEven(v: number): number {
  return v + ROUNDING_MAGIC - ROUNDING_MAGIC;
}

/** One element of QuantizeLinear, clamping in the float domain first as onnxruntime does. */
export function quantizeValue(
  x: number,
  scale: number,
  zeroPoint: number,
  qmin: number,
  qmax: number,
): number {
  let v = Math.fround(x / scale);
  const lo = qmin - zeroPoint;
  const hi = qmax - zeroPoint;
  // The negated comparisons send NaN to the zero point.
  v = !(v > lo) ? (v === v ? lo : 0) : v > hi ? hi : v;
  return roundHalfToEven(v) + zeroPoint;
}

/** One element of DequantizeLinear. */
export function dequantizeValue(q: number, scale: number, zeroPoint: number): number {
  return Math.fround((q - zeroPoint) * scale);
}

function checkGroups(layout: GroupLayout, scale: Float32Array, zeroPoint: Int32Array): void {
  if (scale.length !== layout.groups || zeroPoint.length !== layout.groups) {
    throw new QgrainError(
      'shape-mismatch',
      `the layout has ${layout.groups} groups but ${scale.length} scales and ${zeroPoint.length} zero points were given`,
    );
  }
}

function isPacked(range: QuantRange): boolean {
  return range.storage === 'int4' || range.storage === 'uint4';
}

function canonicalZero(values: Float32Array): void {
  for (let g = 0; g < values.length; g++) if (values[g] === 0) values[g] = 0;
}

/** The reference kernels, in plain JavaScript. Every other backend is checked against these. */
export const jsBackend: Backend = {
  name: 'js',

  minMax(x, layout, min, max) {
    assertLayoutFits(layout, x.length);
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      if (step === 0) {
        let mn = min[g0]!;
        let mx = max[g0]!;
        for (let i = start; i < end; i++) {
          const v = x[i]!;
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        min[g0] = mn;
        max[g0] = mx;
      } else {
        for (let i = start, g = g0; i < end; i++, g++) {
          const v = x[i]!;
          if (v < min[g]!) min[g] = v;
          if (v > max[g]!) max[g] = v;
        }
      }
    });
    canonicalZero(min);
    canonicalZero(max);
  },

  absMax(x, layout, out) {
    assertLayoutFits(layout, x.length);
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      if (step === 0) {
        let m = out[g0]!;
        for (let i = start; i < end; i++) {
          const a = Math.abs(x[i]!);
          if (a > m) m = a;
        }
        out[g0] = m;
      } else {
        for (let i = start, g = g0; i < end; i++, g++) {
          const a = Math.abs(x[i]!);
          if (a > out[g]!) out[g] = a;
        }
      }
    });
    canonicalZero(out);
  },

  histogram(x, lo, hi, counts) {
    const bins = counts.length;
    const last = bins - 1;
    const perUnit = hi > lo ? bins / (hi - lo) : 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v !== v) continue;
      const b = Math.floor((v - lo) * perUnit);
      counts[b < 0 ? 0 : b > last ? last : b]! += 1;
    }
  },

  quantize(x, layout, scale, zeroPoint, range, out) {
    assertLayoutFits(layout, x.length);
    checkGroups(layout, scale, zeroPoint);
    const { qmin, qmax } = range;
    const target = isPacked(range) ? new Int32Array(x.length) : out;
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      for (let i = start, g = g0; i < end; i++, g += step) {
        target[i] = quantizeValue(x[i]!, scale[g]!, zeroPoint[g]!, qmin, qmax);
      }
    });
    if (target !== out) packInt4(target, out as Uint8Array);
  },

  dequantize(q, layout, scale, zeroPoint, range, out) {
    assertLayoutFits(layout, out.length);
    checkGroups(layout, scale, zeroPoint);
    const values: ArrayLike<number> = isPacked(range)
      ? unpackInt4(q as Uint8Array, out.length, range.storage === 'int4')
      : q;
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      for (let i = start, g = g0; i < end; i++, g += step) {
        out[i] = dequantizeValue(values[i]!, scale[g]!, zeroPoint[g]!);
      }
    });
  },

  fakeQuant(x, layout, scale, zeroPoint, range, out) {
    assertLayoutFits(layout, x.length);
    checkGroups(layout, scale, zeroPoint);
    const { qmin, qmax } = range;
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      for (let i = start, g = g0; i < end; i++, g += step) {
        const s = scale[g]!;
        const zp = zeroPoint[g]!;
        out[i] = dequantizeValue(quantizeValue(x[i]!, s, zp, qmin, qmax), s, zp);
      }
    });
  },

  quantError(x, layout, scale, zeroPoint, range): QuantErrorSums {
    assertLayoutFits(layout, x.length);
    checkGroups(layout, scale, zeroPoint);
    const { qmin, qmax } = range;
    const signal = new Float64Array(4);
    const noise = new Float64Array(4);
    forEachSegment(layout, (start, length, g0, step) => {
      const end = start + length;
      for (let i = start, g = g0; i < end; i++, g += step) {
        const v = x[i]!;
        const s = scale[g]!;
        const zp = zeroPoint[g]!;
        const e = v - dequantizeValue(quantizeValue(v, s, zp, qmin, qmax), s, zp);
        signal[i & 3]! += v * v;
        noise[i & 3]! += e * e;
      }
    });
    return {
      signal: signal[0]! + signal[1]! + (signal[2]! + signal[3]!),
      noise: noise[0]! + noise[1]! + (noise[2]! + noise[3]!),
    };
  },

  packInt4(values, out) {
    packInt4(values, out);
  },

  unpackInt4(packed, out) {
    unpackInt4(packed, out.length, out instanceof Int8Array, out);
  },
};

/** Storage for `count` quantized elements of `range` (4-bit types packed). */
export function allocateQuantStorage(range: QuantRange, count: number): QuantStorage {
  switch (range.storage) {
    case 'int4':
    case 'uint4':
      return new Uint8Array(Math.ceil(count / 2));
    case 'int8':
      return new Int8Array(count);
    case 'uint8':
      return new Uint8Array(count);
    case 'int16':
      return new Int16Array(count);
    case 'uint16':
      return new Uint16Array(count);
    case 'int32':
      return new Int32Array(count);
  }
}
