import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  filterComponentsPerSlice,
  keepLargestComponent,
  labelComponents,
  type Connectivity,
} from './cca.js';
import type { Vec3 } from './volume.js';

/** Reference labelling: breadth-first flood fill from each unlabelled voxel in raster order. */
function floodFillLabels(
  mask: ArrayLike<number>,
  dims: Vec3,
  connectivity: Connectivity,
): Int32Array {
  const [nx, ny, nz] = dims;
  const planar = connectivity === 4 || connectivity === 8;
  const limit =
    connectivity === 4 || connectivity === 6
      ? 1
      : connectivity === 8 || connectivity === 18
        ? 2
        : 3;
  const steps: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const m = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (m === 0 || m > limit || (planar && dk !== 0)) continue;
        steps.push([di, dj, dk]);
      }
  const labels = new Int32Array(nx * ny * nz);
  let next = 0;
  for (let v = 0; v < labels.length; v++) {
    if (mask[v] === 0 || labels[v] !== 0) continue;
    labels[v] = ++next;
    const queue = [v];
    while (queue.length) {
      const w = queue.pop()!;
      const i = w % nx;
      const j = Math.floor(w / nx) % ny;
      const k = Math.floor(w / (nx * ny));
      for (const [di, dj, dk] of steps) {
        const a = i + di, b = j + dj, c = k + dk; // prettier-ignore
        if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue;
        const u = a + nx * (b + ny * c);
        if (mask[u] !== 0 && labels[u] === 0) {
          labels[u] = next;
          queue.push(u);
        }
      }
    }
  }
  return labels;
}

const randomMask = fc
  .record({
    nx: fc.integer({ min: 1, max: 9 }),
    ny: fc.integer({ min: 1, max: 9 }),
    nz: fc.integer({ min: 1, max: 5 }),
    density: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    seed: fc.integer(),
  })
  .map(({ nx, ny, nz, density, seed }) => {
    let s = seed >>> 0 || 1;
    const mask = new Uint8Array(nx * ny * nz);
    for (let v = 0; v < mask.length; v++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      mask[v] = s / 2 ** 32 < density ? 1 : 0;
    }
    return { mask, dims: [nx, ny, nz] as Vec3 };
  });

describe('labelComponents', () => {
  for (const connectivity of [4, 8, 6, 18, 26] as const) {
    it(`matches a brute-force flood fill on random masks (${connectivity}-connectivity)`, () => {
      fc.assert(
        fc.property(randomMask, ({ mask, dims }) => {
          const { labels, count, sizes } = labelComponents(mask, dims, connectivity);
          const reference = floodFillLabels(mask, dims, connectivity);
          // Both number components by their first voxel in raster order, so labels agree exactly.
          expect(Array.from(labels)).toEqual(Array.from(reference));
          expect(count).toBe(Math.max(0, ...reference));
          const counted = new Int32Array(count + 1);
          for (const l of reference) if (l) counted[l]!++;
          expect(Array.from(sizes)).toEqual(Array.from(counted));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('tells 4- from 8-connectivity on a diagonal, per slice', () => {
    // 1 0
    // 0 1   (two slices with the same pattern)
    const mask = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 1]);
    expect(labelComponents(mask, [2, 2, 2], 4).count).toBe(4);
    expect(labelComponents(mask, [2, 2, 2], 8).count).toBe(2); // slices never join in 2D modes
    expect(labelComponents(mask, [2, 2, 2], 6).count).toBe(2); // faces join across slices
    expect(labelComponents(mask, [2, 2, 2], 18).count).toBe(1);
  });

  it('joins a U shape whose arms meet only late in the scan (label merging)', () => {
    const rows = ['1.1.1', '1.1.1', '11111'];
    const mask = Uint8Array.from(rows.join('').split(''), (c) => (c === '1' ? 1 : 0));
    const { count, sizes } = labelComponents(mask, [5, 3, 1], 4);
    expect(count).toBe(1);
    expect(sizes[1]).toBe(11);
  });

  it('rejects a wrong grid or connectivity', () => {
    expect(() => labelComponents(new Uint8Array(5), [2, 2, 1], 4)).toThrow(/needs 4/);
    expect(() => labelComponents(new Uint8Array(4), [2, 2, 1], 5 as Connectivity)).toThrow(
      /connectivity/,
    );
  });
});

describe('keepLargestComponent', () => {
  it('keeps the biggest 3D blob and drops the rest', () => {
    const dims: Vec3 = [6, 6, 3];
    const mask = new Uint8Array(108);
    const set = (i: number, j: number, k: number): void => void (mask[i + 6 * (j + 6 * k)] = 1);
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) set(i, j, k); // 12 voxels
    set(5, 5, 0); // 1 voxel
    set(4, 4, 1); // touches (5,5,0) only by a corner
    const largest = keepLargestComponent(mask, dims, 26);
    expect(largest.reduce((a, b) => a + b, 0)).toBe(12);
    expect(largest[5 + 6 * (5 + 6 * 0)]).toBe(0);
  });

  it('uses the connectivity: a corner joins in 26 but not in 6', () => {
    const mask = new Uint8Array(8);
    mask[0] = 1; // (0,0,0)
    mask[7] = 1; // (1,1,1)
    mask[6] = 1; // (0,1,1) -- face-adjacent to (1,1,1)
    expect(keepLargestComponent(mask, [2, 2, 2], 26).reduce((a, b) => a + b, 0)).toBe(3);
    expect(keepLargestComponent(mask, [2, 2, 2], 6).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('agrees with the brute force on random masks', () => {
    fc.assert(
      fc.property(randomMask, ({ mask, dims }) => {
        const reference = floodFillLabels(mask, dims, 26);
        const sizes = new Map<number, number>();
        for (const l of reference) if (l) sizes.set(l, (sizes.get(l) ?? 0) + 1);
        let best = 0;
        for (const [l, s] of sizes)
          if (best === 0 || s > sizes.get(best)! || (s === sizes.get(best)! && l < best)) best = l;
        const expected = reference.map((l) => (l !== 0 && l === best ? 1 : 0));
        expect(Array.from(keepLargestComponent(mask, dims, 26))).toEqual(Array.from(expected));
      }),
      { numRuns: 100 },
    );
  });

  it('returns an empty mask for an empty input', () => {
    expect(keepLargestComponent(new Uint8Array(27), [3, 3, 3]).every((v) => v === 0)).toBe(true);
  });
});

describe('filterComponentsPerSlice', () => {
  it('drops 4-connected components outside [min, max] pixels, slice by slice', () => {
    const nx = 40, ny = 30; // prettier-ignore
    const mask = new Uint8Array(nx * ny * 2);
    const rect = (k: number, i0: number, j0: number, w: number, h: number): void => {
      for (let j = j0; j < j0 + h; j++)
        for (let i = i0; i < i0 + w; i++) mask[i + nx * (j + ny * k)] = 1;
    };
    rect(0, 0, 0, 3, 3); // 9 px: too small
    rect(0, 10, 0, 5, 2); // 10 px: kept (limit inclusive)
    rect(0, 0, 5, 30, 15); // 450 px: kept
    rect(1, 0, 0, 31, 15); // 465 px: too big
    rect(1, 35, 20, 2, 5); // 10 px: kept
    mask[39 + nx * 29] = 1; // a lone pixel diagonal to nothing
    const out = filterComponentsPerSlice(mask, [nx, ny, 2]);
    const sum = (k: number): number =>
      out.subarray(k * nx * ny, (k + 1) * nx * ny).reduce((a, b) => a + b, 0);
    expect(sum(0)).toBe(460);
    expect(sum(1)).toBe(10);
    expect(out[0]).toBe(0);
    expect(out[10]).toBe(1);
  });

  it('counts diagonal neighbours as separate components (4-connectivity)', () => {
    // A diagonal staircase of 12 pixels: 12 components of 1 pixel with 4-connectivity.
    const mask = new Uint8Array(144);
    for (let d = 0; d < 12; d++) mask[d + 12 * d] = 1;
    expect(filterComponentsPerSlice(mask, [12, 12, 1]).every((v) => v === 0)).toBe(true);
    expect(filterComponentsPerSlice(mask, [12, 12, 1], {}, 8).reduce((a, b) => a + b, 0)).toBe(12);
  });

  it('honours custom limits and rejects bad ones', () => {
    const mask = Uint8Array.from([1, 1, 0, 1]);
    expect(
      Array.from(filterComponentsPerSlice(mask, [4, 1, 1], { minPixels: 1, maxPixels: 1 })),
    ).toEqual([0, 0, 0, 1]);
    expect(() => filterComponentsPerSlice(mask, [4, 1, 1], { minPixels: 5, maxPixels: 2 })).toThrow(
      /min <= max/,
    );
  });
});
