import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assdMm,
  maskFromLabels,
  dice,
  evaluateSegmentation,
  GridMismatchError,
  hausdorff95Mm,
  hausdorffMm,
  jaccard,
  percentileLinear,
  sensitivity,
  specificity,
  surfaceDistances,
} from './metrics.js';
import { writeNifti } from './nifti.js';
import { makeGeometry, type Geometry, type Mask, type Vec3 } from './volume.js';

const PYTHON = '/usr/bin/python3';
const REFERENCE = fileURLToPath(new URL('./metrics.reference.py', import.meta.url));

function maskOf(geometry: Geometry, inside: (i: number, j: number, k: number) => boolean): Mask {
  const [nx, ny, nz] = geometry.dims;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0, v = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) data[v] = inside(i, j, k) ? 1 : 0;
  }
  return { geometry, data };
}

/** medpy's surface distances, brute force: explicit 6-neighbour erosion and O(n^2) nearest search. */
function bruteSurfaceDistances(a: Mask, b: Mask): [number[], number[]] {
  const [nx, ny, nz] = a.geometry.dims;
  const s = a.geometry.spacing;
  const at = (m: Mask, i: number, j: number, k: number): boolean =>
    i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz && m.data[i + nx * (j + ny * k)] !== 0;
  const surface = (m: Mask): Vec3[] => {
    const out: Vec3[] = [];
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          if (!at(m, i, j, k)) continue;
          const eroded =
            at(m, i - 1, j, k) &&
            at(m, i + 1, j, k) &&
            at(m, i, j - 1, k) &&
            at(m, i, j + 1, k) &&
            at(m, i, j, k - 1) &&
            at(m, i, j, k + 1);
          if (!eroded) out.push([i, j, k]);
        }
      }
    }
    return out;
  };
  const directed = (from: Vec3[], to: Vec3[]): number[] =>
    from.map((p) =>
      Math.min(
        ...to.map((q) =>
          Math.hypot((p[0] - q[0]) * s[0], (p[1] - q[1]) * s[1], (p[2] - q[2]) * s[2]),
        ),
      ),
    );
  const sa = surface(a);
  const sb = surface(b);
  return [directed(sa, sb), directed(sb, sa)];
}

function randomBlobMask(geometry: Geometry, seed: number, blobs: number, noise: number): Mask {
  let state = seed >>> 0 || 1;
  const rand = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const [nx, ny, nz] = geometry.dims;
  const balls = Array.from({ length: blobs }, () => ({
    c: [rand() * nx, rand() * ny, rand() * nz],
    r: 0.5 + rand() * Math.min(nx, ny, nz) * 0.4,
  }));
  return maskOf(
    geometry,
    (i, j, k) =>
      rand() < noise || balls.some((b) => Math.hypot(i - b.c[0]!, j - b.c[1]!, k - b.c[2]!) <= b.r),
  );
}

describe('overlap metrics', () => {
  const g = makeGeometry({ dims: [12, 12, 12], spacing: [0.5, 1, 1] });
  const boxA = maskOf(g, (i, j, k) => i >= 2 && i < 8 && j >= 2 && j < 8 && k >= 2 && k < 8);
  const boxB = maskOf(g, (i, j, k) => i >= 4 && i < 10 && j >= 2 && j < 8 && k >= 2 && k < 8);

  it('shifted boxes: known Dice, Jaccard, sensitivity, specificity', () => {
    // |A| = |B| = 216, |A ∩ B| = 4 * 6 * 6 = 144, |A ∪ B| = 288, grid 1728.
    expect(dice(boxA, boxB)).toBeCloseTo(288 / 432, 12);
    expect(jaccard(boxA, boxB)).toBeCloseTo(144 / 288, 12);
    expect(sensitivity(boxA, boxB)).toBeCloseTo(144 / 216, 12);
    expect(specificity(boxA, boxB)).toBeCloseTo((1728 - 288) / (1728 - 216), 12);
    const m = evaluateSegmentation(boxA, boxB);
    expect([m.predVoxels, m.truthVoxels, m.intersectionVoxels, m.gridVoxels]).toEqual([
      216, 216, 144, 1728,
    ]);
  });

  it('shifted boxes: Hausdorff is the shift in mm (2 voxels x 0.5 mm)', () => {
    expect(hausdorffMm(boxA, boxB)).toBeCloseTo(1, 6);
    const [ab, ba] = bruteSurfaceDistances(boxA, boxB);
    const m = evaluateSegmentation(boxA, boxB);
    expect(m.assdMm).toBeCloseTo(
      (ab.reduce((x, y) => x + y) / ab.length + ba.reduce((x, y) => x + y) / ba.length) / 2,
      6,
    );
    expect(m.hausdorff95Mm).toBeCloseTo(percentileLinear(Float64Array.from([...ab, ...ba]), 95), 6);
  });

  it('identical masks: Dice 1, all distances 0, also for a mask touching the grid edge', () => {
    for (const m of [boxA, maskOf(g, (i) => i < 3)]) {
      const r = evaluateSegmentation(m, m);
      expect([r.dice, r.jaccard, r.sensitivity, r.specificity]).toEqual([1, 1, 1, 1]);
      expect([r.hausdorffMm, r.hausdorff95Mm, r.assdMm]).toEqual([0, 0, 0]);
    }
  });
});

describe('surface distances', () => {
  it('concentric balls on an anisotropic grid: Hausdorff = difference of radii within a voxel', () => {
    const spacing: Vec3 = [0.625, 0.8, 1.25];
    const g = makeGeometry({ dims: [48, 40, 26], spacing });
    const centre = [24 * 0.625, 20 * 0.8, 13 * 1.25];
    const ball = (r: number): Mask =>
      maskOf(
        g,
        (i, j, k) =>
          Math.hypot(i * 0.625 - centre[0]!, j * 0.8 - centre[1]!, k * 1.25 - centre[2]!) <= r,
      );
    const inner = ball(6);
    const outer = ball(13);
    const voxelDiagonal = Math.hypot(...spacing);
    const hd = hausdorffMm(outer, inner)!;
    expect(Math.abs(hd - 7)).toBeLessThan(voxelDiagonal);
    // Every surface distance is about 7 mm, so hd95 and assd are too.
    expect(Math.abs(hausdorff95Mm(outer, inner)! - 7)).toBeLessThan(voxelDiagonal);
    expect(Math.abs(assdMm(outer, inner)! - 7)).toBeLessThan(voxelDiagonal);
    // And the exact values are medpy's (brute force).
    const [ab, ba] = bruteSurfaceDistances(outer, inner);
    expect(hd).toBeCloseTo(Math.max(...ab, ...ba), 5);
  });

  it('matches a brute-force medpy on random masks', () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 6 }),
        ),
        fc.tuple(
          fc.double({ min: 0.3, max: 3, noNaN: true }),
          fc.double({ min: 0.3, max: 3, noNaN: true }),
        ),
        fc.integer(),
        fc.integer(),
        (dims, [sx, sz], seedA, seedB) => {
          const g = makeGeometry({ dims, spacing: [sx, sx * 1.1, sz] });
          const a = randomBlobMask(g, seedA, 2, 0.05);
          const b = randomBlobMask(g, seedB, 2, 0.05);
          const d = surfaceDistances(a, b);
          const hasA = a.data.some((x) => x !== 0);
          const hasB = b.data.some((x) => x !== 0);
          if (!hasA || !hasB) {
            expect(d).toBeUndefined();
            return;
          }
          const [ab, ba] = bruteSurfaceDistances(a, b);
          expect(d!.predToTruth.length).toBe(ab.length);
          expect(d!.truthToPred.length).toBe(ba.length);
          ab.forEach((x, n) => expect(Math.abs(d!.predToTruth[n]! - x)).toBeLessThan(1e-5));
          ba.forEach((x, n) => expect(Math.abs(d!.truthToPred[n]! - x)).toBeLessThan(1e-5));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('empty masks and grid mismatches', () => {
  const g = makeGeometry({ dims: [6, 5, 4], spacing: [1, 1, 2] });
  const empty = maskOf(g, () => false);
  const some = maskOf(g, (i, j, k) => i === 2 && j === 2 && k < 2);

  it('both empty: Dice and Jaccard 1, sensitivity and distances null', () => {
    expect(evaluateSegmentation(empty, empty)).toEqual({
      dice: 1,
      jaccard: 1,
      sensitivity: null,
      specificity: 1,
      hausdorffMm: null,
      hausdorff95Mm: null,
      assdMm: null,
      predVoxels: 0,
      truthVoxels: 0,
      intersectionVoxels: 0,
      gridVoxels: 120,
    });
  });

  it('one empty: Dice 0, distances null', () => {
    const missed = evaluateSegmentation(empty, some);
    expect([missed.dice, missed.jaccard, missed.sensitivity, missed.specificity]).toEqual([
      0, 0, 0, 1,
    ]);
    expect([missed.hausdorffMm, missed.hausdorff95Mm, missed.assdMm]).toEqual([null, null, null]);
    const spurious = evaluateSegmentation(some, empty);
    expect([spurious.dice, spurious.sensitivity, spurious.specificity]).toEqual([
      0,
      null,
      118 / 120,
    ]);
    expect(spurious.hausdorffMm).toBeNull();
  });

  it('a truth covering the whole grid has no specificity', () => {
    const full = maskOf(g, () => true);
    expect(evaluateSegmentation(some, full).specificity).toBeNull();
  });

  it('refuses masks on different grids, naming both', () => {
    const other = maskOf(makeGeometry({ dims: [6, 5, 3], spacing: [1, 1, 2] }), () => false);
    expect(() => evaluateSegmentation(some, other)).toThrow(GridMismatchError);
    expect(() => evaluateSegmentation(some, other)).toThrow(/6 x 5 x 4 vs 6 x 5 x 3/);
    const coarser = maskOf(makeGeometry({ dims: [6, 5, 4], spacing: [1, 1, 2.5] }), () => false);
    expect(() => dice(some, coarser)).toThrow(/spacings differ: 1, 1, 2 mm vs 1, 1, 2.5 mm/);
  });
});

describe('helpers', () => {
  it('percentileLinear is numpy.percentile with linear interpolation', () => {
    expect(percentileLinear(Float64Array.from([4, 1, 3, 2]), 95)).toBeCloseTo(3.85, 12);
    expect(percentileLinear(Float64Array.from([7]), 95)).toBe(7);
    expect(percentileLinear(Float64Array.from([0, 10]), 50)).toBe(5);
  });

  it('maskFromLabels keeps one label or every non-zero voxel', () => {
    const g = makeGeometry({ dims: [4, 1, 1], spacing: [1, 1, 1] });
    const labels = { geometry: g, data: new Int16Array([0, 1, 2, -1]) };
    expect(Array.from(maskFromLabels(labels).data)).toEqual([0, 1, 1, 1]);
    expect(Array.from(maskFromLabels(labels, 2).data)).toEqual([0, 0, 1, 0]);
  });
});

describe('scipy (medpy) reference cross-check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-metrics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees on random masks: overlap to 1e-6, distances to 0.01 mm', () => {
    const cases: { pred: Mask; truth: Mask }[] = [];
    const grids = [
      makeGeometry({ dims: [30, 26, 14], spacing: [0.625, 0.625, 1.25] }),
      makeGeometry({ dims: [20, 24, 18], spacing: [1.25, 1.25, 1.25] }),
      makeGeometry({ dims: [17, 9, 23], spacing: [0.7, 1.9, 0.45] }),
    ];
    for (let c = 0; c < 9; c++) {
      const g = grids[c % grids.length]!;
      // Masks reaching the grid edge, several components, speckle: every surface rule matters.
      cases.push({
        pred: randomBlobMask(g, 1000 + c, 1 + (c % 3), 0.01 * (c % 2)),
        truth: randomBlobMask(g, 2000 + c, 2, 0.005),
      });
    }
    const paths: string[] = [];
    cases.forEach(({ pred, truth }, c) => {
      const p = join(dir, `pred-${c}.nii.gz`);
      const t = join(dir, `truth-${c}.nii`);
      writeFileSync(p, writeNifti(pred, { gzip: true }));
      writeFileSync(t, writeNifti(truth, { gzip: false }));
      paths.push(p, t);
    });
    const reference = JSON.parse(
      execFileSync(PYTHON, [REFERENCE, ...paths], { encoding: 'utf8' }),
    ) as {
      dc: number;
      jc: number;
      sensitivity: number;
      specificity: number;
      hd: number;
      hd95: number;
      assd: number;
      n_surface: [number, number];
    }[];
    expect(reference).toHaveLength(cases.length);
    let worstDistance = 0;
    let worstOverlap = 0;
    cases.forEach(({ pred, truth }, c) => {
      const r = reference[c]!;
      const m = evaluateSegmentation(pred, truth);
      const d = surfaceDistances(pred, truth)!;
      expect([d.predToTruth.length, d.truthToPred.length]).toEqual(r.n_surface);
      for (const [ours, theirs] of [
        [m.dice, r.dc],
        [m.jaccard, r.jc],
        [m.sensitivity!, r.sensitivity],
        [m.specificity!, r.specificity],
      ] as const) {
        worstOverlap = Math.max(worstOverlap, Math.abs(ours - theirs));
      }
      for (const [ours, theirs] of [
        [m.hausdorffMm!, r.hd],
        [m.hausdorff95Mm!, r.hd95],
        [m.assdMm!, r.assd],
      ] as const) {
        worstDistance = Math.max(worstDistance, Math.abs(ours - theirs));
      }
    });
    expect(worstOverlap).toBeLessThan(1e-6);
    expect(worstDistance).toBeLessThan(0.01);
  });
});
