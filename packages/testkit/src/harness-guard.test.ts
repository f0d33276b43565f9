// The Orthanc test harness must never start Orthanc where other machines could reach it.
import { describe, expect, it } from 'vitest';
import { assertPrivateNetwork, networkInterfaces, startOrthanc } from './orthanc.js';

describe('Orthanc harness guard', () => {
  it('refuses to start Orthanc unless only loopback is visible', async () => {
    const names = networkInterfaces();
    expect(names).toContain('lo');
    if (names.some((n) => n !== 'lo')) {
      expect(() => assertPrivateNetwork()).toThrow(/refusing to start Orthanc/);
      await expect(startOrthanc()).rejects.toThrow(/in-private-network\.sh/);
    } else {
      expect(() => assertPrivateNetwork()).not.toThrow();
    }
  });
});
