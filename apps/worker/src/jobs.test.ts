// The Job table and pg-boss must never disagree. pg-boss gives an attempt up when its lease
// (expireInSeconds) runs out, even while the handler still runs: the job is failed for retry.
// Here the first attempt's LA network stalls past its 15 s lease, then finishes: that late
// attempt must not mark the Job completed while the queue retries the job (what a busy CI
// machine once showed), and the retry completes it with the queue entry, in one transaction.
// Real PostgreSQL and pg-boss; fakes for the PACS and the networks.
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import { ensureJob, jobKeyOf, recordSeries } from '@lascar/db';
import type PgBoss from 'pg-boss';
import { waitFor } from '@lascar/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaNetwork } from '@lascar/core';
import { discLaNetwork, fakeNetworks, phantomPacs } from './fakes.test-helper.js';
import { reconcileJobs, runSegmentJob, type JobOutcome } from './jobs.js';
import { retryJob } from '@lascar/queue';
import { createLogger } from './log.js';
import {
  queueJobId,
  SEGMENT_QUEUE,
  sendSegmentJob,
  startQueue,
  type SegmentJobData,
} from './queue.js';

let db: TestDatabase;
let boss: PgBoss;

beforeAll(async () => {
  db = await createTestDatabase();
  // A lease an unstalled attempt fits in even on a loaded machine; the retry waits 10..20 s
  // (backoff from 10 s), so the late first attempt has ended by the time it starts.
  boss = await startQueue(
    db.url,
    { retryLimit: 3, retryDelaySeconds: 10, jobTimeoutSeconds: 15, maintenanceSeconds: 1 },
    4,
    // A cut connection after the test (the database is dropped) is reported, not thrown.
    (error) => console.warn(`queue error: ${error.message}`),
  );
});

afterAll(async () => {
  await boss?.stop({ graceful: false, wait: true, timeout: 5_000 });
  await db?.drop();
});

describe('runSegmentJob', () => {
  it('records an outcome only with the queue entry it belongs to', async () => {
    const { pacs, ref } = phantomPacs(31);
    const modelVersion = 'la-test.scar-test';
    const seriesRef = await recordSeries(db.prisma, { ...ref, modality: 'MR' });
    const jobKey = jobKeyOf(ref.seriesInstanceUid, modelVersion);
    const { job } = await ensureJob(
      db.prisma,
      seriesRef,
      ref.seriesInstanceUid,
      modelVersion,
      queueJobId(jobKey),
    );
    let calls = 0;
    const stallsOnce: LaNetwork = async (input) => {
      // The first attempt's first batch outlives the lease.
      if (calls++ === 0) await new Promise((r) => setTimeout(r, 17_000));
      return discLaNetwork(input);
    };
    const outcomes: { retryCount: number; outcome: JobOutcome }[] = [];
    const deps = {
      prisma: db.prisma,
      pacs,
      networks: fakeNetworks(stallsOnce),
      modelVersion,
      log: createLogger('silent'),
    };
    await boss.work<SegmentJobData>(
      SEGMENT_QUEUE,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 1 },
      async ([queued]) => {
        if (!queued) return;
        const outcome = await runSegmentJob(queued, deps);
        outcomes.push({ retryCount: queued.retryCount, outcome });
      },
    );
    await sendSegmentJob(boss, { jobKey, ...ref, modelVersion });

    const queueEntry = async () => {
      const [entry] = await db.prisma.$queryRaw<{ state: string; retry_count: number }[]>`
        SELECT state::text AS state, retry_count FROM pgboss.job WHERE name = ${SEGMENT_QUEUE}`;
      return entry;
    };
    const jobRow = () =>
      db.prisma.job.findUniqueOrThrow({
        where: { id: job.id },
        select: { state: true, attempts: true, error: true },
      });

    // The first attempt ends after pg-boss gave it up: it records nothing but what the queue did.
    const late = await waitFor('the first attempt to end', async () =>
      outcomes.find((o) => o.retryCount === 0),
    );
    expect(late).toEqual({ retryCount: 0, outcome: 'abandoned' });
    const [afterLate, entryAfterLate] = [await jobRow(), await queueEntry()];
    expect(entryAfterLate?.state).not.toBe('completed');
    expect(afterLate.state).not.toBe('completed');
    if (entryAfterLate?.state === 'retry') {
      expect(afterLate).toMatchObject({
        state: 'retrying',
        error: 'the attempt ran past the job time limit (15 s, LASCAR_JOB_TIMEOUT_SECONDS)',
      });
    }

    // The retry completes the Job row and the queue entry together.
    const done = await waitFor('the job to complete', async () => {
      const row = await jobRow();
      return row.state === 'completed' ? row : undefined;
    });
    expect(await queueEntry()).toEqual({ state: 'completed', retry_count: 1 });
    expect(done).toEqual({ state: 'completed', attempts: 2, error: null });
    expect(outcomes).toEqual([
      { retryCount: 0, outcome: 'abandoned' },
      { retryCount: 1, outcome: 'completed' },
    ]);
    expect(await db.prisma.measurement.count({ where: { jobRef: job.id } })).toBe(1);

    // A manual retry numbers its attempts after these two, so their stage timings are kept.
    const stages = () =>
      db.prisma.jobStage.findMany({
        where: { jobRef: job.id },
        orderBy: [{ attempt: 'asc' }, { stage: 'asc' }],
        select: { attempt: true, stage: true, startedAt: true, durationMs: true },
      });
    const before = await stages();
    expect(before.length).toBeGreaterThan(0);
    expect(await retryJob(db.prisma, boss, job.id)).toBe('queued');
    const again = await waitFor('the retried job to complete', async () => {
      const row = await jobRow();
      return row.state === 'completed' && row.attempts === 3 ? row : undefined;
    });
    expect(again).toEqual({ state: 'completed', attempts: 3, error: null });
    const after = await stages();
    expect(after.filter((st) => st.attempt < 3)).toEqual(before);
    expect(after.filter((st) => st.attempt === 3).map((st) => st.stage)).toEqual(
      before.filter((st) => st.attempt === 2).map((st) => st.stage),
    );
  }, 240_000);
});

describe('reconcileJobs', () => {
  it("keeps the failure an attempt recorded while reconcile was looking, not the lease's guess", async () => {
    const { ref } = phantomPacs(32);
    const seriesRef = await recordSeries(db.prisma, { ...ref, modality: 'MR' });
    const jobKey = jobKeyOf(ref.seriesInstanceUid, 'reconcile-test');
    const { job } = await ensureJob(
      db.prisma,
      seriesRef,
      ref.seriesInstanceUid,
      'reconcile-test',
      queueJobId(jobKey),
    );
    await db.prisma.job.update({ where: { id: job.id }, data: { state: 'active' } });
    const clear =
      'load: unusable DICOM series (IRREGULAR_SPACING): slice positions are not evenly spaced';
    // reconcile has read the row as active; the attempt now fails for good (row and queue entry
    // together), and only then does reconcile ask the queue.
    const racing = {
      getJobById: async () => {
        await db.prisma.job.update({
          where: { id: job.id },
          data: { state: 'failed', error: clear, finishedAt: new Date() },
        });
        return { state: 'failed' };
      },
    } as unknown as PgBoss;
    await reconcileJobs(db.prisma, racing, createLogger('silent'));
    const row = await db.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state: 'failed', error: clear });

    // A row still open when the queue gave up (the worker died in its last attempt) is failed.
    await db.prisma.job.update({
      where: { id: job.id },
      data: { state: 'active', error: null, finishedAt: null },
    });
    const gaveUp = { getJobById: async () => ({ state: 'failed' }) } as unknown as PgBoss;
    await reconcileJobs(db.prisma, gaveUp, createLogger('silent'));
    expect(await db.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      state: 'failed',
      error: 'the worker stopped during the last attempt (lease expired, no retries left)',
    });
  });
});
