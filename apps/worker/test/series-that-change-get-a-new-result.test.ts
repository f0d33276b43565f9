// A series that changes after it was first processed gets a new result that supersedes the old,
// and the PACS and the database keep naming the same objects: a real Orthanc, PostgreSQL and
// worker. Discovery here is only what the test announces (webhook dropped, change feed off), so
// the missing slice is found by the worker's own recheck after its quiet period.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import type { RunningWorker } from '../src/worker.js';
import { type Stack, startStack, waitFor } from './worker-fixture.js';

/** Per job on a loaded 2-core machine (16 slices at half scale: 25..70 s measured there). */
const JOB_MS = 240_000;
/** Two jobs and the waits between them. */
const TEST_MS = 2 * JOB_MS + 60_000;

let stack: Stack;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  worker = await stack.startWorker({
    LASCAR_CHANGES_POLL_SECONDS: '0',
    LASCAR_RECHECK_SECONDS: '3',
    LASCAR_JOB_TIMEOUT_SECONDS: '300',
  });
}, 180_000);

afterAll(async () => {
  await stack?.dispose();
});

interface JobView {
  id: string;
  state: string;
  error: string | null;
  startedAt: Date | null;
  supersededById: string | null;
  instanceCount: number | null;
  segSeriesInstanceUid: string | null;
  segSopInstanceUid: string | null;
  srSopInstanceUid: string | null;
}

const jobsOf = (series: string) =>
  stack.query<JobView>(
    `SELECT j.id, j.state::text AS state, j.error, j."startedAt", j."supersededById",
            j."instanceCount", j."segSeriesInstanceUid", j."segSopInstanceUid", j."srSopInstanceUid"
       FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef"
      WHERE s."seriesInstanceUid" = $1 ORDER BY j."createdAt"`,
    [series],
  );

const objectsOf = (jobId: string) =>
  stack.query<{ kind: string; sopInstanceUid: string; state: string }>(
    `SELECT kind, "sopInstanceUid", state::text AS state FROM "StoredObject"
      WHERE "jobRef" = $1 ORDER BY kind`,
    [jobId],
  );

/** Results the clinical views show (a superseded job's result is left out). */
const currentResults = (series: string) =>
  stack.query<{ jobRef: string }>(
    `SELECT m."jobRef" FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef"
       JOIN "Series" s ON s.id = j."seriesRef"
      WHERE s."seriesInstanceUid" = $1 AND j.state <> 'superseded'`,
    [series],
  );

const announce = (lge: PhantomSeries) =>
  worker.intake({
    series: { studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: lge.seriesInstanceUid },
    source: 'manual',
    seenAt: new Date(),
  });

const segsIn = async (study: string) =>
  (await stack.pacs.searchSeries({ StudyInstanceUID: study, Modality: 'SEG' })).map(
    (s) => s.seriesInstanceUid,
  );
const srsIn = async (study: string) =>
  (await stack.pacs.searchSeries({ StudyInstanceUID: study, Modality: 'SR' })).map(
    (s) => s.seriesInstanceUid,
  );

/** Waits until the series has a job in `state` other than those in `skip`. */
const jobIn = (series: string, state: string, skip: readonly string[] = [], ms = JOB_MS) =>
  waitFor(
    `a job of the series to be ${state}`,
    async () => (await jobsOf(series)).find((j) => j.state === state && !skip.includes(j.id)),
    ms,
  );

describe('a series missing a middle slice', () => {
  let lge: PhantomSeries;

  it(
    'fails with the gap error, and is processed once the slice arrives (found by the recheck)',
    async () => {
      lge = phantomSeries(1101, { scale: 0.5, slices: 16 });
      const n = lge.instances.length;
      const middle = Math.floor(n / 2);
      await stack.store(lge.instances.filter((_, i) => i !== middle));
      await announce(lge);
      const failed = await jobIn(lge.seriesInstanceUid, 'failed');
      expect(failed.error).toMatch(/IRREGULAR_SPACING/);
      expect(failed.instanceCount).toBe(n - 1);
      expect(await segsIn(lge.studyInstanceUid)).toEqual([]);

      // The missing slice arrives; nobody announces it: the recheck finds the new instance set.
      await stack.store([lge.instances[middle]!]);
      const done = await jobIn(lge.seriesInstanceUid, 'completed');
      expect(done.instanceCount).toBe(n);
      const jobs = await jobsOf(lge.seriesInstanceUid);
      expect(jobs.map((j) => [j.id, j.state])).toEqual([
        [failed.id, 'superseded'],
        [done.id, 'completed'],
      ]);
      expect(jobs[0]!.supersededById).toBe(done.id);
      const sources = await stack.query<{ source: string }>(
        `SELECT d.source FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
        WHERE s."seriesInstanceUid" = $1 ORDER BY d."decidedAt"`,
        [lge.seriesInstanceUid],
      );
      expect(sources.map((s) => s.source)).toEqual(['manual', 'recheck']);

      // Exactly one SEG and one SR in the PACS, the ones the one current result names.
      expect(await segsIn(lge.studyInstanceUid)).toEqual([done.segSeriesInstanceUid]);
      expect(await srsIn(lge.studyInstanceUid)).toHaveLength(1);
      expect(await currentResults(lge.seriesInstanceUid)).toEqual([{ jobRef: done.id }]);
      expect(await objectsOf(done.id)).toEqual([
        { kind: 'SEG', sopInstanceUid: done.segSopInstanceUid, state: 'current' },
        { kind: 'SR', sopInstanceUid: done.srSopInstanceUid, state: 'current' },
      ]);
    },
    TEST_MS,
  );

  it(
    'a re-run of the unchanged series stores no second SEG and changes no UID',
    async () => {
      const [before] = (await jobsOf(lge.seriesInstanceUid)).filter((j) => j.state === 'completed');
      // A re-delivered job: the row back to queued and its queue entry gone; the worker's
      // reconciliation sends it again, and it runs from the start.
      await stack.query(`UPDATE "Job" SET state = 'queued' WHERE id = $1`, [before!.id]);
      await stack.query(
        `DELETE FROM pgboss.job WHERE id = (SELECT "queueJobId" FROM "Job" WHERE id = $1)`,
        [before!.id],
      );
      const after = await waitFor(
        'the job to run again and complete',
        async () =>
          (await jobsOf(lge.seriesInstanceUid)).find(
            (j) =>
              j.id === before!.id &&
              j.state === 'completed' &&
              j.startedAt!.getTime() > before!.startedAt!.getTime(),
          ),
        JOB_MS,
      );
      expect(after.segSopInstanceUid).toBe(before!.segSopInstanceUid);
      expect(after.srSopInstanceUid).toBe(before!.srSopInstanceUid);
      expect(await segsIn(lge.studyInstanceUid)).toEqual([before!.segSeriesInstanceUid]);
      expect(await srsIn(lge.studyInstanceUid)).toHaveLength(1);
      expect(await objectsOf(before!.id)).toEqual([
        { kind: 'SEG', sopInstanceUid: before!.segSopInstanceUid, state: 'current' },
        { kind: 'SR', sopInstanceUid: before!.srSopInstanceUid, state: 'current' },
      ]);
      expect(await currentResults(lge.seriesInstanceUid)).toEqual([{ jobRef: before!.id }]);
    },
    TEST_MS,
  );
});

describe('a series that gets a late slice after its result', () => {
  it(
    'gets a new result; the old SEG and SR are deleted from Orthanc after the new ones are stored',
    async () => {
      const lge = phantomSeries(1102, { scale: 0.5, slices: 16 });
      const n = lge.instances.length;
      await stack.store(lge.instances.slice(0, n - 1));
      await announce(lge);
      const first = await jobIn(lge.seriesInstanceUid, 'completed');
      expect(first.instanceCount).toBe(n - 1);
      expect(await segsIn(lge.studyInstanceUid)).toEqual([first.segSeriesInstanceUid]);

      // The last slice arrives late and the series is announced again.
      await stack.store([lge.instances[n - 1]!]);
      const again = await announce(lge);
      expect(again.jobCreated).toBe(true);
      const second = await jobIn(lge.seriesInstanceUid, 'completed', [first.id]);
      expect(second.instanceCount).toBe(n);
      expect(second.segSopInstanceUid).not.toBe(first.segSopInstanceUid);
      const old = (await jobsOf(lge.seriesInstanceUid)).find((j) => j.id === first.id)!;
      expect(old.state).toBe('superseded');
      expect(old.supersededById).toBe(second.id);

      const deleted = await waitFor(
        "the old job's SEG and SR to be deleted",
        async () => {
          const rows = await objectsOf(first.id);
          return rows.every((r) => r.state === 'deleted') ? rows : undefined;
        },
        60_000,
      );
      expect(deleted.map((r) => r.kind)).toEqual(['SEG', 'SR']);
      expect(await segsIn(lge.studyInstanceUid)).toEqual([second.segSeriesInstanceUid]);
      expect(await srsIn(lge.studyInstanceUid)).toHaveLength(1);
      expect(await currentResults(lge.seriesInstanceUid)).toEqual([{ jobRef: second.id }]);
      expect((await objectsOf(second.id)).map((r) => r.state)).toEqual(['current', 'current']);
    },
    TEST_MS,
  );
});
