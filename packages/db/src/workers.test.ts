// Worker heartbeats against a real PostgreSQL: a beat records the worker and the job it is on;
// a worker whose beats stop while it holds a job is flagged; an orderly stop is not; old rows
// leave the list unless they are silent with a job.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from './generated/prisma/client.js';
import { ensureJob, recordSeries } from './records.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import {
  listWorkers,
  MISSED_BEATS_BEFORE_SILENT,
  pruneWorkerRows,
  recordHeartbeat,
  recordWorkerStopped,
  type WorkerBeat,
  WORKER_ROWS_KEPT_DAYS,
} from './workers.js';

const MODEL = 'la-aaaaaaaaaaaa.scar-bbbbbbbbbbbb';
let db: TestDatabase;
let prisma: PrismaClient;
let jobKey: string;
let jobId: string;

const beat = (overrides: Partial<WorkerBeat> = {}): WorkerBeat => ({
  id: randomUUID(),
  host: 'worker-host-1',
  pid: 4242,
  version: '0.1.0',
  modelVersion: MODEL,
  executionProvider: 'cpu',
  concurrency: 2,
  intervalSeconds: 5,
  jobKeys: [],
  ...overrides,
});

/** Moves a worker's last beat into the past, as if it had stopped beating that long ago. */
const age = (id: string, seconds: number) =>
  prisma.$executeRaw`UPDATE "WorkerHeartbeat" SET "lastBeatAt" = "lastBeatAt" - make_interval(secs => ${seconds}) WHERE id = ${id}::uuid`;

const find = async (id: string) => (await listWorkers(prisma)).find((w) => w.id === id);

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 2 });
  prisma = db.prisma;
  const uid = '1.2.826.0.9.1.2';
  const seriesRef = await recordSeries(
    prisma,
    { studyInstanceUid: '1.2.826.0.9.1', seriesInstanceUid: uid, modality: 'MR' },
    { patientId: 'PAT-HB' },
  );
  const { job } = await ensureJob(prisma, seriesRef, uid, MODEL, randomUUID());
  jobKey = job.jobKey;
  jobId = job.id;
});

afterAll(async () => {
  await db?.drop();
});

describe('worker heartbeats', () => {
  it('records a worker with what it is running, stamped by the database', async () => {
    const b = beat({ jobKeys: [jobKey] });
    const before = Date.now();
    await recordHeartbeat(prisma, b);
    const w = await find(b.id);
    expect(w).toMatchObject({
      host: 'worker-host-1',
      pid: 4242,
      version: '0.1.0',
      modelVersion: MODEL,
      executionProvider: 'cpu',
      concurrency: 2,
      intervalSeconds: 5,
      status: 'running',
      stoppedAt: null,
      stoppedBeatingWithJob: false,
      jobs: [{ jobKey, id: jobId, state: 'queued' }],
    });
    // Same machine, so the database's clock and ours agree to within the round trip.
    expect(Math.abs(w!.lastBeatAt.getTime() - before)).toBeLessThan(60_000);
    expect(w!.beatAgeSeconds).toBeLessThan(60);
  });

  it('updates the same row at the next beat and keeps its start time', async () => {
    const b = beat({ jobKeys: [jobKey] });
    await recordHeartbeat(prisma, b);
    const first = (await find(b.id))!;
    await age(b.id, 4);
    await recordHeartbeat(prisma, { ...b, jobKeys: [] });
    const second = (await find(b.id))!;
    expect(second.startedAt).toEqual(first.startedAt);
    expect(second.lastBeatAt.getTime()).toBeGreaterThan(first.lastBeatAt.getTime() - 4000);
    expect(second.jobs).toEqual([]);
    expect(await prisma.workerHeartbeat.count({ where: { id: b.id } })).toBe(1);
  });

  it(`flags a worker that missed ${MISSED_BEATS_BEFORE_SILENT} beats while holding a job`, async () => {
    const holding = beat({ host: 'dead-host', jobKeys: [jobKey] });
    const idle = beat({ host: 'idle-silent-host' });
    await recordHeartbeat(prisma, holding);
    await recordHeartbeat(prisma, idle);
    // Two missed beats: late, not yet silent.
    await age(holding.id, 2 * 5);
    expect((await find(holding.id))!.status).toBe('running');
    await age(holding.id, 2 * 5);
    await age(idle.id, 4 * 5);
    const dead = (await find(holding.id))!;
    expect(dead.status).toBe('silent');
    expect(dead.stoppedBeatingWithJob).toBe(true);
    expect(dead.jobs).toEqual([{ jobKey, id: jobId, state: 'queued' }]);
    expect(dead.beatAgeSeconds).toBeGreaterThanOrEqual(20);
    const quiet = (await find(idle.id))!;
    expect(quiet.status).toBe('silent');
    expect(quiet.stoppedBeatingWithJob).toBe(false);
    // Running workers are listed before silent ones.
    const order = (await listWorkers(prisma)).map((w) => w.status);
    expect(order.indexOf('running')).toBeLessThan(order.indexOf('silent'));
  });

  it('does not flag an orderly stop, and a later beat makes the worker running again', async () => {
    const b = beat({ host: 'stopping-host', jobKeys: [jobKey] });
    await recordHeartbeat(prisma, b);
    await recordWorkerStopped(prisma, b.id);
    await age(b.id, 3600);
    const stopped = (await find(b.id))!;
    expect(stopped.status).toBe('stopped');
    expect(stopped.stoppedAt).toBeInstanceOf(Date);
    expect(stopped.jobs).toEqual([]);
    expect(stopped.stoppedBeatingWithJob).toBe(false);
    await recordHeartbeat(prisma, b);
    expect((await find(b.id))!.status).toBe('running');
  });

  it('leaves out workers gone for over a day, unless they died holding a job', async () => {
    const gone = beat({ host: 'gone-host' });
    const lost = beat({ host: 'lost-host', jobKeys: [jobKey, 'no-such-series@model'] });
    await recordHeartbeat(prisma, gone);
    await recordHeartbeat(prisma, lost);
    await age(gone.id, 25 * 3600);
    await age(lost.id, 25 * 3600);
    expect(await find(gone.id)).toBeUndefined();
    const l = (await find(lost.id))!;
    expect(l.stoppedBeatingWithJob).toBe(true);
    expect(l.jobs).toEqual([
      { jobKey, id: jobId, state: 'queued' },
      { jobKey: 'no-such-series@model', id: null, state: null },
    ]);
  });

  it(`deletes rows of workers gone for over ${WORKER_ROWS_KEPT_DAYS} days, except one that died holding a job`, async () => {
    const stopped = beat({ host: 'stopped-long-ago' });
    const silent = beat({ host: 'silent-long-ago' });
    const died = beat({ host: 'died-with-a-job', jobKeys: [jobKey] });
    const recent = beat({ host: 'stopped-last-week' });
    for (const b of [stopped, silent, died, recent]) await recordHeartbeat(prisma, b);
    await recordWorkerStopped(prisma, stopped.id);
    await recordWorkerStopped(prisma, recent.id);
    const day = 24 * 3600;
    for (const b of [stopped, silent, died]) await age(b.id, (WORKER_ROWS_KEPT_DAYS + 1) * day);
    await age(recent.id, 7 * day);
    const ids = async () =>
      (await prisma.$queryRaw<{ id: string }[]>`SELECT id::text FROM "WorkerHeartbeat"`).map(
        (r) => r.id,
      );
    expect(await pruneWorkerRows(prisma)).toBeGreaterThanOrEqual(2);
    const left = await ids();
    expect(left).not.toContain(stopped.id);
    expect(left).not.toContain(silent.id);
    expect(left).toContain(died.id);
    expect(left).toContain(recent.id);
    expect((await find(died.id))?.stoppedBeatingWithJob).toBe(true);
  });
});
