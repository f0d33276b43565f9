/**
 * Smooth random fields in patient space: lattice value noise with trilinear interpolation of
 * hashed lattice values (cheap per point, no tables to fill), a few octaves summed.
 */
import { hashSeed } from './random.js';

export type Field3 = (x: number, y: number, z: number) => number;

/** Value noise in [-1, 1] with features about `cellMm` across. */
export function valueNoise(seed: number, cellMm: number, octaves = 2): Field3 {
  const inv = 1 / cellMm;
  const s = seed >>> 0;
  const lattice = (i: number, j: number, k: number, o: number): number => {
    // Inline integer hash of (i, j, k, octave, seed): fast, and stable across platforms.
    let h =
      Math.imul(i, 0x27d4eb2d) ^
      Math.imul(j, 0x165667b1) ^
      Math.imul(k, 0x9e3779b1) ^
      Math.imul(o + 1, 0x85ebca77) ^
      s;
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    h = Math.imul(h, 0x297a2d39);
    h ^= h >>> 15;
    return (h >>> 0) / 2147483648 - 1;
  };
  const smooth = (t: number): number => t * t * (3 - 2 * t);
  let norm = 0;
  for (let o = 0; o < octaves; o++) norm += 0.5 ** o;
  // Consecutive points mostly fall in the same lattice cell (voxels walk a row): keep the last
  // cell's eight corner values per octave instead of re-hashing them.
  const cached = new Float64Array(octaves * 8);
  const cell = new Float64Array(octaves * 3).fill(NaN);
  return (x, y, z) => {
    let total = 0;
    let f = inv;
    let amp = 1;
    for (let o = 0; o < octaves; o++) {
      const fx = x * f + o * 17.3;
      const fy = y * f + o * 31.7;
      const fz = z * f + o * 11.1;
      const i = Math.floor(fx);
      const j = Math.floor(fy);
      const k = Math.floor(fz);
      const c = o * 8;
      if (cell[o * 3] !== i || cell[o * 3 + 1] !== j || cell[o * 3 + 2] !== k) {
        cell[o * 3] = i;
        cell[o * 3 + 1] = j;
        cell[o * 3 + 2] = k;
        cached[c] = lattice(i, j, k, o);
        cached[c + 1] = lattice(i + 1, j, k, o);
        cached[c + 2] = lattice(i, j + 1, k, o);
        cached[c + 3] = lattice(i + 1, j + 1, k, o);
        cached[c + 4] = lattice(i, j, k + 1, o);
        cached[c + 5] = lattice(i + 1, j, k + 1, o);
        cached[c + 6] = lattice(i, j + 1, k + 1, o);
        cached[c + 7] = lattice(i + 1, j + 1, k + 1, o);
      }
      const u = smooth(fx - i);
      const v = smooth(fy - j);
      const w = smooth(fz - k);
      const x00 = cached[c]! + u * (cached[c + 1]! - cached[c]!);
      const x10 = cached[c + 2]! + u * (cached[c + 3]! - cached[c + 2]!);
      const x01 = cached[c + 4]! + u * (cached[c + 5]! - cached[c + 4]!);
      const x11 = cached[c + 6]! + u * (cached[c + 7]! - cached[c + 6]!);
      const y0 = x00 + v * (x10 - x00);
      const y1 = x01 + v * (x11 - x01);
      total += amp * (y0 + w * (y1 - y0));
      f *= 2;
      amp *= 0.5;
    }
    return total / norm;
  };
}

/** Convenience: a value-noise field seeded from a parent seed and a label. */
export function namedNoise(seed: number, label: number, cellMm: number, octaves = 2): Field3 {
  return valueNoise(hashSeed(seed, label), cellMm, octaves);
}
