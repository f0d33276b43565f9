// A job is for one instance set: one whose series changed under it stops as superseded (no
// result, nothing stored, not retried) and asks for a recheck; a job that completes supersedes the
// older jobs of its series and retires their objects, without deleting from the PACS an object
// the current result still names. Real PostgreSQL and pg-boss; fakes for the PACS and networks.
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import { ensureJob, instanceFingerprint, jobKeyOf, recordSeries } from '@lascar/db';
import type { OrthancRest } from '@lascar/pacs';
import { waitFor } from '@lascar/testkit';
import type PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discLaNetwork, fakeNetworks, phantomPacs } from './fakes.test-helper.js';
import { runSegmentJob, type JobOutcome } from './jobs.js';
import { createLogger } from './log.js';
import {
  queueJobId,
  SEGMENT_QUEUE,
  sendSegmentJob,
  startQueue,
  type SegmentJobData,
} from './queue.js';
import { deleteRetiredObjects } from './series-changes.js';

let db: TestDatabase;
let boss: PgBoss;
const log = createLogger('silent');

beforeAll(async () => {
  db = await createTestDatabase();
  boss = await startQueue(
    db.url,
    { retryLimit: 2, retryDelaySeconds: 1, jobTimeoutSeconds: 120, maintenanceSeconds: 1 },
    4,
    // A cut connection after the test (the database is dropped) is reported, not thrown.
    (error) => console.warn(`queue error: ${error.message}`),
  );
});

afterAll(async () => {
  await boss?.stop({ graceful: false, wait: true, timeout: 5_000 });
  await db?.drop();
});

describe('jobs of a series that changes', () => {
  it('stops a job whose series changed; the newer job supersedes; nothing current is deleted', async () => {
    const phantom = phantomPacs(41);
    const { pacs, ref } = phantom;
    const modelVersion = 'la-test.scar-test';
    const seriesRef = await recordSeries(db.prisma, { ...ref, modality: 'MR' });
    const uids = await pacs.listInstanceUids(ref);
    const rechecks: unknown[] = [];
    const outcomes = new Map<string, JobOutcome>();
    const deps = {
      prisma: db.prisma,
      pacs,
      networks: fakeNetworks(discLaNetwork),
      modelVersion,
      log,
      recheck: async (s: unknown) => void rechecks.push(s),
    };
    await boss.work<SegmentJobData>(
      SEGMENT_QUEUE,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 1 },
      async ([queued]) => {
        if (queued) outcomes.set(queued.data.jobKey, await runSegmentJob(queued, deps));
      },
    );
    const make = async (set?: string[]) => {
      const instances = set && { fingerprint: instanceFingerprint(set), count: set.length };
      const jobKey = jobKeyOf(ref.seriesInstanceUid, modelVersion, instances?.fingerprint);
      const { job } = await ensureJob(
        db.prisma,
        seriesRef,
        ref.seriesInstanceUid,
        modelVersion,
        queueJobId(jobKey),
        instances,
      );
      await sendSegmentJob(boss, { jobKey, ...ref, modelVersion });
      return waitFor(
        `job ${jobKey} to end`,
        async () => {
          const outcome = outcomes.get(jobKey);
          return outcome && { job, outcome };
        },
        90_000,
      );
    };
    const row = (id: string) => db.prisma.job.findUniqueOrThrow({ where: { id } });
    const objects = (jobRef: string) =>
      db.prisma.storedObject.findMany({
        where: { jobRef },
        orderBy: { kind: 'asc' },
        select: { kind: true, sopInstanceUid: true, state: true },
      });

    // Made when the last instance had not arrived: the PACS now holds one more.
    const early = await make(uids.slice(0, -1));
    expect(early.outcome).toBe('superseded');
    const earlyRow = await row(early.job.id);
    expect(earlyRow.state).toBe('superseded');
    expect(earlyRow.error).toMatch(
      new RegExp(`series changed .*${uids.length} instances, expected ${uids.length - 1}`),
    );
    expect(rechecks).toEqual([{ ...ref, fingerprint: instanceFingerprint(uids.slice(0, -1)) }]);
    expect(phantom.stored).toBe(0);
    expect(await db.prisma.measurement.count({ where: { jobRef: early.job.id } })).toBe(0);
    const [entry] = await db.prisma.$queryRaw<{ state: string }[]>`
      SELECT state::text AS state FROM pgboss.job WHERE id = ${queueJobId(early.job.jobKey)}::uuid`;
    expect(entry?.state).toBe('completed');

    // The job for the whole set completes; its SEG and SR are registered and current.
    const whole = await make(uids);
    expect(whole.outcome).toBe('completed');
    const wholeRow = await row(whole.job.id);
    expect(phantom.stored).toBe(2);
    expect(await objects(whole.job.id)).toEqual([
      { kind: 'SEG', sopInstanceUid: wholeRow.segSopInstanceUid, state: 'current' },
      { kind: 'SR', sopInstanceUid: wholeRow.srSopInstanceUid, state: 'current' },
    ]);

    // A later "process anyway" job (no fingerprint) of the same instances: same content, same
    // UIDs. It supersedes the earlier result; the objects both name stay in the PACS.
    const anyway = await make();
    expect(anyway.outcome).toBe('completed');
    expect(phantom.stored).toBe(4); // the fake PACS lists no series, so it was sent again
    expect((await row(whole.job.id)).state).toBe('superseded');
    expect((await row(whole.job.id)).supersededById).toBe(anyway.job.id);
    expect((await objects(whole.job.id)).map((o) => o.state)).toEqual(['retired', 'retired']);
    expect((await objects(anyway.job.id)).map((o) => o.sopInstanceUid)).toEqual([
      wholeRow.segSopInstanceUid,
      wholeRow.srSopInstanceUid,
    ]);
    const orthancCalls: string[] = [];
    const orthanc = {
      request: async (method: string, path: string) => {
        orthancCalls.push(`${method} ${path}`);
        return [];
      },
    } as unknown as OrthancRest;
    expect(await deleteRetiredObjects(db.prisma, orthanc, log)).toBe(2);
    expect(orthancCalls).toEqual([]);
    expect((await objects(whole.job.id)).map((o) => o.state)).toEqual(['deleted', 'deleted']);
    expect((await objects(anyway.job.id)).map((o) => o.state)).toEqual(['current', 'current']);
  }, 180_000);
});
