import { describe, expect, it } from 'vitest';
import { DashboardConfigError, loadDashboardConfig } from './config';

const base = {
  DATABASE_URL: 'postgres://dashboard@127.0.0.1:5432/lascar',
  LASCAR_AUTH_SECRET: 'x'.repeat(32),
};

describe('loadDashboardConfig', () => {
  it('reads the defaults; sign-off has no PACS until LASCAR_PACS_URL is set', () => {
    const c = loadDashboardConfig(base);
    expect(c.baseURL).toBe('http://127.0.0.1:3000');
    expect(c.pacs).toBeUndefined();
    expect(c.sessionMaxAgeSeconds).toBe(12 * 3600);
  });

  it('reads the PACS endpoint as the worker does (shared reader)', () => {
    const c = loadDashboardConfig({
      ...base,
      LASCAR_PACS_URL: 'http://pacs:8042/dicom-web/',
      LASCAR_PACS_USERNAME: 'lascar',
      LASCAR_PACS_TIMEOUT_SECONDS: '9',
    });
    expect(c.pacs).toEqual({
      url: 'http://pacs:8042/dicom-web',
      username: 'lascar',
      timeoutMs: 9000,
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadDashboardConfig({ ...base, LASCAR_AUTH_SECRET: 'short' })).toThrow(
      /LASCAR_AUTH_SECRET must be set to at least 32/,
    );
    expect(() => loadDashboardConfig({ ...base, LASCAR_SESSION_MAX_HOURS: '0' })).toThrow(
      new DashboardConfigError('LASCAR_SESSION_MAX_HOURS=0 is outside 1..168'),
    );
    expect(() => loadDashboardConfig({ ...base, LASCAR_DASHBOARD_URL: 'ftp://x' })).toThrow(
      'LASCAR_DASHBOARD_URL=ftp://x must be an http:// or https:// URL',
    );
  });
});
