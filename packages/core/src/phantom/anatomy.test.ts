import { describe, expect, it } from 'vitest';
import { ANATOMY_RANGES, sampleHeart } from './anatomy.js';
import { phantomDicomDescription } from './dicom-identity.js';
import { generatePhantom, laLabelShapes } from './generate.js';
import { Rng, caseSeed } from './random.js';
import { surfaceDistance } from './shapes.js';

const hearts = Array.from({ length: 200 }, (_, i) =>
  sampleHeart(new Rng(caseSeed(3, i)).fork(2), 'randomised'),
);
const classicHearts = Array.from({ length: 200 }, (_, i) =>
  sampleHeart(new Rng(caseSeed(3, i)).fork(2)),
);

describe('classic anatomy (the default)', () => {
  it('takes none of the randomised variants: four veins (sometimes a right middle one), 6-9 appendage lobes, 0-6 fat pads, mixed scar', () => {
    const counts = new Set(classicHearts.map((h) => h.veins.length));
    expect(counts).toEqual(new Set([4, 5]));
    for (const h of classicHearts) {
      expect(h.veins.some((v) => v.name === 'LCPV')).toBe(false);
      expect(h.targetLaVolumeMl).toBeNull();
      expect(h.scarPattern).toBe('mixed');
      expect(h.appendage.centres.length).toBeGreaterThanOrEqual(6);
      expect(h.appendage.centres.length).toBeLessThanOrEqual(9);
      expect(h.fatPads.centres.length).toBeLessThanOrEqual(6);
      expect(h.epicardialFatMm).toBeGreaterThanOrEqual(3);
      expect(h.epicardialFatMm).toBeLessThanOrEqual(12);
    }
    // Normal to enlarged: the body's long radius is 26-38 mm, times up to 1.2.
    const a = classicHearts.map((h) => h.laBody.radii[0]);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(26);
    expect(Math.max(...a)).toBeLessThanOrEqual(38 * 1.2);
    expect(Math.max(...a)).toBeGreaterThan(38);
  });
});

describe('sampled anatomy (randomised)', () => {
  it('varies the LA: size, shape (not a sphere) and orientation', () => {
    const widths = hearts.map((h) => h.laBody.radii[0]);
    expect(Math.max(...widths) - Math.min(...widths)).toBeGreaterThan(10);
    for (const h of hearts.slice(0, 20)) {
      // Along +x and -x the surface sits at different distances: the body is deformed.
      const right = surfaceDistance(h.laBody, h.frame[0]);
      const left = surfaceDistance(h.laBody, [-h.frame[0][0], -h.frame[0][1], -h.frame[0][2]]);
      expect(Math.abs(right - left)).toBeGreaterThan(0.05);
    }
    const yaw = hearts.map((h) => Math.atan2(h.frame[0][1], h.frame[0][0]));
    expect(Math.max(...yaw) - Math.min(...yaw)).toBeGreaterThan(0.3);
  });

  it('has four pulmonary veins, or a left common ostium, sometimes a right middle one, of varying calibre and label cut', () => {
    // 3: left common ostium without, 5: four veins with a right middle vein.
    const counts = new Set(hearts.map((h) => h.veins.length));
    expect(counts).toEqual(new Set([3, 4, 5]));
    const diameters = hearts.flatMap((h) => h.veins.map((v) => 2 * v.ostialRadiusMm));
    expect(Math.min(...diameters)).toBeLessThan(10);
    expect(Math.max(...diameters)).toBeGreaterThan(20);
    for (const h of hearts) {
      for (const v of h.veins) {
        expect(v.labelCutMm).toBeGreaterThan(0);
        // The image shows the vein well beyond the labelled ostial stub.
        const trunkEnd = v.trunk.points[v.trunk.points.length - 1]!;
        const reach = Math.hypot(
          trunkEnd[0] - v.ostium[0],
          trunkEnd[1] - v.ostium[1],
          trunkEnd[2] - v.ostium[2],
        );
        expect(reach).toBeGreaterThan(v.labelCutMm + 10);
      }
    }
  });

  it('draws the vein variants at about their documented rates', () => {
    const names = hearts.map((h) => new Set(h.veins.map((v) => v.name)));
    const common = names.filter((n) => n.has('LCPV'));
    const middle = names.filter((n) => n.has('RMPV'));
    // 200 hearts: expected 30 and 40; binomial 3-sigma bands.
    expect(common.length).toBeGreaterThan(14);
    expect(common.length).toBeLessThan(46);
    expect(middle.length).toBeGreaterThan(22);
    expect(middle.length).toBeLessThan(58);
    for (const n of common) {
      expect(n.has('LSPV') || n.has('LIPV')).toBe(false);
      expect(n.has('RSPV') && n.has('RIPV')).toBe(true);
    }
    // A common ostium is wider than any single left vein's.
    const ostia = (name: string): number[] =>
      hearts.flatMap((h) => h.veins.filter((v) => v.name === name).map((v) => v.ostialRadiusMm));
    expect(Math.min(...ostia('LCPV'))).toBeGreaterThan(Math.max(...ostia('LIPV')) * 0.9);
  });

  it('sizes the LA label between 40 and 200 mL across seeds, small to enlarged', () => {
    const targets = hearts.map((h) => h.targetLaVolumeMl!);
    for (const t of targets) {
      expect(t).toBeGreaterThanOrEqual(ANATOMY_RANGES.laVolumeMl[0]);
      expect(t).toBeLessThanOrEqual(ANATOMY_RANGES.laVolumeMl[1]);
    }
    expect(Math.min(...targets)).toBeLessThan(50);
    expect(Math.max(...targets)).toBeGreaterThan(165);
    // The label's own volume (body + appendage + stubs), counted on a 2 mm lattice, for the
    // smallest and largest targets of the batch and a few between.
    const byTarget = [...hearts].sort((a, b) => a.targetLaVolumeMl! - b.targetLaVolumeMl!);
    const picks = [0, 1, 2, 50, 100, 150, 197, 198, 199].map((i) => byTarget[i]!);
    for (const h of picks) {
      const shape = laLabelShapes(h).label;
      const step = 2;
      let inside = 0;
      for (let x = shape.box.min[0]; x <= shape.box.max[0]; x += step)
        for (let y = shape.box.min[1]; y <= shape.box.max[1]; y += step)
          for (let z = shape.box.min[2]; z <= shape.box.max[2]; z += step)
            if (shape.inside(x, y, z)) inside++;
      const ml = (inside * step ** 3) / 1000;
      expect(ml).toBeGreaterThan(40);
      expect(ml).toBeLessThan(200);
      // The body is sized from a sphere-cap approximation of the mitral cut: within a quarter.
      const target = h.targetLaVolumeMl!;
      expect(Math.abs(ml - target) / target).toBeLessThan(0.25);
    }
  });

  it('draws scar patterns from thin lines to confluent areas, and appendages of 5-10 lobes', () => {
    const patterns = hearts.map((h) => h.scarPattern);
    for (const p of ['lines', 'mixed', 'confluent'] as const)
      expect(patterns.filter((x) => x === p).length).toBeGreaterThan(30);
    const lobes = hearts.map((h) => h.appendage.centres.length);
    expect(Math.min(...lobes)).toBe(ANATOMY_RANGES.appendageLobes[0]);
    expect(Math.max(...lobes)).toBe(ANATOMY_RANGES.appendageLobes[1]);
    const pads = hearts.map((h) => h.fatPads.centres.length);
    expect(Math.min(...pads)).toBe(ANATOMY_RANGES.fatPads[0]);
    expect(Math.max(...pads)).toBe(ANATOMY_RANGES.fatPads[1]);
  });

  it('puts distractors near the LA in some hearts: LV enhancement, fat pads', () => {
    expect(hearts.filter((h) => h.infarct).length).toBeGreaterThan(30);
    expect(hearts.filter((h) => h.fatPads.centres.length > 0).length).toBeGreaterThan(100);
  });
});

describe('phantom DICOM identity', () => {
  const truths = [1, 2, 3, 4, 5, 6].map(
    (s) => generatePhantom(caseSeed(8, s), { scale: 0.12 }).truth,
  );
  const described = truths.map((t, i) => phantomDicomDescription(t, `case_00${i}`));

  it('is synthetic, deterministic and varies like several scanners', () => {
    for (const d of described) {
      expect(d.identity.patientName).toMatch(/^PHANTOM\^/);
      expect(d.identity.patientId).toMatch(/^LQP\d{10}$/);
      expect(d.identity.studyDate).toMatch(/^20(1[6-9]|2[0-5])\d{4}$/);
      expect(d.acquisition.inversionTimeMs).toBeGreaterThanOrEqual(260);
      expect(d.acquisition.inversionTimeMs).toBeLessThanOrEqual(340);
    }
    expect(phantomDicomDescription(truths[0]!, 'case_000')).toEqual(described[0]);
    expect(new Set(described.map((d) => d.identity.studyInstanceUid)).size).toBe(described.length);
    expect(new Set(described.map((d) => d.acquisition.seriesDescription)).size).toBeGreaterThan(2);
  });
});
