// ONNX stores int4/uint4 two to a byte, the element with the lower index in the low nibble.

/** Bytes needed for `count` 4-bit elements. */
export function int4ByteLength(count: number): number {
  return Math.ceil(count / 2);
}

/**
 * Packs 4-bit values (already within [-8, 7] or [0, 15]) two per byte, low nibble first.
 * An odd count leaves the high nibble of the last byte zero.
 */
export function packInt4(
  values: ArrayLike<number>,
  out: Uint8Array = new Uint8Array(int4ByteLength(values.length)),
): Uint8Array {
  const n = values.length;
  const pairs = n >> 1;
  for (let p = 0; p < pairs; p++) {
    out[p] = (values[2 * p]! & 0x0f) | ((values[2 * p + 1]! & 0x0f) << 4);
  }
  if (n & 1) out[pairs] = values[n - 1]! & 0x0f;
  return out;
}

/** Unpacks `count` 4-bit values; `signed` sign-extends each nibble to [-8, 7]. */
export function unpackInt4(
  packed: Uint8Array,
  count: number,
  signed: boolean,
  out: Int8Array | Uint8Array = signed ? new Int8Array(count) : new Uint8Array(count),
): Int8Array | Uint8Array {
  for (let i = 0; i < count; i++) {
    const byte = packed[i >> 1]!;
    const nibble = i & 1 ? byte >> 4 : byte & 0x0f;
    out[i] = signed ? (nibble ^ 8) - 8 : nibble;
  }
  return out;
}
