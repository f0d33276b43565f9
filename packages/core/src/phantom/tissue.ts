/**
 * Tissue classes painted into a phantom's label grid, and the LGE contrast that turns them into
 * signal. Relative intensities: 1.0 is the brightest tissue a case can have before scanner gain.
 */
import type { Rng } from './random.js';

export const Tissue = {
  Air: 0,
  Lung: 1,
  Muscle: 2,
  Fat: 3,
  SoftTissue: 4,
  Marrow: 5,
  Csf: 6,
  Liver: 7,
  Oesophagus: 8,
  Myocardium: 9,
  EnhancedMyocardium: 10,
  BloodLv: 11,
  BloodRight: 12,
  BloodAorta: 13,
  BloodPa: 14,
  BloodLa: 15,
  LaWall: 16,
  Scar: 17,
  LungVessel: 18,
  CoronarySinus: 19,
  Stomach: 20,
  EpicardialFat: 21,
  BloodLaa: 22,
  ScarDense: 23,
} as const;
export type TissueClass = (typeof Tissue)[keyof typeof Tissue];
export const TISSUE_COUNT = 24;

/** Classes that hold flowing blood (the LA wall never paints over them). */
export const BLOOD_CLASSES: readonly TissueClass[] = [
  Tissue.BloodLv,
  Tissue.BloodRight,
  Tissue.BloodAorta,
  Tissue.BloodPa,
  Tissue.BloodLa,
  Tissue.BloodLaa,
  Tissue.CoronarySinus,
  Tissue.LungVessel,
];

export interface Contrast {
  /** Relative signal per tissue class (index = class). */
  readonly levels: Float32Array;
  /** Summary for the truth file. */
  readonly blood: number;
  readonly scar: number;
  readonly myocardium: number;
  readonly fat: number;
  readonly fatSuppressed: boolean;
  readonly poorNulling: boolean;
}

/**
 * One case's LGE contrast: myocardium nulled (dark) unless the inversion time was off, blood
 * mid-grey, scar brighter than blood by an image-intensity ratio of 1.1-2, fat bright unless
 * suppressed (then a fat pad next to the wall is no longer a distractor, as on such scans).
 */
export function sampleContrast(rng: Rng): Contrast {
  const blood = rng.uniform(0.3, 0.55);
  const poorNulling = rng.chance(0.15);
  const myocardium = poorNulling ? rng.uniform(0.14, 0.28) : rng.uniform(0.02, 0.11);
  const scar = Math.min(1, blood * rng.uniform(1.15, 2.0));
  const fatSuppressed = rng.chance(0.12);
  // At a myocardium-nulling inversion time fat has recovered to roughly blood's level or above.
  const fat = fatSuppressed
    ? rng.uniform(0.04, 0.14)
    : Math.min(0.95, blood * rng.uniform(0.8, 1.7));
  const levels = new Float32Array(TISSUE_COUNT);
  const set = (t: TissueClass, v: number): void => {
    levels[t] = v;
  };
  const around = (v: number, spread: number): number => v * rng.uniform(1 - spread, 1 + spread);
  set(Tissue.Air, 0);
  set(Tissue.Lung, rng.uniform(0.01, 0.05));
  set(Tissue.Muscle, rng.uniform(0.06, 0.16));
  set(Tissue.Fat, fat);
  set(Tissue.EpicardialFat, around(fat, 0.12));
  set(Tissue.SoftTissue, rng.uniform(0.1, 0.22));
  set(Tissue.Marrow, fatSuppressed ? rng.uniform(0.1, 0.2) : rng.uniform(0.25, 0.55));
  set(Tissue.Csf, rng.uniform(0.04, 0.14));
  set(Tissue.Liver, rng.uniform(0.15, 0.35));
  set(Tissue.Oesophagus, rng.uniform(0.1, 0.24));
  set(Tissue.Stomach, rng.uniform(0.08, 0.3));
  set(Tissue.Myocardium, myocardium);
  set(Tissue.EnhancedMyocardium, Math.min(1, blood * rng.uniform(1.1, 1.9)));
  set(Tissue.BloodLv, around(blood, 0.06));
  set(Tissue.BloodRight, around(blood, 0.15));
  set(Tissue.BloodAorta, around(blood, 0.12));
  set(Tissue.BloodPa, around(blood, 0.12));
  set(Tissue.BloodLa, blood);
  set(Tissue.BloodLaa, around(blood, 0.1));
  // The healthy LA wall is thin: nulled myocardium, a touch brighter than the LV's.
  set(Tissue.LaWall, myocardium * rng.uniform(1, 1.6) + 0.02);
  // Post-ablation scar: a dense core and a dimmer border zone, both brighter than blood.
  set(Tissue.ScarDense, scar);
  set(Tissue.Scar, blood + (scar - blood) * rng.uniform(0.55, 0.8));
  set(Tissue.LungVessel, around(blood, 0.15));
  set(Tissue.CoronarySinus, around(blood, 0.15));
  return { levels, blood, scar, myocardium, fat, fatSuppressed, poorNulling };
}
