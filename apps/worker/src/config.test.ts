import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from './config.js';

const base = { LASCAR_PACS_URL: 'http://pacs.example:8042/dicom-web' };

describe('loadConfig', () => {
  it('uses the embedded database and defaults when only the PACS is given', () => {
    const c = loadConfig(base);
    expect(c.database.kind).toBe('embedded');
    expect(c.concurrency).toBe(1);
    expect(c.retryLimit).toBe(5);
    expect(c.executionProvider).toBe('auto');
    expect(c.webhookSecret).toBeUndefined();
    // The QIDO-RS safety net is on: it finds series no push or change announced.
    expect(c.qidoPollSeconds).toBe(300);
    expect(loadConfig({ ...base, LASCAR_QIDO_POLL_SECONDS: '0' }).qidoPollSeconds).toBe(0);
  });

  it('rechecks a gap or a changed series after LASCAR_RECHECK_SECONDS, 600 by default', () => {
    expect(loadConfig(base).recheckSeconds).toBe(600);
    expect(loadConfig({ ...base, LASCAR_RECHECK_SECONDS: '0' }).recheckSeconds).toBe(0);
    expect(
      describeConfig(loadConfig({ ...base, LASCAR_RECHECK_SECONDS: '45' })).recheckSeconds,
    ).toBe(45);
    expect(() => loadConfig({ ...base, LASCAR_RECHECK_SECONDS: 'soon' })).toThrow(
      /LASCAR_RECHECK_SECONDS/,
    );
  });

  it("reads the method settings from the environment, the paper's values by default", () => {
    expect(loadConfig(base).method).toEqual({
      scarMinAreaMm2: 3.90625,
      scarMaxAreaMm2: 175.78125,
      laComponents: 26,
      boundaryBandMm: 5,
      wallThicknessMm: 3,
      laCrop: true,
      qcLaMinVolumeMl: 20,
      qcLaMaxVolumeMl: 300,
      qcLaMinExtentMm: 25,
      qcScarWallDistanceMm: 10,
      qcScarFarMaxPercent: 5,
    });
    const c = loadConfig({
      ...base,
      LASCAR_SCAR_MIN_AREA_MM2: '5',
      LASCAR_SCAR_MAX_AREA_MM2: '150',
      LASCAR_LA_COMPONENTS: 'all',
      LASCAR_BOUNDARY_BAND_MM: '4.5',
      LASCAR_WALL_THICKNESS_MM: '2.5',
      LASCAR_PROBABILITY_THRESHOLD: '0.6',
      LASCAR_LA_CROP: 'off',
      LASCAR_QC_LA_MIN_VOLUME_ML: '15',
      LASCAR_QC_LA_MAX_VOLUME_ML: '250',
      LASCAR_QC_LA_MIN_EXTENT_MM: '30',
      LASCAR_QC_SCAR_WALL_DISTANCE_MM: '7.5',
      LASCAR_QC_SCAR_FAR_MAX_PERCENT: '10',
    });
    expect(c.method).toEqual({
      scarMinAreaMm2: 5,
      scarMaxAreaMm2: 150,
      laComponents: 'all',
      boundaryBandMm: 4.5,
      wallThicknessMm: 2.5,
      probabilityThreshold: 0.6,
      laCrop: false,
      qcLaMinVolumeMl: 15,
      qcLaMaxVolumeMl: 250,
      qcLaMinExtentMm: 30,
      qcScarWallDistanceMm: 7.5,
      qcScarFarMaxPercent: 10,
    });
    expect(describeConfig(c).method).toEqual(c.method);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const c = loadConfig({ ...base, DATABASE_URL: 'postgres://u:p@db:5432/lascar' });
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/lascar' });
  });

  it.each([
    [{}, /^LASCAR_PACS_URL is not set/],
    [{ LASCAR_PACS_URL: 'pacs:8042' }, /^LASCAR_PACS_URL=pacs:8042 must be an http/],
    [{ ...base, DATABASE_URL: 'mysql://x' }, /^DATABASE_URL=mysql:\/\/x must start with postgres/],
    [{ ...base, LASCAR_CONCURRENCY: 'two' }, /^LASCAR_CONCURRENCY=two is not a whole number/],
    [{ ...base, LASCAR_CONCURRENCY: '0' }, /^LASCAR_CONCURRENCY=0 is outside 1\.\.64/],
    [{ ...base, LASCAR_RETRY_LIMIT: '-1' }, /^LASCAR_RETRY_LIMIT=-1 is outside/],
    [{ ...base, LASCAR_EXECUTION_PROVIDER: 'tpu' }, /^LASCAR_EXECUTION_PROVIDER=tpu is not one of/],
    [{ ...base, LASCAR_WEBHOOK_SECRET: 'short' }, /^LASCAR_WEBHOOK_SECRET must be at least 16/],
    [{ ...base, LASCAR_LOG_LEVEL: 'loud' }, /^LASCAR_LOG_LEVEL=loud is not one of/],
    [
      { ...base, LASCAR_WALL_THICKNESS_MM: '-2' },
      /^LASCAR_WALL_THICKNESS_MM=-2 is outside 0 < value < 20/,
    ],
    [
      { ...base, LASCAR_QC_LA_MAX_VOLUME_ML: 'lots' },
      /^LASCAR_QC_LA_MAX_VOLUME_ML=lots is not a number/,
    ],
    [{ ...base, LASCAR_LA_COMPONENTS: 'largest' }, /^LASCAR_LA_COMPONENTS=largest is not one of/],
    [
      { ...base, LASCAR_PROBABILITY_THRESHOLD: '50%' },
      /^LASCAR_PROBABILITY_THRESHOLD=50% is not a number/,
    ],
  ])('names the variable in its error: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never shows passwords or the webhook secret when described', () => {
    const c = loadConfig({
      LASCAR_PACS_URL: 'http://admin:hunter2@pacs:8042/dicom-web',
      LASCAR_PACS_PASSWORD: 'pacs-password-1',
      DATABASE_URL: 'postgres://lascar:db-password-2@db/lascar',
      LASCAR_WEBHOOK_SECRET: 'webhook-secret-3-long-enough',
    });
    const text = JSON.stringify(describeConfig(c));
    for (const secret of ['hunter2', 'pacs-password-1', 'db-password-2', 'webhook-secret-3']) {
      expect(text).not.toContain(secret);
    }
  });
});
