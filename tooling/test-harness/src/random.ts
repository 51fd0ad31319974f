/** A small, fast, seeded generator (mulberry32): the same seed gives the same stream on every machine. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Laplace with scale 1 (heavier tails than the normal, like many activations). */
  laplace(): number {
    const u = this.next() - 0.5;
    return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u) || Number.MIN_VALUE);
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** Distributions of generated test data. */
export type Distribution = 'uniform' | 'normal' | 'laplace' | 'outliers';

/**
 * A float32 array of `count` values drawn from `distribution` times `scale`. 'outliers' is normal
 * data where 1 value in 200 is 50x larger, the shape that breaks max calibration.
 */
export function randomFloat32(
  count: number,
  seed: number,
  distribution: Distribution = 'normal',
  scale = 1,
): Float32Array {
  const rng = new SeededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let v: number;
    switch (distribution) {
      case 'uniform':
        v = rng.uniform(-1, 1);
        break;
      case 'normal':
        v = rng.normal();
        break;
      case 'laplace':
        v = rng.laplace();
        break;
      case 'outliers':
        v = rng.normal() * (rng.next() < 1 / 200 ? 50 : 1);
        break;
    }
    out[i] = v * scale;
  }
  return out;
}

/** Hard float32 values every kernel must handle: NaN, infinities, signed zeros, subnormals, extremes. */
export const SPECIAL_FLOAT32: readonly number[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  2 ** -149,
  -(2 ** -149),
  2 ** -130,
  2 ** -126,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  1e30,
  -1e30,
];

/**
 * Random data with special values mixed in at seeded positions (about 1 in `every`), and
 * exact .5 ties of `tieUnit` (values k * tieUnit / 2 for odd k) so rounding is exercised.
 */
export function randomWithSpecials(count: number, seed: number, tieUnit = 0, every = 37): Float32Array {
  const rng = new SeededRandom(seed ^ 0x5eed);
  const out = randomFloat32(count, seed, 'normal', 3);
  for (let i = 0; i < count; i++) {
    const r = rng.next();
    if (r < 1 / every) out[i] = rng.pick(SPECIAL_FLOAT32);
    else if (tieUnit > 0 && r < 3 / every) out[i] = ((2 * rng.int(-300, 300) + 1) * tieUnit) / 2;
  }
  return out;
}
