// Histograms: float32 values counted into float64 bins over [lo, hi], bit for bit as the JS
// reference counts them.

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
// counted in u16 sub-counters and added to the float64 counts by histogramFold, which the host
// calls before any counter could pass 65535 (see TABLE_LANE_LIMIT in the host adapter).
// Each bin owns four u16 counters (8 bytes), one per element index mod 4, so runs of equal values
// (the zeros after a ReLU) update four different addresses instead of waiting on one
// load-add-store chain, and the table for 2048 bins takes 16 KiB, half the L1 data cache of the
// CPU it was tuned on. Slot `bins` collects the skipped NaN indices, which keeps the loop
// branch-free.

/** Zeroes the (bins + 1) x 4 u16 counters at tablePtr. */
export function histogramReset(tablePtr: usize, bins: u32): void {
  memory.fill(tablePtr, 0, (<usize>bins + 1) << 3);
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

function countAt(tablePtr: usize, offset: u32): void {
  const p = tablePtr + <usize>offset;
  store<u16>(p, load<u16>(p) + 1);
}

/**
 * Counts `count` floats at xPtr into the (bins + 1) x 4 u16 counters at tablePtr: element j into
 * counter j mod 4 of its bin, so a call adds at most ceil(count / 4) to any counter.
 */
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
    // The four bins times 8 (their counters' offsets), read out as two i64 lanes (two extracts
    // instead of four); each lane's counter is a constant offset from there.
    const at = i32x4.shl(i8x16.shuffle(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), 3);
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
  for (; j < count; j++) {
    const v = f64x2.splat(<f64>load<f32>(xPtr + ((<usize>j) << 2)));
    const bin = i32x4.extract_lane(binPair(v, loV, perUnitV, lastV, binsV), 0);
    countAt(tablePtr, ((<u32>bin) << 3) + ((j & 3) << 1));
  }
}

/**
 * Adds the u16 counters at tablePtr to the `bins` float64 counts and zeroes them. Adding n at once
 * equals adding 1 n times when every intermediate value is exact: true for an integral count c
 * with -2^53 <= c and c + n <= 2^53. Other counts (fractional, huge, NaN, infinite) get the n
 * additions one by one, as the reference makes them.
 */
export function histogramFold(tablePtr: usize, countsPtr: usize, bins: u32): void {
  for (let k: u32 = 0; k < bins; k++) {
    const t = tablePtr + ((<usize>k) << 3);
    const four = load<u64>(t);
    if (four === 0) continue;
    store<u64>(t, 0);
    const n = <f64>(
      (<u32>(four & 0xffff) +
        <u32>((four >>> 16) & 0xffff) +
        <u32>((four >>> 32) & 0xffff) +
        <u32>(four >>> 48))
    );
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
