// Exact IEEE-754 conversions between float32 and the two 16-bit float formats, working on bit
// patterns so that rounding (to nearest, ties to even), subnormals, infinities and NaN follow
// the standard rather than whatever a platform helper does.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 value -> float16 bit pattern, rounding to nearest with ties to even. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00;
    // Keep the top payload bits; a NaN whose payload lives only in the low bits stays a NaN.
    const payload = mantissa >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  const halfExponent = exponent - 112; // rebias 127 -> 15
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Result is subnormal (or zero): value = m * 2^(exponent-150), unit is 2^-24.
    const shift = 14 - halfExponent;
    if (shift > 24) return sign;
    const m = mantissa | 0x800000;
    const truncated = m >>> shift;
    const remainder = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    const rounded =
      remainder > half || (remainder === half && (truncated & 1) === 1) ? truncated + 1 : truncated;
    return sign | rounded;
  }
  const truncated = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa moves into the exponent, which is exactly right (up to infinity).
  const rounded =
    remainder > 0x1000 || (remainder === 0x1000 && (truncated & 1) === 1) ? truncated + 1 : truncated;
  return sign | rounded;
}

/** float16 bit pattern -> the float32 value it encodes (exact: every float16 is a float32). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** float32 value -> bfloat16 bit pattern, rounding to nearest with ties to even. */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return (bits >>> 16) | 0x40; // NaN: keep sign and top payload, force quiet so it stays NaN
  }
  // Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even; doubles cannot overflow here.
  return Math.floor((bits + 0x7fff + ((bits >>> 16) & 1)) / 0x10000) & 0xffff;
}

/** bfloat16 bit pattern -> the float32 value it encodes (exact). */
export function bfloat16BitsToFloat32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

let float16Table: Float32Array | undefined;

/** Bulk float16 -> float32 through a 65536-entry table (256 KiB, built on first use). */
export function float16ArrayToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) float16Table[h] = float16BitsToFloat32(h);
  }
  const table = float16Table;
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** Bulk float32 -> float16 bit patterns (round to nearest even). */
export function float32ArrayToFloat16(
  values: Float32Array,
  out: Uint16Array = new Uint16Array(values.length),
): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}

/** Bulk bfloat16 -> float32. */
export function bfloat16ArrayToFloat32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** Bulk float32 -> bfloat16 bit patterns (round to nearest even). */
export function float32ArrayToBfloat16(
  values: Float32Array,
  out: Uint16Array = new Uint16Array(values.length),
): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = float32ToBfloat16Bits(values[i]!);
  return out;
}
