// The queue actions against a real PostgreSQL and a real pg-boss: a double click (two calls at
// once) queues one job, records one override; a cancelled job leaves the queue.
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import { ensureJob, jobKeyOf, markJob, recordDecision, recordSeries } from '@lascar/db';
import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelJob,
  processAnyway,
  queueJobId,
  retryJob,
  SEGMENT_QUEUE,
  startQueue,
  type SegmentJobData,
} from './index.js';

const MODEL = 'la-aaaaaaaaaaaa.scar-bbbbbbbbbbbb';
let db: TestDatabase;
let boss: PgBoss;

async function series(n: number, description: string) {
  const uid = `1.2.826.0.2.${n}.2`;
  const seriesRef = await recordSeries(db.prisma, {
    studyInstanceUid: `1.2.826.0.2.${n}`,
    seriesInstanceUid: uid,
    modality: 'MR',
    seriesDescription: description,
  });
  return { uid, seriesRef };
}

async function queueEntries(jobKey: string) {
  return db.prisma.$queryRawUnsafe<{ id: string; state: string }[]>(
    `SELECT id::text, state::text FROM pgboss.job WHERE name = $1 AND data->>'jobKey' = $2`,
    SEGMENT_QUEUE,
    jobKey,
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  boss = await startQueue(
    db.url,
    { retryLimit: 2, retryDelaySeconds: 1, jobTimeoutSeconds: 60, maintenanceSeconds: 3600 },
    3,
    // A cut connection after the test (the database is dropped) is reported, not thrown.
    (error) => console.warn(`queue error: ${error.message}`),
  );
}, 60_000);

afterAll(async () => {
  await boss?.stop({ graceful: false });
  await db?.drop();
});

describe('retryJob', () => {
  it('queues a failed job once when asked twice at the same time', async () => {
    const { uid, seriesRef } = await series(1, 'LGE');
    const jobKey = jobKeyOf(uid, MODEL);
    const { job } = await ensureJob(db.prisma, seriesRef, uid, MODEL, queueJobId(jobKey));
    const data: SegmentJobData = {
      jobKey,
      studyInstanceUid: '1.2.826.0.2.1',
      seriesInstanceUid: uid,
      modelVersion: MODEL,
    };
    await boss.send(SEGMENT_QUEUE, { ...data }, { id: queueJobId(jobKey) });
    const [fetched] = await boss.fetch(SEGMENT_QUEUE);
    await boss.fail(SEGMENT_QUEUE, fetched!.id, { message: 'x' });
    await markJob(db.prisma, jobKey, { state: 'failed', error: 'load: unusable DICOM series' });

    const outcomes = await Promise.all([
      retryJob(db.prisma, boss, job.id),
      retryJob(db.prisma, boss, job.id),
    ]);
    expect(outcomes.sort()).toEqual(['busy', 'queued']);
    const entries = await queueEntries(jobKey);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.state).toBe('created');
    const row = await db.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row.state).toBe('queued');
    expect(row.error).toBeNull();
    expect(await retryJob(db.prisma, boss, job.id)).toBe('busy');
    expect(await retryJob(db.prisma, boss, crypto.randomUUID())).toBe('not-found');

    // Cancel takes it out of the queue; a second cancel finds nothing waiting.
    expect(await cancelJob(db.prisma, boss, job.id, 'admin@example.org')).toBe('cancelled');
    expect(await cancelJob(db.prisma, boss, job.id, 'admin@example.org')).toBe('busy');
    expect((await queueEntries(jobKey))[0]!.state).toBe('cancelled');
    const cancelled = await db.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(cancelled.state).toBe('failed');
    expect(cancelled.error).toBe('cancelled by admin@example.org before it ran');
    // ...and can be retried afterwards.
    expect(await retryJob(db.prisma, boss, job.id)).toBe('queued');
    expect((await queueEntries(jobKey)).map((e) => e.state)).toEqual(['created']);
  });
});

describe('retryJob numbering', () => {
  it('tells the worker how many attempts came before, so their stages are kept', async () => {
    const { uid, seriesRef } = await series(3, 'LGE');
    const jobKey = jobKeyOf(uid, MODEL);
    const { job } = await ensureJob(db.prisma, seriesRef, uid, MODEL, queueJobId(jobKey));
    await markJob(db.prisma, jobKey, { state: 'failed', attempts: 3, error: 'load: x' });
    expect(await retryJob(db.prisma, boss, job.id)).toBe('queued');
    const [entry] = await db.prisma.$queryRawUnsafe<{ data: SegmentJobData }[]>(
      `SELECT data FROM pgboss.job WHERE name = $1 AND data->>'jobKey' = $2`,
      SEGMENT_QUEUE,
      jobKey,
    );
    expect(entry!.data).toEqual({
      jobKey,
      studyInstanceUid: '1.2.826.0.2.3',
      seriesInstanceUid: uid,
      modelVersion: MODEL,
      attemptsBefore: 3,
    });
  });
});

describe('processAnyway', () => {
  it('records who overrode which rule and queues one job for a double click', async () => {
    const { uid, seriesRef } = await series(2, 'CINE SAX retro');
    await recordDecision(
      db.prisma,
      seriesRef,
      { selected: false, reason: 'description "CINE SAX retro" matches no LGE pattern' },
      'poll',
    );
    const [a, b] = await Promise.all([
      processAnyway(db.prisma, boss, seriesRef, MODEL, 'admin@example.org'),
      processAnyway(db.prisma, boss, seriesRef, MODEL, 'admin@example.org'),
    ]);
    expect([a!.outcome, b!.outcome].sort()).toEqual(['exists', 'queued']);
    const jobs = await db.prisma.job.findMany({ where: { seriesRef } });
    expect(jobs).toHaveLength(1);
    expect(await queueEntries(jobKeyOf(uid, MODEL))).toHaveLength(1);
    const manual = await db.prisma.selectionDecision.findMany({
      where: { seriesRef, source: 'manual' },
    });
    expect(manual).toHaveLength(1);
    expect(manual[0]!.selected).toBe(true);
    expect(manual[0]!.reason).toBe(
      'processed anyway by admin@example.org; overrode: description "CINE SAX retro" matches no LGE pattern',
    );
    expect((await processAnyway(db.prisma, boss, crypto.randomUUID(), MODEL, 'a@b')).outcome).toBe(
      'not-found',
    );
  });
});
