import { describe, expect, it } from 'vitest';
import { labelComponents } from '../cca.js';
import { quantifyStudy } from '../quantify.js';
import { voxelToPatient } from '../volume.js';
import { caseSeed } from './random.js';
import {
  type PhantomCase,
  PHANTOM_TRUTH_WALL,
  generatePhantom,
  phantomAcquisition,
  phantomTargetBurden,
  selectTop,
} from './generate.js';
import { ACQUISITION_RANGES, type PhantomStyle, SHIFT_BLUR } from './acquisition.js';
import { MISREGISTRATION_RANGES } from './motion.js';
import { MAX_STORED_VALUE } from './render.js';
import { CONTRAST_RANGES, Tissue } from './tissue.js';

// Tests use the reduced-matrix fast path (scale): same anatomy in mm, coarser voxels.
const SMALL = { scale: 0.22 } as const;
const RANDOMISED = { ...SMALL, style: 'randomised' } as const;
const cache = new Map<string, PhantomCase>();
function small(seed: number, style: PhantomStyle = 'classic'): PhantomCase {
  const key = `${style}:${seed}`;
  let c = cache.get(key);
  if (!c) {
    c = generatePhantom(seed, { ...SMALL, style });
    cache.set(key, c);
  }
  return c;
}
const SEEDS = Array.from({ length: 6 }, (_, i) => caseSeed(2024, i));
/** The mask and image invariants hold in every style. */
const STYLES: readonly PhantomStyle[] = ['classic', 'randomised', 'shift'];

describe('phantom determinism', () => {
  it.each(STYLES)('gives identical bytes for the same seed (%s)', (style) => {
    const a = small(SEEDS[0]!, style);
    const b = generatePhantom(SEEDS[0]!, { ...SMALL, style });
    expect(Buffer.from(b.image.data.buffer).equals(Buffer.from(a.image.data.buffer))).toBe(true);
    expect(Buffer.from(b.la.data).equals(Buffer.from(a.la.data))).toBe(true);
    expect(Buffer.from(b.scar.data).equals(Buffer.from(a.scar.data))).toBe(true);
    expect(JSON.stringify(b.truth)).toBe(JSON.stringify(a.truth));
    expect(b.image.geometry).toEqual(a.image.geometry);
  });

  it('gives different studies for different seeds', () => {
    const a = small(SEEDS[0]!);
    const b = small(SEEDS[1]!);
    expect(JSON.stringify(b.truth.quantities)).not.toBe(JSON.stringify(a.truth.quantities));
    const same =
      a.image.data.length === b.image.data.length &&
      Buffer.from(a.image.data.buffer).equals(Buffer.from(b.image.data.buffer));
    expect(same).toBe(false);
  });

  it('rejects seeds that are not 32-bit unsigned integers', () => {
    expect(() => generatePhantom(-1)).toThrow(/seed/);
    expect(() => generatePhantom(1.5)).toThrow(/seed/);
    expect(() => generatePhantom(2 ** 32)).toThrow(/seed/);
  });
});

describe('phantom masks', () => {
  it.each(STYLES.flatMap((style) => SEEDS.slice(0, 3).map((seed) => [style, seed] as const)))(
    '%s seed %i: scar lies in the wall shell, outside the cavity; the cavity is one piece',
    (style, seed) => {
      const c = small(seed, style);
      let overlap = 0;
      for (let v = 0; v < c.la.data.length; v++) if (c.la.data[v] && c.scar.data[v]) overlap++;
      expect(overlap).toBe(0);
      const q = quantifyStudy(c.la, c.scar, PHANTOM_TRUTH_WALL);
      expect(q.scarInWallVoxels).toBe(q.scarVoxels);
      expect(q.laVoxels).toBeGreaterThan(0);
      // 6-connected: a cavity in two pieces would be a labelling error.
      const components = labelComponents(c.la.data, c.la.geometry.dims, 6);
      expect(components.count).toBe(1);
      expect(q.laVolumeMl).toBeGreaterThan(40);
      expect(q.laVolumeMl).toBeLessThan(260);
      expect(c.truth.quantities.scarBurdenPercent).toBeCloseTo(q.scarBurdenPercent ?? 0, 2);
      expect(c.truth.quantities.wallVoxels).toBe(q.wallVoxels);
    },
  );

  it('classic seeds reach their target burden exactly (no misregistration)', () => {
    for (const c of SEEDS.slice(0, 3).map((s) => small(s))) {
      expect(c.truth.acquisition.misregistrationMm).toBe(0);
      expect(c.truth.quantities.scarBurdenPercent).toBeCloseTo(
        100 * phantomTargetBurden(c.seed),
        0,
      );
    }
  });

  it('keeps the masks consistent on an oblique stack too', () => {
    const seed = Array.from({ length: 50 }, (_, i) => caseSeed(5, i)).find(
      (s) => phantomAcquisition(s).obliqueDeg > 0,
    )!;
    const c = generatePhantom(seed, SMALL);
    expect(c.image.geometry.direction[2][2]).toBeLessThan(0.9999);
    const q = quantifyStudy(c.la, c.scar, PHANTOM_TRUTH_WALL);
    expect(q.scarInWallVoxels).toBe(q.scarVoxels);
    expect(labelComponents(c.la.data, c.la.geometry.dims, 6).count).toBe(1);
  });

  it('aims for scar burdens from none to about 35 % across seeds', () => {
    const targets = Array.from(
      { length: 400 },
      (_, i) => 100 * phantomTargetBurden(caseSeed(9, i)),
    );
    const none = targets.filter((t) => t === 0).length;
    expect(none).toBeGreaterThan(10);
    expect(none).toBeLessThan(80);
    expect(Math.max(...targets)).toBeGreaterThan(30);
    expect(Math.max(...targets)).toBeLessThanOrEqual(35);
    const sorted = [...targets].sort((a, b) => a - b);
    const median = sorted[200]!;
    expect(median).toBeGreaterThan(8);
    expect(median).toBeLessThan(20);
    expect(targets.filter((t) => t > 20).length).toBeGreaterThan(60);
  });

  it('reaches each target burden on the generated masks (randomised)', () => {
    const cases = SEEDS.slice(0, 3).map((s) => small(s, 'randomised'));
    for (const c of cases) {
      // Navigator misregistration (moved slices) turns scar that left the shell into wall, so
      // those cases may fall short of their target; the truth is measured on the moved masks.
      if (c.truth.acquisition.misregistrationMm === 0)
        expect(c.truth.quantities.scarBurdenPercent).toBeCloseTo(
          100 * phantomTargetBurden(c.seed),
          0,
        );
      else
        expect(c.truth.quantities.scarBurdenPercent).toBeLessThanOrEqual(
          100 * phantomTargetBurden(c.seed) + 0.5,
        );
      expect(c.truth.quantities.targetBurdenPercent).toBeCloseTo(
        100 * phantomTargetBurden(c.seed),
        2,
      );
    }
  });

  it.each(['classic', 'randomised'] as const)(
    'puts the LA off the image centre, at different places per seed (%s)',
    (style) => {
      const offsets = SEEDS.slice(0, 6).map((s) => {
        const c = small(s, style);
        const g = c.image.geometry;
        const centre = voxelToPatient(
          g,
          (g.dims[0] - 1) / 2,
          (g.dims[1] - 1) / 2,
          (g.dims[2] - 1) / 2,
        );
        const la = c.truth.anatomy.laCentreMm;
        return Math.hypot(la[0] - centre[0], la[1] - centre[1]);
      });
      expect(Math.max(...offsets)).toBeGreaterThan(15);
      expect(new Set(offsets.map((o) => o.toFixed(1))).size).toBe(offsets.length);
    },
  );
});

describe('phantom images', () => {
  it.each(STYLES)('stores 12-bit integers (0..4095) as Int16 and uses the range (%s)', (style) => {
    for (const seed of SEEDS.slice(0, 3)) {
      const d = small(seed, style).image.data;
      expect(d).toBeInstanceOf(Int16Array);
      let min = Infinity;
      let max = -Infinity;
      for (const v of d) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(MAX_STORED_VALUE);
      expect(max).toBeGreaterThan(300);
    }
  });

  it.each(['classic', 'randomised'] as const)(
    'is not fooled by brightness alone: voxels as bright as scar exist well outside the scar (%s)',
    (style) => {
      // Fat, other blood pools and LV enhancement are scar look-alikes. Count voxels at least as
      // bright as the median scar voxel that are not scar: they must outnumber the scar itself.
      const withScar = SEEDS.map((s) => small(s, style)).filter(
        (c) => c.truth.quantities.scarVoxels > 20 && !c.truth.contrast.fatSuppressed,
      );
      expect(withScar.length).toBeGreaterThan(2);
      for (const c of withScar) {
        const scarValues: number[] = [];
        for (let v = 0; v < c.scar.data.length; v++)
          if (c.scar.data[v]) scarValues.push(c.image.data[v]!);
        scarValues.sort((a, b) => a - b);
        const median = scarValues[Math.floor(scarValues.length / 2)]!;
        let brightElsewhere = 0;
        for (let v = 0; v < c.image.data.length; v++)
          if (!c.scar.data[v] && c.image.data[v]! >= median) brightElsewhere++;
        expect(brightElsewhere).toBeGreaterThan(scarValues.length);
      }
    },
  );

  it.each(STYLES)('scar is brighter than the LA blood on average (LGE contrast, %s)', (style) => {
    const c = SEEDS.map((s) => small(s, style)).find((p) => p.truth.quantities.scarVoxels > 50)!;
    let scarSum = 0;
    let scarN = 0;
    let bloodSum = 0;
    let bloodN = 0;
    for (let v = 0; v < c.image.data.length; v++) {
      if (c.scar.data[v]) {
        scarSum += c.image.data[v]!;
        scarN++;
      } else if (c.la.data[v]) {
        bloodSum += c.image.data[v]!;
        bloodN++;
      }
    }
    expect(scarSum / scarN).toBeGreaterThan(bloodSum / bloodN);
  });
});

describe('phantom acquisitions', () => {
  const classic = Array.from({ length: 300 }, (_, i) => phantomAcquisition(caseSeed(7, i)));
  const acqs = Array.from({ length: 300 }, (_, i) =>
    phantomAcquisition(caseSeed(7, i), { style: 'randomised' }),
  );

  it('classic: vary like LAScarQS, matrices 480-864, 44-88 slices, 0.625-1.25 mm in plane, 1.25-2.5 mm slices', () => {
    const matrices = new Set(classic.map((a) => a.dims[0]));
    for (const m of [480, 576, 640, 784, 864]) expect(matrices.has(m)).toBe(true);
    for (const a of classic) {
      expect(a.style).toBe('classic');
      expect(a.dims[0]).toBe(a.dims[1]);
      expect(a.dims[0]).toBeGreaterThanOrEqual(480);
      expect(a.dims[2]).toBeGreaterThanOrEqual(44);
      expect(a.dims[2]).toBeLessThanOrEqual(88);
      expect(a.spacing[0]).toBeGreaterThanOrEqual(0.625 - 1e-9);
      expect(a.spacing[0]).toBeLessThanOrEqual(1.25 + 1e-9);
      expect(a.spacing[2]).toBeGreaterThanOrEqual(1.25 - 1e-9);
      expect(a.spacing[2]).toBeLessThanOrEqual(2.5 + 1e-9);
      expect(a.acquiredInPlaneMm).toBeLessThanOrEqual(1.7 + 1e-9);
      expect(a.sliceThicknessMm).toBeGreaterThanOrEqual(1.5 - 1e-9);
    }
    const slices = classic.map((a) => a.dims[2]);
    expect(Math.min(...slices)).toBeLessThan(50);
    expect(Math.max(...slices)).toBeGreaterThan(80);
    const snr = classic.map((a) => a.snr);
    expect(Math.min(...snr)).toBeLessThan(8);
    expect(Math.max(...snr)).toBeGreaterThan(40);
    expect(classic.filter((a) => a.obliqueDeg > 0).length).toBeGreaterThan(30);
  });

  it('randomised: cover LAScarQS and beyond: matrices 320-864, 44-88 slices, 0.6-1.5 mm in plane, 1-2.5 mm between slices, 1-4 mm thick', () => {
    // Widened past the three LAScarQS centres for domain randomisation (issue 13).
    const R = ACQUISITION_RANGES;
    const matrices = new Set(acqs.map((a) => a.dims[0]));
    for (const m of [320, 400, 480, 576, 640, 784, 864]) expect(matrices.has(m)).toBe(true);
    for (const a of acqs) {
      expect(a.dims[0]).toBe(a.dims[1]);
      expect(a.dims[2]).toBeGreaterThanOrEqual(44);
      expect(a.dims[2]).toBeLessThanOrEqual(88);
      expect(a.spacing[0]).toBeGreaterThanOrEqual(R.inPlaneSpacingMm[0] - 1e-9);
      expect(a.spacing[0]).toBeLessThanOrEqual(R.inPlaneSpacingMm[1] + 1e-9);
      expect(a.spacing[2]).toBeGreaterThanOrEqual(R.sliceSpacingMm[0] - 1e-9);
      expect(a.spacing[2]).toBeLessThanOrEqual(R.sliceSpacingMm[1] + 1e-9);
      expect(a.sliceThicknessMm).toBeGreaterThanOrEqual(R.sliceThicknessMm[0] - 1e-9);
      expect(a.sliceThicknessMm).toBeLessThanOrEqual(R.sliceThicknessMm[1] + 1e-9);
      expect(a.acquiredInPlaneMm).toBeLessThanOrEqual(R.acquiredInPlaneMm[1] + 1e-9);
      expect(a.dims[2] * a.spacing[2]).toBeGreaterThanOrEqual(85 - 2);
      expect(a.style).toBe('randomised');
    }
    const inPlane = acqs.map((a) => a.spacing[0]);
    expect(Math.min(...inPlane)).toBeLessThan(0.65);
    expect(Math.max(...inPlane)).toBeGreaterThan(1.4);
    const thickness = acqs.map((a) => a.sliceThicknessMm);
    expect(Math.min(...thickness)).toBeLessThan(1.3);
    expect(Math.max(...thickness)).toBeGreaterThan(3.8);
    const slices = acqs.map((a) => a.dims[2]);
    expect(Math.min(...slices)).toBeLessThan(50);
    expect(Math.max(...slices)).toBeGreaterThan(80);
    const snr = acqs.map((a) => a.snr);
    expect(Math.min(...snr)).toBeLessThan(8);
    expect(Math.max(...snr)).toBeGreaterThan(40);
    for (const x of snr) {
      expect(x).toBeGreaterThanOrEqual(R.snr[0]);
      expect(x).toBeLessThanOrEqual(R.snr[1]);
    }
    expect(acqs.filter((a) => a.obliqueDeg > 0).length).toBeGreaterThan(30);
  });

  it('style shift: the geometry of the randomised style per seed, blur from a coarser acquisition than any randomised draw', () => {
    for (let i = 0; i < 40; i++) {
      const seed = caseSeed(7, i);
      const train = phantomAcquisition(seed, { style: 'randomised' });
      const shift = phantomAcquisition(seed, { style: 'shift' });
      expect(shift.dims).toEqual(train.dims);
      expect(shift.spacing).toEqual(train.spacing);
      expect(shift.style).toBe('shift');
      expect(shift.acquiredInPlaneMm).toBeGreaterThan(ACQUISITION_RANGES.acquiredInPlaneMm[1]);
      expect(shift.sliceThicknessMm).toBeGreaterThan(ACQUISITION_RANGES.sliceThicknessMm[1]);
      expect(shift.acquiredInPlaneMm).toBeLessThanOrEqual(SHIFT_BLUR.acquiredInPlaneMm[1]);
    }
  });

  it.each(['classic', 'randomised'] as const)(
    'the fast path shrinks the matrix, keeping voxels fine enough for the 3 mm wall shell (%s)',
    (style) => {
      for (const seed of [11, 12, 13, 14]) {
        const full = phantomAcquisition(seed, { style });
        const reduced = phantomAcquisition(seed, { scale: 0.25, style });
        expect(reduced.dims[0]).toBe(Math.round(full.dims[0] * 0.25));
        expect(reduced.spacing[0]).toBeLessThanOrEqual(2);
        expect(reduced.spacing[2]).toBeLessThanOrEqual(3);
        expect(reduced.dims[2] * reduced.spacing[2]).toBeGreaterThanOrEqual(75 - 3);
        for (let a = 0; a < 3; a++) {
          expect(reduced.dims[a]! * reduced.spacing[a]!).toBeLessThanOrEqual(
            full.dims[a]! * full.spacing[a]! + 1e-6,
          );
        }
      }
      expect(() => phantomAcquisition(11, { scale: 0, style })).toThrow(/scale/);
    },
  );
});

describe('selectTop', () => {
  it('marks the k largest values, ties broken by lower index', () => {
    const v = Float64Array.from([0.5, 2, 1, 2, 0.1, 1, 1]);
    expect(Array.from(selectTop(v, 3))).toEqual([0, 1, 1, 1, 0, 0, 0]);
    expect(Array.from(selectTop(v, 4))).toEqual([0, 1, 1, 1, 0, 1, 0]);
    expect(Array.from(selectTop(v, 0))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(selectTop(v, 9))).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('domain randomisation (style randomised), measured on generated phantoms', () => {
  const batch = Array.from({ length: 10 }, (_, i) => generatePhantom(caseSeed(31, i), RANDOMISED));

  /** Median image value over voxels of a class whose 6 neighbours share it (no partial volume). */
  function interiorMedian(c: PhantomCase, cls: number): number {
    const [nx, ny] = c.tissue.geometry.dims;
    const t = c.tissue.data;
    const values: number[] = [];
    for (let v = nx * ny + nx + 1; v < t.length - nx * ny - nx - 1; v++) {
      if (t[v] !== cls) continue;
      if (t[v + 1] !== cls || t[v - 1] !== cls || t[v + nx] !== cls || t[v - nx] !== cls) continue;
      if (t[v + nx * ny] !== cls || t[v - nx * ny] !== cls) continue;
      values.push(c.image.data[v]!);
    }
    values.sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  }

  it('the blood/myocardium ratio measured on the images follows the drawn one, inside the documented range', () => {
    const R = CONTRAST_RANGES;
    const measured = batch
      .filter((c) => c.truth.acquisition.snr >= 12)
      .map((c) => ({
        drawn: c.truth.contrast.bloodToMyocardiumRatio,
        image: interiorMedian(c, Tissue.BloodLa) / interiorMedian(c, Tissue.Myocardium),
      }));
    expect(measured.length).toBeGreaterThan(5);
    for (const m of measured) {
      expect(m.drawn).toBeGreaterThanOrEqual(R.bloodToMyocardiumPoor[0] - 1e-3);
      expect(m.drawn).toBeLessThanOrEqual(R.bloodToMyocardiumNulled[1] + 1e-3);
      // Blur and the noise floor pull the dark myocardium up: the image ratio is a bit lower.
      expect(m.image / m.drawn).toBeGreaterThan(0.6);
      expect(m.image / m.drawn).toBeLessThan(1.3);
    }
    const ratios = measured.map((m) => m.image);
    expect(Math.max(...ratios) / Math.min(...ratios)).toBeGreaterThan(2);
  });

  it('LA volumes lie within 40-200 mL and near their drawn size', () => {
    for (const c of batch) {
      const q = c.truth.quantities;
      expect(q.laVolumeMl).toBeGreaterThan(40);
      expect(q.laVolumeMl).toBeLessThan(200);
      expect(Math.abs(q.laVolumeMl / c.truth.anatomy.targetLaVolumeMl! - 1)).toBeLessThan(0.25);
    }
  });

  it('keeps the truth exact when slices are misregistered', () => {
    const moved = batch.filter((c) => c.truth.acquisition.misregistrationMm > 0);
    expect(moved.length).toBeGreaterThan(0);
    for (const c of moved) {
      expect(c.truth.acquisition.misregistrationMm).toBeLessThanOrEqual(
        MISREGISTRATION_RANGES.maxShiftMm[1] + c.image.geometry.spacing[0],
      );
      const q = quantifyStudy(c.la, c.scar, PHANTOM_TRUTH_WALL);
      expect(q.scarInWallVoxels).toBe(q.scarVoxels);
      expect(labelComponents(c.la.data, c.la.geometry.dims, 6).count).toBe(1);
      expect(c.truth.quantities.scarVoxels).toBe(q.scarVoxels);
      expect(c.truth.quantities.wallVoxels).toBe(q.wallVoxels);
      // Scar voxels are scar tissue in the painted classes, and nothing else is.
      for (let v = 0; v < c.scar.data.length; v++) {
        const t = c.tissue.data[v]!;
        expect(c.scar.data[v] === 1).toBe(t === Tissue.Scar || t === Tissue.ScarDense);
      }
    }
  });

  it('style shift: held-out phantoms with exact truth and a look recorded as outside the randomised ranges', () => {
    for (const i of [0, 1]) {
      const c = generatePhantom(caseSeed(95, i), { ...SMALL, style: 'shift' });
      const t = c.truth;
      expect(t.acquisition.style).toBe('shift');
      expect(t.contrast.model).toBe('inversion-recovery');
      expect(t.acquisition.noiseModel).toBe('sum-of-squares');
      expect(t.acquisition.misregistrationMm).toBe(0);
      expect(t.contrast.scarToBloodRatio).toBeGreaterThan(CONTRAST_RANGES.denseScarToBlood[1]);
      const q = quantifyStudy(c.la, c.scar, PHANTOM_TRUTH_WALL);
      expect(q.scarInWallVoxels).toBe(q.scarVoxels);
      expect(t.quantities.scarBurdenPercent).toBeCloseTo(100 * phantomTargetBurden(c.seed), 0);
      // Same anatomy as the randomised style of that seed; only the appearance differs.
      const train = generatePhantom(caseSeed(95, i), RANDOMISED);
      expect(Buffer.from(train.la.data).equals(Buffer.from(c.la.data))).toBe(
        train.truth.acquisition.misregistrationMm === 0,
      );
      expect(Buffer.from(train.image.data.buffer).equals(Buffer.from(c.image.data.buffer))).toBe(
        false,
      );
    }
  });
});
