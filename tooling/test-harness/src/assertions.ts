// Numeric assertions that say where arrays differ. They throw plain Errors, so they work in any
// test runner and fail loudly.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bit pattern of a float32 value. */
export function float32Bits(value: number): number {
  f32[0] = value;
  return u32[0]!;
}

function describeIndex(index: number, a: number, b: number): string {
  return `index ${index}: ${Object.is(a, -0) ? '-0' : a} vs ${Object.is(b, -0) ? '-0' : b}`;
}

/**
 * Arrays equal element for element: integers by value, floats bit for bit (so +0 and -0 differ),
 * except that any NaN equals any NaN (payloads are not part of the contract).
 */
export function assertBitEqual(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what = 'arrays',
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} differs from expected ${expected.length}`);
  }
  const isFloat = actual instanceof Float32Array || actual instanceof Float64Array;
  const mismatches: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    const same = a !== a ? b !== b : isFloat ? Object.is(a, b) : a === b;
    if (!same) {
      mismatches.push(describeIndex(i, a, b));
      if (mismatches.length >= 5) break;
    }
  }
  if (mismatches.length > 0) throw new Error(`${what} differ at ${mismatches.join('; ')}`);
}

/** |actual - expected| <= atol + rtol * |expected| everywhere; NaN only matches NaN. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-8, what = 'arrays' }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} differs from expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (a !== a || b !== b) {
      if (a !== a && b !== b) continue;
      failures++;
      worst = i;
      worstExcess = Number.POSITIVE_INFINITY;
      continue;
    }
    if (a === b) continue;
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (excess > 0 || excess !== excess) {
      failures++;
      if (excess > worstExcess || worst < 0) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${what}: ${failures} of ${actual.length} elements outside rtol=${rtol} atol=${atol}; worst at ${describeIndex(worst, actual[worst]!, expected[worst]!)}`,
    );
  }
}
