import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QC_LIMITS,
  formatQcFlag,
  qcFlagReason,
  qualityControl,
  type QualityControlLimits,
} from './quality-control.js';
import { quantifyStudy } from './quantify.js';
import { makeGeometry, makeVolume, type Geometry, type Mask } from './volume.js';

// 1 x 1 x 2 mm voxels, 100 x 100 x 40 (a 100 x 100 x 80 mm box).
const GRID: Geometry = makeGeometry({ dims: [100, 100, 40], spacing: [1, 1, 2] });
const CENTRE = [50, 50, 40] as const;

function maskOf(inside: (x: number, y: number, z: number) => boolean, g = GRID): Mask {
  const [nx, ny, nz] = g.dims;
  const [sx, sy, sz] = g.spacing;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (inside(i * sx, j * sy, k * sz)) data[i + nx * (j + ny * k)] = 1;
  return makeVolume(g, data);
}

const radius = (x: number, y: number, z: number): number =>
  Math.hypot(x - CENTRE[0], y - CENTRE[1], z - CENTRE[2]);
/** A 25 mm sphere: ~65 mL, 50 mm head to foot. */
const sphere = (r = 25): Mask => maskOf((x, y, z) => radius(x, y, z) <= r);
const empty = (): Mask => maskOf(() => false);
const count = (m: Mask): number => m.data.reduce((n, v) => n + v, 0);
const codes = (la: Mask, scar: Mask, limits?: QualityControlLimits): string[] =>
  qualityControl(la, scar, limits).flags.map((f) => f.code);

describe('quality control', () => {
  it('passes a plausible LA with scar on its wall, and says what it measured', () => {
    const la = sphere();
    const scar = maskOf((x, y, z) => radius(x, y, z) > 25 && radius(x, y, z) <= 27 && x > 50);
    const qc = qualityControl(la, scar);
    expect(qc.flags).toEqual([]);
    expect(qc.needsReview).toBe(false);
    expect(qc.measured.laVolumeMl).toBeCloseTo((count(la) * 2) / 1000, 9);
    expect(qc.measured.laVolumeMl).toBeGreaterThan(60);
    expect(qc.measured.laVolumeMl).toBeLessThan(70);
    // Slices k = 8..32 (z = 16..64 mm) hold LA: 25 slices x 2 mm.
    expect(qc.measured.laSlices).toBe(25);
    expect(qc.measured.laExtentMm).toBe(50);
    expect(qc.measured.scarFarFromWallPercent).toBe(0);
    expect(qc.limits).toEqual(DEFAULT_QC_LIMITS);
  });

  it('flags a study with no LA, with that reason alone', () => {
    const qc = qualityControl(empty(), empty());
    expect(qc.needsReview).toBe(true);
    expect(qc.flags).toEqual([
      {
        code: 'no-la',
        reason: 'no LA cavity found: nothing to measure (no SEG or SR is stored)',
      },
    ]);
    expect(qc.measured).toEqual({
      laVolumeMl: 0,
      laSlices: 0,
      laExtentMm: 0,
      scarFarFromWallPercent: null,
    });
  });

  it('flags a speck of LA as too small and too short, with the numbers in the reasons', () => {
    const la = sphere(6); // ~0.9 mL, 6 slices
    const qc = qualityControl(la, empty());
    const ml = ((count(la) * 2) / 1000).toFixed(1);
    expect(qc.flags).toEqual([
      {
        code: 'la-volume',
        reason: `LA volume ${ml} mL is outside the plausible range 20-300 mL`,
      },
      {
        code: 'la-extent',
        reason: `LA found on ${qc.measured.laSlices} slices only (${qc.measured.laExtentMm.toFixed(1)} mm in the slice direction; at least 25 mm expected)`,
      },
    ]);
    expect(qc.measured.laExtentMm).toBeLessThan(25);
  });

  it('uses the configured volume range, both ends inclusive', () => {
    const la = sphere();
    const ml = (count(la) * 2) / 1000;
    expect(codes(la, empty(), { ...DEFAULT_QC_LIMITS, qcLaMaxVolumeMl: 50 })).toEqual([
      'la-volume',
    ]);
    expect(codes(la, empty(), { ...DEFAULT_QC_LIMITS, qcLaMinVolumeMl: 100 })).toEqual([
      'la-volume',
    ]);
    expect(
      codes(la, empty(), { ...DEFAULT_QC_LIMITS, qcLaMinVolumeMl: ml, qcLaMaxVolumeMl: ml }),
    ).toEqual([]);
  });

  it('flags an LA that spans too little in the slice direction, however large', () => {
    // A 40 mm-radius disc 3 slices (6 mm) thick: ~30 mL, a plausible volume.
    const disc = maskOf((x, y, z) => Math.hypot(x - 50, y - 50) <= 40 && z >= 38 && z <= 42);
    expect(qualityControl(disc, empty()).measured.laVolumeMl).toBeGreaterThan(20);
    expect(codes(disc, empty())).toEqual(['la-extent']);
    // The limit is configurable; 0 switches the check off.
    expect(codes(disc, empty(), { ...DEFAULT_QC_LIMITS, qcLaMinExtentMm: 6 })).toEqual([]);
    expect(codes(disc, empty(), { ...DEFAULT_QC_LIMITS, qcLaMinExtentMm: 0 })).toEqual([]);
    expect(codes(disc, empty(), { ...DEFAULT_QC_LIMITS, qcLaMinExtentMm: 6.5 })).toEqual([
      'la-extent',
    ]);
  });

  it('flags scar far from the wall, outside or deep inside the cavity, by share of the scar volume', () => {
    const la = sphere();
    const cap = (x: number, y: number, z: number) =>
      radius(x, y, z) > 25 && radius(x, y, z) <= 27 && x > 70;
    const wall = maskOf(cap);
    const near = count(wall);
    // Far outside: a corner block (> 30 mm from the sphere); deep inside: the centre (25 mm deep).
    const corner = (x: number, y: number, z: number) => x < 4 && y < 4 && z < 8;
    const centre = (x: number, y: number, z: number) => radius(x, y, z) <= 2;
    const far = count(maskOf(corner)) + count(maskOf(centre));
    const scar = maskOf((x, y, z) => cap(x, y, z) || corner(x, y, z) || centre(x, y, z));
    const percent = (far / (near + far)) * 100;
    expect(percent).toBeGreaterThan(5);
    const qc = qualityControl(la, scar);
    expect(qc.measured.scarFarFromWallPercent).toBeCloseTo(percent, 9);
    expect(qc.flags).toEqual([
      {
        code: 'scar-far-from-wall',
        reason: `${percent.toFixed(1)} % of the scar volume lies more than 10 mm from the LA wall (at most 5 % expected)`,
      },
    ]);
    // A share at the limit passes; a distance limit beyond the far scar passes too.
    expect(codes(la, scar, { ...DEFAULT_QC_LIMITS, qcScarFarMaxPercent: percent + 1e-9 })).toEqual(
      [],
    );
    expect(codes(la, scar, { ...DEFAULT_QC_LIMITS, qcScarWallDistanceMm: 100 })).toEqual([]);
  });

  it('counts scar exactly at the distance limit as near the wall', () => {
    const la = sphere();
    // One scar voxel 10 mm straight out from the surface along x: (85, 50, 40) is 10 mm from (75, 50, 40).
    const scar = maskOf((x, y, z) => x === 85 && y === 50 && z === 40);
    expect(qualityControl(la, scar).measured.scarFarFromWallPercent).toBe(0);
    const further = maskOf((x, y, z) => x === 86 && y === 50 && z === 40);
    expect(qualityControl(la, further).measured.scarFarFromWallPercent).toBe(100);
  });

  it('flags an LA whose wall shell holds no voxel, so that no burden could be computed', () => {
    // 1.75 mm pixels, 3 mm slices: a 3 mm shell centred on the surface (1.5 mm each side) holds
    // no voxel centre.
    const coarse = makeGeometry({ dims: [60, 60, 30], spacing: [1.75, 1.75, 3] });
    const la = maskOf((x, y, z) => Math.hypot(x - 52, y - 52, z - 45) <= 25, coarse);
    const quantification = quantifyStudy(
      la,
      maskOf(() => false, coarse),
    );
    expect(quantification.wallVoxels).toBe(0);
    expect(quantification.scarBurdenPercent).toBeNull();
    const qc = qualityControl(
      la,
      maskOf(() => false, coarse),
      DEFAULT_QC_LIMITS,
      quantification,
    );
    expect(qc.flags).toEqual([
      {
        code: 'no-wall',
        reason:
          'the 3 mm LA wall shell holds no voxel at this spacing (1.75 x 1.75 x 3.00 mm): no scar burden',
      },
    ]);
    // On a fine grid the shell has voxels, and nothing is flagged.
    const fine = sphere();
    expect(
      qualityControl(fine, empty(), DEFAULT_QC_LIMITS, quantifyStudy(fine, empty())).flags,
    ).toEqual([]);
  });

  it('refuses masks on different grids', () => {
    const other = makeGeometry({ dims: [100, 100, 40], spacing: [1, 1, 3] });
    expect(() =>
      qualityControl(
        sphere(),
        maskOf(() => false, other),
      ),
    ).toThrow(/not on the same grid/);
  });
});

describe('stored QC flags', () => {
  it('store code and reason, and show the reason', () => {
    const flag = { code: 'la-volume', reason: 'LA volume 12.0 mL is outside 20-300 mL' } as const;
    expect(formatQcFlag(flag)).toBe('la-volume: LA volume 12.0 mL is outside 20-300 mL');
    expect(qcFlagReason(formatQcFlag(flag))).toBe(flag.reason);
  });

  it('show an older bare code as words', () => {
    expect(qcFlagReason('low_blood_pool_contrast')).toBe('low blood pool contrast');
    expect(qcFlagReason('Free text: kept as it is.')).toBe('Free text: kept as it is.');
  });
});
