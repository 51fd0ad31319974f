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
