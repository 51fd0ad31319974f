/**
 * A small seeded generator (splitmix32 finaliser over a counter), so that input `index` of a run
 * with seed `seed` is the same bytes on every machine: a reproducer is the pair, not the file.
 */
export class Rng {
  private state: number;

  constructor(seed: number, index: number) {
    this.state = mix(mix(seed >>> 0) ^ mix((index * 0x9e3779b9) >>> 0)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix(this.state) / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function mix(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}
