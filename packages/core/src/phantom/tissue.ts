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
  /**
   * 'classic' (levels drawn as before randomisation), 'uniform-ratios' (randomised: each ratio
   * drawn in its range) or 'inversion-recovery' (style shift).
   */
  readonly model: 'classic' | 'uniform-ratios' | 'inversion-recovery';
}

/**
 * Randomised (training) ranges of the drawn contrast ratios (documented in training/README.md, "Domain
 * randomisation"); tests check the rendered images against them.
 */
export const CONTRAST_RANGES = {
  blood: [0.3, 0.55],
  /** Blood / myocardium with the myocardium nulled, and with a TI 15-100 % past the null. */
  bloodToMyocardiumNulled: [3.5, 20],
  bloodToMyocardiumPoor: [1.3, 3.5],
  poorNullingChance: 0.25,
  /** Dense scar / blood (image intensity ratio); the border zone lies between blood and it. */
  denseScarToBlood: [1.2, 2.2],
  borderZoneFraction: [0.5, 0.8],
  /** Fat / blood unless fat-suppressed. */
  fatToBlood: [0.7, 2.0],
  fatSuppressedChance: 0.12,
} as const;

/** Log-uniform draw: ratios spread evenly over their decades. */
function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}

/**
 * One case's LGE contrast: blood mid-grey, the myocardium nulled or poorly nulled, scar brighter
 * than blood, fat bright unless suppressed (then a fat pad next to the wall is no longer a
 * distractor, as on such scans). 'classic' draws exactly as the generator did before
 * randomisation (myocardium level 0.02-0.11, or 0.14-0.28 in 15 % of cases; scar/blood 1.15-2;
 * fat/blood 0.8-1.7); 'randomised' draws the myocardium as a log-uniform blood/myocardium ratio
 * (poorly nulled in a quarter of cases) and the other ratios from CONTRAST_RANGES.
 */
export function sampleContrast(rng: Rng, style: 'classic' | 'randomised' = 'classic'): Contrast {
  const R = CONTRAST_RANGES;
  const classic = style === 'classic';
  const blood = rng.uniform(R.blood[0], R.blood[1]);
  const poorNulling = rng.chance(classic ? 0.15 : R.poorNullingChance);
  const myocardium = classic
    ? poorNulling
      ? rng.uniform(0.14, 0.28)
      : rng.uniform(0.02, 0.11)
    : blood /
      (poorNulling
        ? logUniform(rng, R.bloodToMyocardiumPoor[0], R.bloodToMyocardiumPoor[1])
        : logUniform(rng, R.bloodToMyocardiumNulled[0], R.bloodToMyocardiumNulled[1]));
  const scarRatio = classic ? [1.15, 2.0] : R.denseScarToBlood;
  const scar = Math.min(1, blood * rng.uniform(scarRatio[0]!, scarRatio[1]!));
  const fatSuppressed = rng.chance(R.fatSuppressedChance);
  // At a myocardium-nulling inversion time fat has recovered to roughly blood's level or above.
  const fatRatio = classic ? [0.8, 1.7] : R.fatToBlood;
  const fat = fatSuppressed
    ? rng.uniform(0.04, 0.14)
    : Math.min(0.95, blood * rng.uniform(fatRatio[0]!, fatRatio[1]!));
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
  set(
    Tissue.Scar,
    blood +
      (scar - blood) *
        (classic
          ? rng.uniform(0.55, 0.8)
          : rng.uniform(R.borderZoneFraction[0], R.borderZoneFraction[1])),
  );
  set(Tissue.LungVessel, around(blood, 0.15));
  set(Tissue.CoronarySinus, around(blood, 0.15));
  return {
    levels,
    blood,
    scar,
    myocardium,
    fat,
    fatSuppressed,
    poorNulling,
    model: classic ? 'classic' : 'uniform-ratios',
  };
}

/**
 * Magnitude inversion-recovery signal |1 - 2 exp(-TI/T1) + exp(-TR/T1)| (TR: the time from one
 * inversion to the next, one RR interval for segmented LGE), times proton density.
 */
export function inversionRecovery(t1: number, ti: number, tr: number, pd = 1): number {
  return pd * Math.abs(1 - 2 * Math.exp(-ti / t1) + Math.exp(-tr / t1));
}

/** The TI that nulls a tissue of longitudinal relaxation `t1` (ms) at recovery time `tr`. */
export function nullingTi(t1: number, tr: number): number {
  return t1 * Math.log(2 / (1 + Math.exp(-tr / t1)));
}

/** Style shift: the dense scar / blood ratio its TI is solved for (above the training range). */
export const SHIFT_SCAR_TO_BLOOD = [2.6, 3.6] as const;

/**
 * STYLE SHIFT (held-out only, never for training): contrast from one inversion-recovery curve with
 * relaxation times of late (about 20-30 min) post-gadolinium imaging; the TI (near the
 * myocardial null) is solved so that dense scar / blood hits a ratio drawn above the training
 * range. Unlike training, every tissue's level follows from that one curve, so they are coupled:
 * fat (short T1, like scar) comes out far brighter than in any training draw too.
 */
export function sampleShiftContrast(rng: Rng): Contrast {
  const tr = rng.uniform(800, 1100);
  const t1Myo = rng.uniform(480, 560);
  const t1Blood = t1Myo * rng.uniform(0.72, 0.8);
  const t1Scar = rng.uniform(225, 255);
  const t1Fat = rng.uniform(240, 265);
  const target = rng.uniform(SHIFT_SCAR_TO_BLOOD[0], SHIFT_SCAR_TO_BLOOD[1]);
  const ratioAt = (t: number): number =>
    inversionRecovery(t1Scar, t, tr) / inversionRecovery(t1Blood, t, tr);
  // Past the blood's null, scar / blood falls as TI grows (from infinity): bisect for the target.
  let lo = nullingTi(t1Blood, tr) * 1.001;
  let hi = 3 * nullingTi(t1Myo, tr);
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (ratioAt(mid) > target) lo = mid;
    else hi = mid;
  }
  const ti = lo;
  const raw = (t1: number, pd = 1): number => inversionRecovery(t1, ti, tr, pd);
  // Scale so the dense scar sits at 0.8-0.95 of full scale.
  const k = rng.uniform(0.8, 0.95) / raw(t1Scar);
  const s = (t1: number, pd = 1): number => Math.min(1, k * raw(t1, pd));
  const blood = s(t1Blood);
  const scar = s(t1Scar);
  const myocardium = s(t1Myo);
  const fat = s(t1Fat);
  const levels = new Float32Array(TISSUE_COUNT);
  const set = (t: TissueClass, v: number): void => {
    levels[t] = v;
  };
  const bloodAround = (spread: number): number => s(t1Blood * rng.uniform(1 - spread, 1 + spread));
  set(Tissue.Air, 0);
  set(Tissue.Lung, s(1000, 0.12));
  set(Tissue.Muscle, s(rng.uniform(650, 800), 0.8));
  set(Tissue.Fat, fat);
  set(Tissue.EpicardialFat, s(t1Fat * rng.uniform(0.95, 1.05)));
  set(Tissue.SoftTissue, s(rng.uniform(450, 600), 0.8));
  set(Tissue.Marrow, s(rng.uniform(280, 330), 0.9));
  set(Tissue.Csf, s(3500, 1));
  set(Tissue.Liver, s(rng.uniform(350, 450), 0.85));
  set(Tissue.Oesophagus, s(rng.uniform(550, 700), 0.8));
  set(Tissue.Stomach, s(rng.uniform(700, 900), 0.9));
  set(Tissue.Myocardium, myocardium);
  set(Tissue.EnhancedMyocardium, s(rng.uniform(240, 300)));
  set(Tissue.BloodLv, bloodAround(0.03));
  set(Tissue.BloodRight, bloodAround(0.05));
  set(Tissue.BloodAorta, bloodAround(0.05));
  set(Tissue.BloodPa, bloodAround(0.05));
  set(Tissue.BloodLa, blood);
  set(Tissue.BloodLaa, bloodAround(0.04));
  set(Tissue.LaWall, s(t1Myo * rng.uniform(0.9, 0.97)));
  set(Tissue.ScarDense, scar);
  // Border zone: a T1 between scar and blood, on the same curve.
  set(Tissue.Scar, s(t1Scar + (t1Blood - t1Scar) * rng.uniform(0.25, 0.45)));
  set(Tissue.LungVessel, bloodAround(0.05));
  set(Tissue.CoronarySinus, bloodAround(0.05));
  return {
    levels,
    blood,
    scar,
    myocardium,
    fat,
    fatSuppressed: false,
    poorNulling: false,
    model: 'inversion-recovery',
  };
}
