import type { GroupLayout } from './group-layout.js';

/** Integer storage a quantize kernel writes: 4-bit types are packed two per byte. */
export type QuantStorageDType = 'int4' | 'uint4' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32';

/** The arrays that hold quantized values of each storage dtype. */
export type QuantStorage = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

/**
 * Where quantized integers live and which of them are allowed: `qmin..qmax` may be narrower than
 * the storage type (narrow range, reduced range, or fewer bits than the container holds).
 */
export interface QuantRange {
  readonly storage: QuantStorageDType;
  readonly qmin: number;
  readonly qmax: number;
}

/** Sums for a signal-to-quantization-noise ratio: sum of x^2 and of (x - fakeQuant(x))^2. */
export interface QuantErrorSums {
  readonly signal: number;
  readonly noise: number;
}

/**
 * The hot kernels. The JS reference backend defines the results; any other backend (WASM) must
 * give bit-identical outputs for the same inputs. Shared conventions:
 * - Arithmetic follows ONNX QuantizeLinear/DequantizeLinear: q = saturate(roundHalfEven(x / s) + zp),
 *   x / s rounded to float32; dequantized value = float32((q - zp) * s).
 * - NaN inputs are ignored by reductions and histograms, and quantize to the zero point.
 * - Reductions fold into the arrays they are given (callers start min at +Inf, max at -Inf,
 *   absmax at 0), so batches can stream; a zero result is stored as +0.
 * - Sums of squares are taken in float64 over four interleaved partial sums (element i goes to
 *   partial i mod 4, in memory order) combined as (p0 + p1) + (p2 + p3), which fixes the order a
 *   SIMD backend must also use.
 */
export interface Backend {
  readonly name: string;
  /** Folds each group's minimum and maximum of `x` into `min[g]` and `max[g]`. */
  minMax(x: Float32Array, layout: GroupLayout, min: Float32Array, max: Float32Array): void;
  /** Folds each group's largest |x| into `out[g]`. */
  absMax(x: Float32Array, layout: GroupLayout, out: Float32Array): void;
  /**
   * Adds x into `counts.length` equal bins over [lo, hi]: bin = floor((x - lo) * (bins / (hi - lo)))
   * computed in float64, clamped to the first and last bin (hi itself lands in the last bin).
   */
  histogram(x: Float32Array, lo: number, hi: number, counts: Float64Array): void;
  /** Quantizes per group; 4-bit storage is packed two per byte, low nibble first. */
  quantize(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: QuantStorage,
  ): void;
  /** Dequantizes per group into float32. */
  dequantize(
    q: QuantStorage,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: Float32Array,
  ): void;
  /** dequantize(quantize(x)) without materialising the integers. */
  fakeQuant(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: Float32Array,
  ): void;
  /** Signal and noise sums of fake-quantizing `x` (for SQNR), without writing the result. */
  quantError(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
  ): QuantErrorSums;
  /** Packs 4-bit values two per byte, low nibble first. */
  packInt4(values: Int8Array | Uint8Array, out: Uint8Array): void;
  /** Unpacks `out.length` 4-bit values, sign-extending when `out` is an Int8Array. */
  unpackInt4(packed: Uint8Array, out: Int8Array | Uint8Array): void;
}
