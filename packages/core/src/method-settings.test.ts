import { describe, expect, it } from 'vitest';
import {
  DEFAULT_METHOD_SETTINGS,
  MethodSettingsError,
  checkMethodSettings,
  parseMethodSettings,
  scarPixelLimits,
  type MethodSettingNames,
} from './method-settings.js';

const ENV: MethodSettingNames = {
  scarMinAreaMm2: 'LASCAR_SCAR_MIN_AREA_MM2',
  scarMaxAreaMm2: 'LASCAR_SCAR_MAX_AREA_MM2',
  laComponents: 'LASCAR_LA_COMPONENTS',
  boundaryBandMm: 'LASCAR_BOUNDARY_BAND_MM',
  wallThicknessMm: 'LASCAR_WALL_THICKNESS_MM',
  probabilityThreshold: 'LASCAR_PROBABILITY_THRESHOLD',
  laCrop: 'LASCAR_LA_CROP',
  qcLaMinVolumeMl: 'LASCAR_QC_LA_MIN_VOLUME_ML',
  qcLaMaxVolumeMl: 'LASCAR_QC_LA_MAX_VOLUME_ML',
  qcLaMinExtentMm: 'LASCAR_QC_LA_MIN_EXTENT_MM',
  qcScarWallDistanceMm: 'LASCAR_QC_SCAR_WALL_DISTANCE_MM',
  qcScarFarMaxPercent: 'LASCAR_QC_SCAR_FAR_MAX_PERCENT',
};

const QC_DEFAULTS = {
  qcLaMinVolumeMl: 20,
  qcLaMaxVolumeMl: 300,
  qcLaMinExtentMm: 25,
  qcScarWallDistanceMm: 10,
  qcScarFarMaxPercent: 5,
};

describe('method settings', () => {
  it("defaults to the paper's values: 10..450 pixels at 0.625 mm, 26-connected LA, 5 mm band, 3 mm wall", () => {
    expect(DEFAULT_METHOD_SETTINGS).toEqual({
      scarMinAreaMm2: 3.90625,
      scarMaxAreaMm2: 175.78125,
      laComponents: 26,
      boundaryBandMm: 5,
      wallThicknessMm: 3,
      laCrop: true,
      ...QC_DEFAULTS,
    });
    expect(parseMethodSettings({}, ENV)).toEqual(DEFAULT_METHOD_SETTINGS);
    expect(checkMethodSettings()).toEqual(DEFAULT_METHOD_SETTINGS);
  });

  it('reads every setting from text; empty means the default', () => {
    expect(
      parseMethodSettings(
        {
          scarMinAreaMm2: '2.5',
          scarMaxAreaMm2: ' 200 ',
          laComponents: 'all',
          boundaryBandMm: '4',
          wallThicknessMm: '2.5',
          probabilityThreshold: '0.6',
          qcLaMinVolumeMl: '10',
          qcLaMaxVolumeMl: '400',
          qcLaMinExtentMm: '0',
          qcScarWallDistanceMm: '8',
          qcScarFarMaxPercent: '2.5',
          laCrop: 'off',
        },
        ENV,
      ),
    ).toEqual({
      scarMinAreaMm2: 2.5,
      scarMaxAreaMm2: 200,
      laComponents: 'all',
      boundaryBandMm: 4,
      wallThicknessMm: 2.5,
      probabilityThreshold: 0.6,
      qcLaMinVolumeMl: 10,
      qcLaMaxVolumeMl: 400,
      qcLaMinExtentMm: 0,
      qcScarWallDistanceMm: 8,
      qcScarFarMaxPercent: 2.5,
      laCrop: false,
    });
    expect(parseMethodSettings({ laCrop: 'on' }, ENV).laCrop).toBe(true);
    expect(parseMethodSettings({ laComponents: '6', wallThicknessMm: '' }, ENV)).toEqual({
      ...DEFAULT_METHOD_SETTINGS,
      laComponents: 6,
    });
  });

  it('names the setting, as the user spelled it, in a one-line error', () => {
    const bad = (raw: Record<string, string>): string => {
      try {
        parseMethodSettings(raw, ENV);
      } catch (e) {
        expect(e).toBeInstanceOf(MethodSettingsError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad({ scarMinAreaMm2: 'ten' })).toBe(
      'LASCAR_SCAR_MIN_AREA_MM2=ten is not a number (an area in mm^2)',
    );
    expect(bad({ wallThicknessMm: '0' })).toBe(
      'LASCAR_WALL_THICKNESS_MM=0 is outside 0 < value < 20 (a thickness in mm)',
    );
    expect(bad({ probabilityThreshold: '1' })).toBe(
      'LASCAR_PROBABILITY_THRESHOLD=1 is outside 0 < value < 1 (a probability)',
    );
    expect(bad({ boundaryBandMm: '0x10' })).toMatch(
      /^LASCAR_BOUNDARY_BAND_MM=0x10 is not a number/,
    );
    expect(bad({ laCrop: 'yes' })).toBe('LASCAR_LA_CROP=yes is not on or off');
    expect(() => parseMethodSettings({ laCrop: 'no' }, { ...ENV, laCrop: '--la-crop' })).toThrow(
      '--la-crop=no is not on or off',
    );
    expect(bad({ laComponents: '4' })).toBe(
      'LASCAR_LA_COMPONENTS=4 is not one of 6, 18, 26 (largest component with that 3D connectivity) or all (keep every component)',
    );
    expect(bad({ scarMinAreaMm2: '200' })).toBe(
      'LASCAR_SCAR_MIN_AREA_MM2=200 is above LASCAR_SCAR_MAX_AREA_MM2=175.78125',
    );
    expect(() => checkMethodSettings({ boundaryBandMm: Number.NaN })).toThrow(
      'boundaryBandMm=NaN is not a number (a distance in mm)',
    );
  });

  it('checks the quality-control limits, naming the variable', () => {
    const error = (raw: Parameters<typeof parseMethodSettings>[0]): string => {
      try {
        parseMethodSettings(raw, ENV);
      } catch (e) {
        expect(e).toBeInstanceOf(MethodSettingsError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(error({ qcLaMinVolumeMl: '200', qcLaMaxVolumeMl: '100' })).toBe(
      'LASCAR_QC_LA_MIN_VOLUME_ML=200 is above LASCAR_QC_LA_MAX_VOLUME_ML=100',
    );
    expect(error({ qcLaMaxVolumeMl: '0' })).toBe(
      'LASCAR_QC_LA_MAX_VOLUME_ML=0 is outside 0 < value < 10000 (a volume in mL)',
    );
    expect(error({ qcLaMinExtentMm: '-1' })).toBe(
      'LASCAR_QC_LA_MIN_EXTENT_MM=-1 is outside 0 <= value < 1000 (a length in mm)',
    );
    expect(error({ qcScarWallDistanceMm: 'ten' })).toBe(
      'LASCAR_QC_SCAR_WALL_DISTANCE_MM=ten is not a number (a distance in mm)',
    );
    expect(error({ qcScarFarMaxPercent: '100' })).toBe(
      'LASCAR_QC_SCAR_FAR_MAX_PERCENT=100 is outside 0 <= value < 100 (a percentage)',
    );
    // A zero share is allowed: any scar far from the wall is flagged.
    expect(parseMethodSettings({ qcScarFarMaxPercent: '0' }, ENV).qcScarFarMaxPercent).toBe(0);
  });

  it("converts the scar area limits to whole pixels of each study's spacing", () => {
    // The paper's grid gives back its pixel limits exactly.
    expect(scarPixelLimits(DEFAULT_METHOD_SETTINGS, 0.625, 0.625)).toEqual({
      minPixels: 10,
      maxPixels: 450,
    });
    // 1.25 mm pixels are 4 times larger: 2.5 -> 3 pixels, 112.5 -> 112 pixels.
    expect(scarPixelLimits(DEFAULT_METHOD_SETTINGS, 1.25, 1.25)).toEqual({
      minPixels: 3,
      maxPixels: 112,
    });
    // Anisotropic pixels: 0.5 x 0.8 = 0.4 mm^2.
    expect(scarPixelLimits(DEFAULT_METHOD_SETTINGS, 0.5, 0.8)).toEqual({
      minPixels: 10,
      maxPixels: 439,
    });
    expect(() => scarPixelLimits(DEFAULT_METHOD_SETTINGS, 0, 1)).toThrow(/positive/);
  });
});
