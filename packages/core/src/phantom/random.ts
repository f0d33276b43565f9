/**
 * Seeded randomness for the phantoms. Everything a phantom contains is drawn from one of these,
 * never from Math.random, so a seed always gives the same bytes on every machine.
 */

/** A 32-bit hash of a few integers (murmur3 finaliser): derives independent sub-seeds. */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    let k = Math.imul(part >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed of case `index` in a batch generated from `batchSeed`. */
export function caseSeed(batchSeed: number, index: number): number {
  return hashSeed(batchSeed, index, 0x1a5ca2);
}

/** mulberry32: small, fast, good enough for anatomy and noise; state is one 32-bit integer. */
export class Rng {
  private state: number;
  private spareNormal: number | undefined;
  private readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly distributed unit vector. */
  unitVector(): [number, number, number] {
    for (;;) {
      const x = this.normal();
      const y = this.normal();
      const z = this.normal();
      const n = Math.hypot(x, y, z);
      if (n > 1e-6) return [x / n, y / n, z / n];
    }
  }

  /** An independent generator for a named part, so adding draws in one part never shifts another. */
  fork(label: number): Rng {
    return new Rng(hashSeed(this.seed, label));
  }
}
