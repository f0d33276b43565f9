// The worker's heartbeat against a real PostgreSQL: it records this process with the jobs it is
// on, follows jobs in and out, records an orderly stop, and survives a database that fails.
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listWorkers, type PrismaClient } from '@lascar/db';
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import { startHeartbeat, WORKER_VERSION } from './heartbeat.js';
import { createLogger } from './log.js';

let db: TestDatabase;
const lines: string[] = [];
const log = createLogger(
  'info',
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  }),
);

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 2 });
});
afterAll(async () => {
  await db?.drop();
});

describe('startHeartbeat', () => {
  it('records this process, its jobs while it runs them, and its stop', async () => {
    const hb = startHeartbeat({
      prisma: db.prisma,
      log,
      intervalSeconds: 3600,
      modelVersion: 'la-1.scar-2',
      executionProvider: 'cpu',
      concurrency: 2,
    });
    await hb.beat();
    const me = async () => (await listWorkers(db.prisma)).find((w) => w.id === hb.id)!;
    expect(await me()).toMatchObject({
      host: hostname(),
      pid: process.pid,
      version: WORKER_VERSION,
      modelVersion: 'la-1.scar-2',
      executionProvider: 'cpu',
      concurrency: 2,
      intervalSeconds: 3600,
      status: 'running',
      jobs: [],
    });
    expect(WORKER_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    // Entering a job beats at once (the timer's beat is an hour away).
    hb.enter('1.2.3@la-1.scar-2');
    hb.enter('1.2.4@la-1.scar-2');
    await expect
      .poll(async () => (await me()).jobs.map((j) => j.jobKey))
      .toEqual(['1.2.3@la-1.scar-2', '1.2.4@la-1.scar-2']);
    hb.leave('1.2.3@la-1.scar-2');
    // Leaving beats at once too: wait on the row, not on the timer (an hour here).
    await expect
      .poll(async () => (await me()).jobs.map((j) => j.jobKey))
      .toEqual(['1.2.4@la-1.scar-2']);
    await hb.stop();
    const stopped = await me();
    expect(stopped.status).toBe('stopped');
    expect(stopped.jobs).toEqual([]);
    // A beat after the stop changes nothing.
    await hb.beat();
    expect((await me()).status).toBe('stopped');
  });

  it('keeps going when the database fails, and says so once', async () => {
    const broken = {
      $executeRaw: () => Promise.reject(new Error('connection refused')),
    } as unknown as PrismaClient;
    const hb = startHeartbeat({
      prisma: broken,
      log,
      intervalSeconds: 3600,
      modelVersion: 'm',
      executionProvider: 'cpu',
      concurrency: 1,
    });
    await hb.beat();
    await hb.beat();
    await hb.stop();
    const warnings = lines.filter((l) => l.includes('heartbeat failed'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('connection refused');
    expect(lines.some((l) => l.includes('could not record the stop'))).toBe(true);
  });
});
