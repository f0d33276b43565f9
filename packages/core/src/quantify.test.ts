import { describe, expect, it } from 'vitest';
import { DECAAF_STAGING, UTAH_STAGING, quantifyStudy, stageOf } from './quantify.js';
import { makeGeometry, makeVolume, type Geometry, type Mask, type Vec3 } from './volume.js';

function maskOf(geometry: Geometry, inside: (x: number, y: number, z: number) => boolean): Mask {
  const [nx, ny, nz] = geometry.dims;
  const [sx, sy, sz] = geometry.spacing;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (inside(i * sx, j * sy, k * sz)) data[i + nx * (j + ny * k)] = 1;
  return makeVolume(geometry, data);
}

describe('staging', () => {
  it('puts the Utah boundaries where the definition says', () => {
    const s = (b: number): string => stageOf(UTAH_STAGING, b);
    expect([s(0), s(5), s(5.0001), s(20), s(20.5), s(35), s(35.0001), s(100)]).toEqual([
      'I',
      'I',
      'II',
      'II',
      'III',
      'III',
      'IV',
      'IV',
    ]);
  });

  it('puts the DECAAF boundaries where the definition says', () => {
    const s = (b: number): string => stageOf(DECAAF_STAGING, b);
    expect([s(0), s(9.999), s(10), s(19.999), s(20), s(29.999), s(30), s(80)]).toEqual([
      '1',
      '1',
      '2',
      '2',
      '3',
      '3',
      '4',
      '4',
    ]);
  });

  it('rejects a burden that is not a percentage', () => {
    expect(() => stageOf(UTAH_STAGING, -1)).toThrow(/>= 0/);
    expect(() => stageOf(UTAH_STAGING, Number.NaN)).toThrow(/finite/);
  });
});

describe('quantifyStudy', () => {
  it('counts a hand-made cube: volumes, 1-voxel wall, burden and stages', () => {
    // 1 mm isotropic, 3 x 3 x 3 cavity in a 9 x 9 x 9 grid, wall 1 mm = the 6-neighbours shell.
    const geometry = makeGeometry({ dims: [9, 9, 9], spacing: [1, 1, 1] });
    const la = maskOf(
      geometry,
      (x, y, z) => x >= 3 && x <= 5 && y >= 3 && y <= 5 && z >= 3 && z <= 5,
    );
    // Within 1 mm outside: the 6 face layers of 3 x 3 = 54 voxels (edges are at sqrt 2 mm).
    const scar = maskOf(geometry, (x, y, z) => x === 2 && y >= 3 && y <= 5 && z >= 3 && z <= 5); // one face: 9 voxels
    scar.data[0] = 1; // a far-away scar voxel: in the scar volume, not in the wall
    const q = quantifyStudy(la, scar, { wallMm: 1, wallInsideMm: 0 });
    expect(q.laVoxels).toBe(27);
    expect(q.laVolumeMl).toBeCloseTo(0.027, 12);
    expect(q.wallVoxels).toBe(54);
    expect(q.scarVoxels).toBe(10);
    expect(q.scarInWallVoxels).toBe(9);
    expect(q.scarBurdenPercent).toBeCloseTo((9 / 54) * 100, 10);
    expect(q.stages.map((s) => `${s.scheme} ${s.stage}`)).toEqual(['Utah II', 'DECAAF 2']);
    expect(q.scarInCavityVoxels).toBe(0);
    expect(q.scarOutsideWallVoxels).toBe(1);
    expect(q.burdenMethod).toMatch(/^volume-based: share of LA wall voxels that are scar/);
    expect(q.wallDefinition).toMatch(/^voxels outside the LA cavity .* within 1 mm/);
    // At sqrt(2) mm the edges join the wall; at sqrt(3) the corners too.
    const outside = (mm: number): number =>
      quantifyStudy(la, scar, { wallMm: mm, wallInsideMm: 0 }).wallVoxels;
    expect(outside(Math.SQRT2)).toBe(54 + 12 * 3);
    expect(outside(Math.sqrt(3))).toBe(54 + 12 * 3 + 8);
    // Centred (the default): 2 mm = the cavity's outer layer (26 of 27 voxels: all but the
    // centre, 2 mm deep) plus the 54 face voxels outside.
    const centred = quantifyStudy(la, scar, { wallMm: 2 });
    expect(centred.wallInsideMm).toBe(1);
    expect([centred.wallInsideCavityVoxels, centred.wallOutsideCavityVoxels]).toEqual([26, 54]);
    expect(centred.scarBurdenPercent).toBeCloseTo((9 / 80) * 100, 10);
    expect(centred.wallDefinition).toMatch(/^a 2 mm shell on both sides of the LA cavity surface/);
  });

  it('finds the same wall as a brute-force distance search on both sides, near the grid edge too', () => {
    const spacing: Vec3 = [0.7, 1.1, 1.6];
    const geometry = makeGeometry({ dims: [14, 11, 8], spacing });
    // An irregular cavity touching the grid's first row and slice.
    const la = maskOf(
      geometry,
      (x, y, z) => (x - 3) ** 2 + (y - 1) ** 2 * 0.5 + z ** 2 <= 9 || (x > 6 && x < 8 && y < 4),
    );
    const [nx, ny] = geometry.dims;
    let outside = 0;
    let inside = 0;
    for (let v = 0; v < la.data.length; v++) {
      const [i, j, k] = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))];
      // Distance to the nearest voxel of the other kind (cavity for outside, non-cavity for
      // inside; the grid's edge is not a surface).
      let best = Infinity;
      for (let w = 0; w < la.data.length; w++) {
        if (la.data[w] === la.data[v]) continue;
        const [a, b, c] = [w % nx, Math.floor(w / nx) % ny, Math.floor(w / (nx * ny))];
        best = Math.min(
          best,
          Math.hypot((i - a) * spacing[0], (j - b) * spacing[1], (k - c) * spacing[2]),
        );
      }
      if (best <= 1.5) {
        if (la.data[v]) inside++;
        else outside++;
      }
    }
    expect(inside).toBeGreaterThan(20);
    expect(outside).toBeGreaterThan(50);
    const q = quantifyStudy(la, la);
    expect([q.wallInsideCavityVoxels, q.wallOutsideCavityVoxels]).toEqual([inside, outside]);
  });

  it('counts the wall a too-large cavity took in alike, scar or not: the denominator never depends on the scar', () => {
    const geometry = makeGeometry({ dims: [11, 9, 9], spacing: [1, 1, 1] });
    // The true blood pool is x = 3..7; the predicted cavity also took in the wall at x = 2 and
    // x = 8 (one voxel too large on both sides, as the LA network tends to be).
    const la = maskOf(
      geometry,
      (x, y, z) => x >= 2 && x <= 8 && y >= 3 && y <= 5 && z >= 3 && z <= 5,
    );
    const enhanced = (x: number, y: number, z: number): boolean =>
      x === 2 && y >= 3 && y <= 5 && z >= 3 && z <= 5;
    const none = quantifyStudy(
      la,
      maskOf(geometry, () => false),
      { wallMm: 2 },
    );
    const some = quantifyStudy(la, maskOf(geometry, enhanced), { wallMm: 2 });
    // The same wall, however much of it is scar: the swallowed wall at x = 8 counts too.
    expect(some.wallVoxels).toBe(none.wallVoxels);
    expect(some.scarInCavityVoxels).toBe(9);
    expect(some.scarInShellVoxels).toBe(0);
    expect(some.scarInCavityVolumeMl).toBeCloseTo(0.009, 12);
    expect(some.scarBurdenPercent).toBeCloseTo((9 / none.wallVoxels) * 100, 10);
    // Every voxel scar: the whole wall is scar (100 %); the cavity's core (2 mm deep) is not wall.
    const all = quantifyStudy(
      la,
      maskOf(geometry, () => true),
      { wallMm: 2 },
    );
    expect(all.wallVoxels).toBe(none.wallVoxels);
    expect(all.scarBurdenPercent).toBeCloseTo(100, 10);
    expect(all.scarOutsideWallVoxels).toBe(all.scarVoxels - all.wallVoxels);
    const core = maskOf(geometry, (x, y, z) => x >= 3 && x <= 7 && y === 4 && z === 4);
    expect(quantifyStudy(la, core, { wallMm: 2 }).scarBurdenPercent).toBe(0);
  });

  it('rejects a wall whose inside part is not within its thickness', () => {
    const geometry = makeGeometry({ dims: [4, 4, 4], spacing: [1, 1, 1] });
    const m = maskOf(geometry, () => true);
    expect(() => quantifyStudy(m, m, { wallMm: 3, wallInsideMm: 4 })).toThrow(
      "the wall's inside part must be 0..3 mm (the wall thickness), got 4",
    );
  });

  it('reports no burden and no stage without an LA', () => {
    const geometry = makeGeometry({ dims: [4, 4, 4], spacing: [1, 1, 1] });
    const empty = maskOf(geometry, () => false);
    const q = quantifyStudy(empty, empty);
    expect(q.scarBurdenPercent).toBeNull();
    expect(q.stages).toEqual([]);
    expect(q.wallVoxels).toBe(0);
  });

  it('rejects masks on different grids', () => {
    const a = maskOf(makeGeometry({ dims: [4, 4, 4], spacing: [1, 1, 1] }), () => true);
    const b = maskOf(makeGeometry({ dims: [4, 4, 4], spacing: [1, 1, 2] }), () => true);
    expect(() => quantifyStudy(a, b)).toThrow(/not on the same grid: voxel spacings differ/);
  });

  it('measures a ball on an anisotropic grid: volume and 3 mm outer shell near the analytic values', () => {
    const spacing: Vec3 = [0.625, 0.8, 1.25];
    const r = 15; // mm
    const c: Vec3 = [25.3, 24.9, 25.6]; // off-grid centre
    const dims: Vec3 = [
      Math.ceil(50 / spacing[0]),
      Math.ceil(50 / spacing[1]),
      Math.ceil(50 / spacing[2]),
    ];
    const geometry = makeGeometry({ dims, spacing });
    const ball = maskOf(
      geometry,
      (x, y, z) => (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r,
    );
    // Scar: the upper half of the (r, r + 3] shell.
    const scar = maskOf(geometry, (x, y, z) => {
      const d = Math.hypot(x - c[0], y - c[1], z - c[2]);
      return d > r && d <= r + 3 && z > c[2];
    });
    const q = quantifyStudy(ball, scar, { wallInsideMm: 0 });
    const sphere = (radius: number): number => ((4 / 3) * Math.PI * radius ** 3) / 1000;
    expect(Math.abs(q.laVolumeMl / sphere(r) - 1)).toBeLessThan(0.01);
    // The wall is measured from cavity voxel CENTRES, which lie up to half a voxel inside the
    // true surface, so the voxel shell is a little thinner than the analytic (r, r + 3] shell;
    // the shortfall shrinks with the voxel size.
    const shell = sphere(r + 3) - sphere(r);
    const ratio = q.wallVolumeMl / shell;
    expect(ratio).toBeGreaterThan(0.88);
    expect(ratio).toBeLessThan(1);
    const fine = makeGeometry({ dims: [100, 100, 100], spacing: [0.5, 0.5, 0.5] });
    const fineBall = maskOf(
      fine,
      (x, y, z) => (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r,
    );
    const fineRatio = quantifyStudy(fineBall, fineBall, { wallInsideMm: 0 }).wallVolumeMl / shell;
    expect(fineRatio).toBeGreaterThan(ratio);
    expect(Math.abs(fineRatio - 1)).toBeLessThan(0.04);
    // Half the shell is scar.
    expect(q.scarBurdenPercent!).toBeGreaterThan(45);
    expect(q.scarBurdenPercent!).toBeLessThan(55);
    expect(q.stages.map((s) => s.stage)).toEqual(['IV', '4']);
  });
});
