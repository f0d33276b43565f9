// The test Orthanc itself: private network, authentication on, the settings the recipe asks for.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkInterfaces, startOrthanc, type OrthancInstance } from '@lascar/testkit';

describe('test Orthanc', () => {
  let orthanc: OrthancInstance;
  beforeAll(async () => {
    orthanc = await startOrthanc({ webhookUrl: 'http://127.0.0.1:9/hook', secret: 's' });
  });
  afterAll(async () => {
    await orthanc?.dispose();
  });

  it('runs in a network namespace with loopback only', () => {
    expect(networkInterfaces()).toEqual(['lo']);
  });

  it('requires credentials and runs with the configured settings', async () => {
    expect((await fetch(`${orthanc.url}/system`)).status).toBe(401);
    const auth = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
    const system = (await (
      await fetch(`${orthanc.url}/system`, { headers: { authorization: auth } })
    ).json()) as Record<string, unknown>;
    expect(system.Name).toBe('lascar-test');
    expect(system.DicomPort).toBeDefined();
    const config = JSON.parse(await readFile(orthanc.configFile, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      DicomServerEnabled: false,
      HttpCompressionEnabled: false,
      StableAge: 2,
      LAScar: { WebhookUrl: 'http://127.0.0.1:9/hook', WebhookSecret: 's' },
    });
    const plugins = (await (
      await fetch(`${orthanc.url}/plugins`, { headers: { authorization: auth } })
    ).json()) as string[];
    expect(plugins).toContain('dicom-web');
  });

  it('stops and restarts on the same port, keeping its storage', async () => {
    await orthanc.stop();
    expect(orthanc.running).toBe(false);
    await expect(fetch(`${orthanc.url}/system`)).rejects.toThrow();
    await orthanc.restart();
    expect(orthanc.running).toBe(true);
    expect((await fetch(`${orthanc.url}/system`)).status).toBe(401);
  });
});
