import { describe, expect, it } from 'vitest';
import { sampleHeart } from './anatomy.js';
import { phantomDicomDescription } from './dicom-identity.js';
import { generatePhantom } from './generate.js';
import { Rng, caseSeed } from './random.js';
import { surfaceDistance } from './shapes.js';

const hearts = Array.from({ length: 200 }, (_, i) => sampleHeart(new Rng(caseSeed(3, i)).fork(2)));

describe('sampled anatomy', () => {
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

  it('has four pulmonary veins, sometimes a right middle one, of varying calibre and label cut', () => {
    const counts = new Set(hearts.map((h) => h.veins.length));
    expect(counts).toEqual(new Set([4, 5]));
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
