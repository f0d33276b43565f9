import { describe, expect, it } from 'vitest';
import { Rng, caseSeed } from './random.js';
import {
  CONTRAST_RANGES,
  SHIFT_SCAR_TO_BLOOD,
  Tissue,
  inversionRecovery,
  nullingTi,
  sampleContrast,
  sampleShiftContrast,
} from './tissue.js';

const training = Array.from({ length: 400 }, (_, i) =>
  sampleContrast(new Rng(caseSeed(41, i)), 'randomised'),
);
const classic = Array.from({ length: 400 }, (_, i) => sampleContrast(new Rng(caseSeed(41, i))));
const shifted = Array.from({ length: 400 }, (_, i) =>
  sampleShiftContrast(new Rng(caseSeed(43, i))),
);
const R = CONTRAST_RANGES;
const ratio = (levels: Float32Array, a: number, b: number): number => levels[a]! / levels[b]!;

describe('classic contrast (the default)', () => {
  it('draws the levels as before randomisation: nulled myocardium 0.02-0.11 (0.14-0.28 when poorly nulled), scar/blood 1.15-2, fat/blood 0.8-1.7', () => {
    for (const c of classic) {
      expect(c.model).toBe('classic');
      const [lo, hi] = c.poorNulling ? [0.14, 0.28] : [0.02, 0.11];
      expect(c.myocardium).toBeGreaterThanOrEqual(lo);
      expect(c.myocardium).toBeLessThanOrEqual(hi);
      const dense = ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa);
      expect(dense).toBeGreaterThanOrEqual(1.15 - 1e-6);
      expect(dense).toBeLessThanOrEqual(2 + 1e-6);
      if (!c.fatSuppressed) {
        expect(c.fat / c.blood).toBeGreaterThanOrEqual(Math.min(0.8, 0.95 / c.blood) - 1e-9);
        expect(c.fat / c.blood).toBeLessThanOrEqual(1.7 + 1e-9);
      }
    }
    const poor = classic.filter((c) => c.poorNulling).length;
    expect(poor).toBeGreaterThan(35); // 15 % of 400 = 60
    expect(poor).toBeLessThan(85);
  });
});

describe('randomised contrast (training)', () => {
  it('draws blood/myocardium over its nulled and poorly nulled ranges', () => {
    const bm = training.map((c) => c.blood / c.myocardium);
    for (const c of training) {
      const r = c.blood / c.myocardium;
      const [lo, hi] = c.poorNulling ? R.bloodToMyocardiumPoor : R.bloodToMyocardiumNulled;
      expect(r).toBeGreaterThanOrEqual(lo - 1e-9);
      expect(r).toBeLessThanOrEqual(hi + 1e-9);
      expect(c.levels[Tissue.Myocardium]).toBeCloseTo(c.myocardium, 6);
    }
    expect(Math.min(...bm)).toBeLessThan(1.5);
    expect(Math.max(...bm)).toBeGreaterThan(17);
    const poor = training.filter((c) => c.poorNulling).length;
    expect(poor).toBeGreaterThan(70); // 25 % of 400 = 100
    expect(poor).toBeLessThan(130);
  });

  it('draws dense scar/blood over 1.2-2.2, the border zone between blood and dense scar', () => {
    const sb = training.map((c) => ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa));
    for (const c of training) {
      const dense = ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa);
      expect(dense).toBeGreaterThanOrEqual(R.denseScarToBlood[0] - 1e-6);
      expect(dense).toBeLessThanOrEqual(R.denseScarToBlood[1] + 1e-6);
      const border = ratio(c.levels, Tissue.Scar, Tissue.BloodLa);
      expect(border).toBeGreaterThan(1);
      expect(border).toBeLessThan(dense);
    }
    expect(Math.min(...sb)).toBeLessThan(1.25);
    expect(Math.max(...sb)).toBeGreaterThan(2.1);
  });

  it('draws fat/blood over 0.7-2 (capped at full scale) unless fat is suppressed', () => {
    for (const c of training.filter((x) => !x.fatSuppressed)) {
      const r = c.fat / c.blood;
      expect(r).toBeGreaterThanOrEqual(Math.min(R.fatToBlood[0], 0.95 / c.blood) - 1e-9);
      expect(r).toBeLessThanOrEqual(R.fatToBlood[1] + 1e-9);
    }
    const suppressed = training.filter((x) => x.fatSuppressed);
    expect(suppressed.length).toBeGreaterThan(20);
    for (const c of suppressed) expect(c.fat).toBeLessThan(c.blood);
  });
});

describe('style-shift contrast (held-out only)', () => {
  it('follows the magnitude inversion-recovery curve (null, start and recovery)', () => {
    const t1 = 500;
    const tr = 900;
    expect(inversionRecovery(t1, nullingTi(t1, tr), tr)).toBeLessThan(1e-12);
    // Right after the inversion: -(1 - exp(-TR/T1)), shown as its magnitude.
    expect(inversionRecovery(t1, 0, tr)).toBeCloseTo(1 - Math.exp(-tr / t1), 9);
    // Long after it the formula tends to 1 + exp(-TR/T1) (its TI-independent terms).
    expect(inversionRecovery(t1, 1e6, tr)).toBeCloseTo(1 + Math.exp(-tr / t1), 9);
    for (const c of shifted) expect(c.model).toBe('inversion-recovery');
  });

  it('puts dense scar/blood and fat/blood outside every randomised and classic draw', () => {
    const both = [...training, ...classic];
    const trainingScar = Math.max(
      ...both.map((c) => ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa)),
    );
    const trainingFat = Math.max(...both.map((c) => c.fat / c.blood));
    for (const c of shifted) {
      const sb = ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa);
      expect(sb).toBeGreaterThan(SHIFT_SCAR_TO_BLOOD[0] - 1e-3);
      expect(sb).toBeLessThan(SHIFT_SCAR_TO_BLOOD[1] + 1e-3);
      expect(ratio(c.levels, Tissue.ScarDense, Tissue.BloodLa)).toBeGreaterThan(trainingScar);
      expect(c.fat / c.blood).toBeGreaterThan(R.fatToBlood[1]);
      expect(c.fat / c.blood).toBeGreaterThan(trainingFat);
      // Still an LGE picture: scar > blood > myocardium.
      expect(c.blood).toBeGreaterThan(c.myocardium);
    }
  });
});
