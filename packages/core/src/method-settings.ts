/**
 * The method's settings in one validated place: what a site may tune without changing code, with
 * the paper's values as defaults. The CLI (`lascar segment` flags) and the worker (environment)
 * read their own names for these and hand the raw text to parseMethodSettings, so both validate
 * the same way and every result records the settings it was made with.
 */
import { DEFAULT_BAND_MM } from './boundary.js';
import type { Connectivity3D } from './cca.js';
import { DEFAULT_QC_LIMITS, type QualityControlLimits } from './quality-control.js';
import { DEFAULT_WALL_MM } from './quantify.js';

/** The paper's pixel size (LAScarQS 2022 task 1 data), mm: its pixel limits are areas at this size. */
export const PAPER_PIXEL_MM = 0.625;

/** The method's settings and the quality-control limits (quality-control.ts) its results are checked with. */
export interface MethodSettings extends QualityControlLimits {
  /**
   * Scar components (4-connected, per slice) smaller than this are dropped, mm^2. The paper's
   * 10 pixels at 0.625 mm = 3.90625 mm^2; converted to pixels per study from its spacing.
   */
  readonly scarMinAreaMm2: number;
  /** Scar components larger than this are dropped, mm^2 (the paper's 450 pixels = 175.78125 mm^2). */
  readonly scarMaxAreaMm2: number;
  /** LA cavity: keep the largest 3D component with this connectivity, or 'all' components. */
  readonly laComponents: Connectivity3D | 'all';
  /**
   * Half-width of the band around the predicted LA boundary, mm: scar is only searched (and its
   * histogram channel computed) there. The shipped scar model was trained with 5.
   */
  readonly boundaryBandMm: number;
  /** Thickness of the LA wall shell used for the burden, mm: half inside the cavity surface, half
   * outside (see quantify.ts). */
  readonly wallThicknessMm: number;
  /**
   * Foreground where probability > this, for both networks. Unset: each network's own manifest
   * value (`thresholds.probability`, what it was validated with), 0.5 without a manifest.
   */
  readonly probabilityThreshold?: number;
  /**
   * Run the LA network on a crop around the atrium found by a few whole-canvas probe slices
   * (la-crop.ts), falling back to the whole canvas when unsure: the same masks in a fraction of
   * the time. Only where the LA model takes any input size; false: every slice on the whole canvas.
   */
  readonly laCrop: boolean;
}

export const DEFAULT_METHOD_SETTINGS: MethodSettings = {
  scarMinAreaMm2: 10 * PAPER_PIXEL_MM * PAPER_PIXEL_MM,
  scarMaxAreaMm2: 450 * PAPER_PIXEL_MM * PAPER_PIXEL_MM,
  laComponents: 26,
  boundaryBandMm: DEFAULT_BAND_MM,
  wallThicknessMm: DEFAULT_WALL_MM,
  laCrop: true,
  ...DEFAULT_QC_LIMITS,
};

/** The settings as applied to one study, thresholds resolved: recorded with every result. */
export interface AppliedMethodSettings extends Omit<MethodSettings, 'probabilityThreshold'> {
  readonly laProbabilityThreshold: number;
  readonly scarProbabilityThreshold: number;
  /** Where the thresholds came from. */
  readonly thresholdSource: 'setting' | 'model manifest' | 'default';
  /** The scar area limits in pixels at this study's in-plane spacing (inclusive). */
  readonly scarMinPixels: number;
  readonly scarMaxPixels: number;
}

export class MethodSettingsError extends Error {
  override name = 'MethodSettingsError';
}

export type MethodSettingName = keyof MethodSettings;

/** How each setting is spelled where it came from (a flag, an environment variable). */
export type MethodSettingNames = Readonly<Record<MethodSettingName, string>>;

/** The names used in programmatic errors. */
export const METHOD_SETTING_KEYS: MethodSettingNames = {
  scarMinAreaMm2: 'scarMinAreaMm2',
  scarMaxAreaMm2: 'scarMaxAreaMm2',
  laComponents: 'laComponents',
  boundaryBandMm: 'boundaryBandMm',
  wallThicknessMm: 'wallThicknessMm',
  probabilityThreshold: 'probabilityThreshold',
  laCrop: 'laCrop',
  qcLaMinVolumeMl: 'qcLaMinVolumeMl',
  qcLaMaxVolumeMl: 'qcLaMaxVolumeMl',
  qcLaMinExtentMm: 'qcLaMinExtentMm',
  qcScarWallDistanceMm: 'qcScarWallDistanceMm',
  qcScarFarMaxPercent: 'qcScarFarMaxPercent',
};

// zero: whether 0 itself is allowed (a limit that 0 switches off); the maximum is always excluded.
const LIMITS = {
  scarMinAreaMm2: { min: 0, max: 10_000, zero: true, what: 'an area in mm^2' },
  scarMaxAreaMm2: { min: 0, max: 10_000, zero: false, what: 'an area in mm^2' },
  boundaryBandMm: { min: 0, max: 30, zero: false, what: 'a distance in mm' },
  wallThicknessMm: { min: 0, max: 20, zero: false, what: 'a thickness in mm' },
  probabilityThreshold: { min: 0, max: 1, zero: false, what: 'a probability' },
  qcLaMinVolumeMl: { min: 0, max: 10_000, zero: true, what: 'a volume in mL' },
  qcLaMaxVolumeMl: { min: 0, max: 10_000, zero: false, what: 'a volume in mL' },
  qcLaMinExtentMm: { min: 0, max: 1_000, zero: true, what: 'a length in mm' },
  qcScarWallDistanceMm: { min: 0, max: 1_000, zero: false, what: 'a distance in mm' },
  qcScarFarMaxPercent: { min: 0, max: 100, zero: true, what: 'a percentage' },
} as const;

function checkNumber(
  key: keyof typeof LIMITS,
  value: unknown,
  label: string,
  shown: string,
): number {
  const { min, max, zero: zeroAllowed, what } = LIMITS[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MethodSettingsError(`${label}=${shown} is not a number (${what})`);
  }
  const low = zeroAllowed ? value < min : value <= min;
  if (low || value >= max) {
    const range = `${zeroAllowed ? `${min} <= value` : `${min} < value`} < ${max}`;
    throw new MethodSettingsError(`${label}=${shown} is outside ${range} (${what})`);
  }
  return value;
}

const QC_KEYS = [
  'qcLaMinVolumeMl',
  'qcLaMaxVolumeMl',
  'qcLaMinExtentMm',
  'qcScarWallDistanceMm',
  'qcScarFarMaxPercent',
] as const satisfies readonly (keyof QualityControlLimits)[];

function checkSwitch(value: unknown, label: string, shown: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new MethodSettingsError(`${label}=${shown} is not on or off`);
}

function checkComponents(value: unknown, label: string, shown: string): Connectivity3D | 'all' {
  if (value === 6 || value === 18 || value === 26 || value === 'all') return value;
  throw new MethodSettingsError(
    `${label}=${shown} is not one of 6, 18, 26 (largest component with that 3D connectivity) or all (keep every component)`,
  );
}

/**
 * Fills unset settings with the defaults and checks every value; errors name the setting as
 * `names` spells it. Use for settings built in code; parseMethodSettings for text.
 */
export function checkMethodSettings(
  settings: Partial<MethodSettings> = {},
  names: MethodSettingNames = METHOD_SETTING_KEYS,
  shownAs: Partial<Record<MethodSettingName, string>> = {},
): MethodSettings {
  const merged = { ...DEFAULT_METHOD_SETTINGS, ...definedOnly(settings) };
  const shown = (key: MethodSettingName): string => shownAs[key] ?? String(merged[key]);
  const qcLimits = {} as Record<(typeof QC_KEYS)[number], number>;
  for (const key of QC_KEYS) qcLimits[key] = checkNumber(key, merged[key], names[key], shown(key));
  const out: MethodSettings = {
    scarMinAreaMm2: checkNumber(
      'scarMinAreaMm2',
      merged.scarMinAreaMm2,
      names.scarMinAreaMm2,
      shown('scarMinAreaMm2'),
    ),
    scarMaxAreaMm2: checkNumber(
      'scarMaxAreaMm2',
      merged.scarMaxAreaMm2,
      names.scarMaxAreaMm2,
      shown('scarMaxAreaMm2'),
    ),
    laComponents: checkComponents(merged.laComponents, names.laComponents, shown('laComponents')),
    laCrop: checkSwitch(merged.laCrop, names.laCrop, shown('laCrop')),
    boundaryBandMm: checkNumber(
      'boundaryBandMm',
      merged.boundaryBandMm,
      names.boundaryBandMm,
      shown('boundaryBandMm'),
    ),
    wallThicknessMm: checkNumber(
      'wallThicknessMm',
      merged.wallThicknessMm,
      names.wallThicknessMm,
      shown('wallThicknessMm'),
    ),
    ...qcLimits,
    ...(merged.probabilityThreshold === undefined
      ? {}
      : {
          probabilityThreshold: checkNumber(
            'probabilityThreshold',
            merged.probabilityThreshold,
            names.probabilityThreshold,
            shown('probabilityThreshold'),
          ),
        }),
  };
  if (out.qcLaMinVolumeMl > out.qcLaMaxVolumeMl) {
    throw new MethodSettingsError(
      `${names.qcLaMinVolumeMl}=${out.qcLaMinVolumeMl} is above ${names.qcLaMaxVolumeMl}=${out.qcLaMaxVolumeMl}`,
    );
  }
  if (out.scarMinAreaMm2 > out.scarMaxAreaMm2) {
    throw new MethodSettingsError(
      `${names.scarMinAreaMm2}=${out.scarMinAreaMm2} is above ${names.scarMaxAreaMm2}=${out.scarMaxAreaMm2}`,
    );
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Reads settings given as text (flags, environment variables): unset or empty = the default.
 * Numbers are decimals ("3.9", "0.5", "1e-3"); hexadecimal, "Infinity" and the like are refused.
 */
export function parseMethodSettings(
  raw: Partial<Record<MethodSettingName, string | undefined>>,
  names: MethodSettingNames,
): MethodSettings {
  const parsed: Partial<Record<MethodSettingName, unknown>> = {};
  const shownAs: Partial<Record<MethodSettingName, string>> = {};
  for (const key of Object.keys(METHOD_SETTING_KEYS) as MethodSettingName[]) {
    const text = raw[key]?.trim();
    if (!text) continue;
    shownAs[key] = text;
    if (key === 'laComponents') {
      parsed[key] = text === 'all' ? 'all' : /^\d+$/.test(text) ? Number(text) : text;
    } else if (key === 'laCrop') {
      parsed[key] = text === 'on' ? true : text === 'off' ? false : text;
    } else {
      parsed[key] = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : Number.NaN;
    }
  }
  return checkMethodSettings(parsed as Partial<MethodSettings>, names, shownAs);
}

/**
 * The scar area limits in whole pixels for a pixel of `columnMm` x `rowMm`: a component of n
 * pixels is kept when minAreaMm2 <= n x pixel area <= maxAreaMm2 (the paper's 10..450 pixels at
 * 0.625 mm; 3..112 pixels at 1.25 mm).
 */
export function scarPixelLimits(
  settings: Pick<MethodSettings, 'scarMinAreaMm2' | 'scarMaxAreaMm2'>,
  columnMm: number,
  rowMm: number,
): { readonly minPixels: number; readonly maxPixels: number } {
  const pixel = columnMm * rowMm;
  if (!(pixel > 0) || !Number.isFinite(pixel))
    throw new RangeError(`pixel spacing must be positive, got ${columnMm} x ${rowMm} mm`);
  // The relative slack keeps exact quotients exact (3.90625 / 0.390625 = 10, not 10.000000001).
  return {
    minPixels: Math.ceil((settings.scarMinAreaMm2 / pixel) * (1 - 1e-9)),
    maxPixels: Math.floor((settings.scarMaxAreaMm2 / pixel) * (1 + 1e-9)),
  };
}
