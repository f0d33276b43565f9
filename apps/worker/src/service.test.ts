// The worker's HTTP API and its bearer token, against a real PostgreSQL: every protected route
// answers 401 without a token, with a wrong one and with one of the wrong length, and works with
// the right one; /healthz, /readyz and the webhook need none; a server error tells the caller
// only a request id (the detail is in the log); a non-loopback bind without a token is refused.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type PgBoss from 'pg-boss';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '@lascar/db';
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import type { PacsClient } from '@lascar/pacs';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import type { WorkerMetrics } from './metrics.js';
import { bearerMatches, createService, type ServiceDeps } from './service.js';
import { startWorker } from './worker.js';

const TOKEN = 'a'.repeat(20) + '-test-token-0123456789';
const NO_JOB = '00000000-0000-4000-8000-000000000000';

/** Every route behind the token, as [method, path]. */
const PROTECTED: [string, string][] = [
  ['GET', '/jobs'],
  ['GET', '/jobs?state=failed&limit=5'],
  ['GET', '/metrics'],
  ['GET', `/jobs/${NO_JOB}/overlays/0.png`],
  ['POST', `/jobs/${NO_JOB}/retry`],
  ['GET', '/no-such-route'],
];

let db: TestDatabase;
const servers: Server[] = [];
const logLines: string[] = [];

function deps(prisma: PrismaClient): ServiceDeps {
  const metrics = { registry: new Registry() } as unknown as WorkerMetrics;
  return {
    prisma,
    pacs: { ping: async () => undefined } as unknown as PacsClient,
    // The routes exercised here never reach the queue (an unknown job is answered from the table).
    boss: {} as PgBoss,
    metrics,
    log: createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    ),
    webhookSecret: 'webhook-secret-long-enough',
    apiToken: TOKEN,
    onCandidate: async () => undefined,
    pingDatabase: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
  };
}

async function serve(d: ServiceDeps): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = createService(d).listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let url: string;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 2 });
  url = await serve(deps(db.prisma));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await db?.drop();
});

const call = (method: string, path: string, authorization?: string) =>
  fetch(`${url}${path}`, {
    method,
    ...(authorization === undefined ? {} : { headers: { authorization } }),
  });

describe('the worker API with LASCAR_API_TOKEN', () => {
  it.each(PROTECTED)(
    '%s %s is 401 without a token, with a wrong one, with a short one',
    async (method, path) => {
      for (const authorization of [
        undefined,
        `Bearer ${'b'.repeat(TOKEN.length)}`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer ${TOKEN}x`,
        `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
        TOKEN,
      ]) {
        const res = await call(method, path, authorization);
        expect(res.status, `${method} ${path} with ${authorization ?? 'no header'}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await res.json()).toEqual({
          error: 'a valid bearer token (LASCAR_API_TOKEN) is required',
        });
      }
    },
  );

  it('serves every protected route with the right token', async () => {
    const auth = `Bearer ${TOKEN}`;
    const jobs = await call('GET', '/jobs', auth);
    expect(jobs.status).toBe(200);
    expect(await jobs.json()).toEqual([]);
    expect((await call('GET', '/jobs?state=failed&limit=5', `bearer  ${TOKEN}`)).status).toBe(200);
    const metrics = await call('GET', '/metrics', auth);
    expect(metrics.status).toBe(200);
    // The handlers ran: an unknown job is theirs to answer, not the guard's.
    const overlay = await call('GET', `/jobs/${NO_JOB}/overlays/0.png`, auth);
    expect(overlay.status).toBe(404);
    expect(await overlay.json()).toEqual({ error: `no overlay for job ${NO_JOB} slice 0` });
    const retry = await call('POST', `/jobs/${NO_JOB}/retry`, auth);
    expect(retry.status).toBe(404);
    expect(await retry.json()).toEqual({ error: `no job ${NO_JOB}` });
  });

  it('leaves /healthz, /readyz and the webhook (its own secret) open', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ database: 'ok', pacs: 'ok' });
    // The webhook checks its own secret and then its body; the API token plays no part.
    const hook = (secret: string) =>
      fetch(`${url}/webhook/orthanc`, {
        method: 'POST',
        headers: { 'x-lascar-webhook-secret': secret, 'content-type': 'application/json' },
        body: '{}',
      });
    const refused = await hook('wrong-secret-but-long');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      error: 'webhook post without the right x-lascar-webhook-secret header',
    });
    const accepted = await hook('webhook-secret-long-enough');
    expect(accepted.status).toBe(400);
    expect((await accepted.json()) as { error: string }).toMatchObject({
      error: expect.stringMatching(/^webhook body: studyInstanceUid is missing/),
    });
  });

  it('answers a server error with a request id only; the detail goes to the log', async () => {
    const broken = {
      job: {
        findMany: () => Promise.reject(new Error('relation "secret_table" does not exist')),
      },
    } as unknown as PrismaClient;
    const brokenUrl = await serve(deps(broken));
    const res = await fetch(`${brokenUrl}/jobs`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; requestId: string };
    expect(body.error).toBe('internal error');
    expect(JSON.stringify(body)).not.toContain('secret_table');
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
    const line = logLines.find((l) => l.includes(body.requestId));
    expect(line).toContain('secret_table');
  });
});

describe('bearerMatches', () => {
  it('accepts only the exact token after "Bearer"', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN} extra`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.toUpperCase()}`, TOKEN)).toBe(false);
  });
});

describe('binding', () => {
  const pacs = { LASCAR_PACS_URL: 'http://127.0.0.1:8042/dicom-web' };

  it.each(['0.0.0.0', '::', '10.1.2.3', 'worker.example.org'])(
    'refuses LASCAR_HTTP_HOST=%s without a token',
    (host) => {
      expect(() => loadConfig({ ...pacs, LASCAR_HTTP_HOST: host })).toThrow(ConfigError);
      expect(() => loadConfig({ ...pacs, LASCAR_HTTP_HOST: host })).toThrow(
        `LASCAR_HTTP_HOST=${host} is reachable from other machines: set LASCAR_API_TOKEN`,
      );
      expect(
        loadConfig({ ...pacs, LASCAR_HTTP_HOST: host, LASCAR_API_TOKEN: TOKEN }).apiToken,
      ).toBe(TOKEN);
    },
  );

  it.each(['127.0.0.1', 'localhost', '::1', '127.0.0.2'])('allows %s without a token', (host) => {
    expect(loadConfig({ ...pacs, LASCAR_HTTP_HOST: host }).apiToken).toBeUndefined();
  });

  it('refuses a token shorter than 32 characters', () => {
    expect(() => loadConfig({ ...pacs, LASCAR_API_TOKEN: 'x'.repeat(31) })).toThrow(
      'LASCAR_API_TOKEN must be at least 32 characters',
    );
  });

  it('startWorker refuses a non-loopback configuration without a token before opening anything', async () => {
    const config = { ...loadConfig(pacs), http: { host: '0.0.0.0', port: 0 } };
    await expect(startWorker(config)).rejects.toThrow(ConfigError);
  });
});
