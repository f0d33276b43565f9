import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  distanceTransformMm,
  distanceTransformMmInBox,
  squaredDistanceTransformMm,
} from './distance.js';
import { nonZeroBox } from './mask-scan.js';
import type { Vec3 } from './volume.js';

/** O(n^2) reference: for each voxel, the minimum over all mask voxels of the Euclidean distance. */
function bruteForce(mask: Uint8Array, dims: Vec3, spacing: Vec3): Float64Array {
  const [nx, ny] = dims;
  const features: number[][] = [];
  for (let v = 0; v < mask.length; v++) {
    if (mask[v] !== 0) features.push([v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))]);
  }
  const out = new Float64Array(mask.length);
  for (let v = 0; v < mask.length; v++) {
    const i = v % nx;
    const j = Math.floor(v / nx) % ny;
    const k = Math.floor(v / (nx * ny));
    let best = Infinity;
    for (const [fi, fj, fk] of features) {
      const d = Math.hypot((i - fi!) * spacing[0], (j - fj!) * spacing[1], (k - fk!) * spacing[2]);
      if (d < best) best = d;
    }
    out[v] = best;
  }
  return out;
}

function expectClose(actual: Float32Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  for (let v = 0; v < actual.length; v++) {
    const e = expected[v]!;
    const a = actual[v]!;
    if (e === Infinity) {
      expect(a).toBe(Infinity);
    } else if (Math.abs(a - e) > 1e-5 * Math.max(1, e)) {
      throw new Error(`voxel ${v}: got ${a}, expected ${e}`);
    }
  }
}

const dimArb = fc.integer({ min: 1, max: 9 });
const spacingArb = fc.double({ min: 0.1, max: 5, noNaN: true });
const caseArb = fc
  .record({
    dims: fc.tuple(dimArb, dimArb, dimArb),
    spacing: fc.tuple(spacingArb, spacingArb, spacingArb),
    density: fc.double({ min: 0, max: 0.3, noNaN: true }),
    seed: fc.integer(),
  })
  .map(({ dims, spacing, density, seed }) => {
    const n = dims[0] * dims[1] * dims[2];
    const mask = new Uint8Array(n);
    let state = seed >>> 0 || 1;
    for (let v = 0; v < n; v++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      mask[v] = (state >>> 0) / 2 ** 32 < density ? 1 : 0;
    }
    return { dims: dims as Vec3, spacing: spacing as Vec3, mask };
  });

describe('distanceTransformMm', () => {
  it('matches brute force on random masks with anisotropic spacing', () => {
    fc.assert(
      fc.property(caseArb, ({ dims, spacing, mask }) => {
        expectClose(distanceTransformMm(mask, dims, spacing), bruteForce(mask, dims, spacing));
      }),
      { numRuns: 300 },
    );
  });

  it('squared variant is the square of the distance', () => {
    fc.assert(
      fc.property(caseArb, ({ dims, spacing, mask }) => {
        const d = bruteForce(mask, dims, spacing);
        const sq = squaredDistanceTransformMm(mask, dims, spacing);
        expectClose(
          sq,
          d.map((x) => x * x),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('is Infinity everywhere for an empty mask and 0 everywhere for a full one', () => {
    const dims: Vec3 = [4, 3, 5];
    const empty = distanceTransformMm(new Uint8Array(60), dims, [1, 2, 3]);
    expect(empty.every((d) => d === Infinity)).toBe(true);
    const full = distanceTransformMm(new Uint8Array(60).fill(1), dims, [1, 2, 3]);
    expect(full.every((d) => d === 0)).toBe(true);
  });

  it('handles 1-voxel grids and single lines along each axis', () => {
    expect(Array.from(distanceTransformMm(new Uint8Array([1]), [1, 1, 1], [1, 1, 1]))).toEqual([0]);
    expect(Array.from(distanceTransformMm(new Uint8Array([0]), [1, 1, 1], [1, 1, 1]))).toEqual([
      Infinity,
    ]);
    const line = new Uint8Array([0, 0, 1, 0, 0]);
    for (const [dims, s] of [
      [
        [5, 1, 1],
        [0.5, 9, 9],
      ],
      [
        [1, 5, 1],
        [9, 0.5, 9],
      ],
      [
        [1, 1, 5],
        [9, 9, 0.5],
      ],
    ] as [Vec3, Vec3][]) {
      expect(Array.from(distanceTransformMm(line, dims, s))).toEqual([1, 0.5, 0, 0.5, 1]);
    }
  });

  it('is exact where a chamfer would not be (a knight-move offset)', () => {
    const dims: Vec3 = [3, 2, 1];
    const mask = new Uint8Array(6);
    mask[0] = 1; // voxel (0, 0, 0); the far corner (2, 1, 0) is at sqrt((2*0.7)^2 + 1.3^2)
    const d = distanceTransformMm(mask, dims, [0.7, 1.3, 1]);
    expect(d[5]).toBeCloseTo(Math.hypot(1.4, 1.3), 6);
  });

  it('rejects a data length that does not fit the grid', () => {
    expect(() => distanceTransformMm(new Uint8Array(5), [2, 2, 2], [1, 1, 1])).toThrow(/needs 8/);
    expect(() => distanceTransformMm(new Uint8Array(8), [2, 2, 2], [1, 0, 1])).toThrow(/spacing/);
  });
});

describe('distanceTransformMmInBox', () => {
  it('equals the full transform inside a box that holds every mask voxel', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), ({ dims, spacing, mask }, grow) => {
        const bbox = nonZeroBox(mask, dims);
        if (!bbox) return;
        const g = grow % 3;
        const first = [bbox.x0, bbox.y0, bbox.z0];
        const size = [bbox.bx, bbox.by, bbox.bz];
        const min = first.map((m) => Math.max(0, m - g)) as unknown as Vec3;
        const max = first.map((m, a) => Math.min(dims[a]!, m + size[a]! + g)) as unknown as Vec3;
        const full = distanceTransformMm(mask, dims, spacing);
        const inBox = distanceTransformMmInBox(mask, dims, spacing, { min, max });
        const bx = max[0] - min[0];
        const by = max[1] - min[1];
        let o = 0;
        for (let k = min[2]; k < max[2]; k++) {
          for (let j = min[1]; j < max[1]; j++) {
            for (let i = min[0]; i < max[0]; i++, o++) {
              expect(inBox[o]).toBe(full[i + dims[0] * (j + dims[1] * k)]);
            }
          }
        }
        expect(o).toBe(bx * by * (max[2] - min[2]));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a box outside the grid', () => {
    expect(() =>
      distanceTransformMmInBox(new Uint8Array(8), [2, 2, 2], [1, 1, 1], {
        min: [0, 0, 0],
        max: [3, 2, 2],
      }),
    ).toThrow(/not a non-empty box/);
  });
});
