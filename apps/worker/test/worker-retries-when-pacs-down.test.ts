// Orthanc stops in the middle of a job (after the series was retrieved, while the networks run):
// storing the SEG fails with "PACS unreachable", the job is retried with backoff (state retrying,
// the error recorded per attempt and stage), /readyz says the PACS is down, and once Orthanc is
// back the job completes: one SEG, one result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectOneSegAndOneResult,
  expectResultLikeTruth,
  jobOf,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let consumer: RunningWorker;
let lge: PhantomSeries;

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  // Scale 0.5, 44 slices: the networks run for seconds, time enough to stop Orthanc under them.
  lge = phantomSeries(505, { scale: 0.5, slices: 88 });
  await stack.store(lge.instances);
  consumer = await stack.startWorker(
    { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_PACS_TIMEOUT_SECONDS: '2' },
    { discover: false },
  );
  const result = await consumer.intake({
    series: { studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: lge.seriesInstanceUid },
    source: 'manual',
    seenAt: new Date(),
  });
  expect(result.selected).toBe(true);
  await waitFor('the job to be past retrieve and load', async () => {
    const rows = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "JobStage" st JOIN "Job" j ON j.id = st."jobRef"
        WHERE st.stage = 'load' AND st.error IS NULL AND j.state = 'active'`,
    );
    return rows[0]!.n > 0 ? true : undefined;
  });
  await stack.orthanc.stop();
});

afterAll(async () => {
  await stack?.dispose();
});

describe('a job whose PACS goes down mid-job', () => {
  it('is retried with the error recorded, and /readyz reports the PACS', async () => {
    const job = await waitFor('two failed attempts', async () => {
      const j = await jobOf(stack, lge.seriesInstanceUid);
      return j && j.state === 'retrying' && j.attempts >= 2 ? j : undefined;
    });
    expect(job.error).toMatch(/^retrieve: PACS unreachable/);
    const stages = await stack.query<{ attempt: number; stage: string; error: string | null }>(
      `SELECT attempt, stage::text AS stage, error FROM "JobStage"
        WHERE "jobRef" = $1 AND error IS NOT NULL ORDER BY attempt`,
      [job.id],
    );
    // Attempt 1 stopped at store (Orthanc went away under it); later ones at retrieve.
    expect(stages[0]).toMatchObject({ attempt: 1, stage: 'store' });
    expect(stages[0]!.error).toMatch(/^store: PACS unreachable/);
    expect(stages[1]).toMatchObject({ attempt: 2, stage: 'retrieve' });
    expect(stages[1]!.error).toMatch(/^retrieve: PACS unreachable/);
    const ready = await fetch(`${consumer.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { database: string; pacs: string };
    expect(body.database).toBe('ok');
    expect(body.pacs).not.toBe('ok');
  });

  it('completes once the PACS is back: one SEG and one result', async () => {
    await stack.orthanc.restart();
    const job = await completedJob(stack, lge.seriesInstanceUid);
    expect(job.attempts).toBeGreaterThanOrEqual(3);
    expect(job.error).toBeNull();
    await expectOneSegAndOneResult(stack, lge.studyInstanceUid, job.id);
    await expectResultLikeTruth(stack, lge);
    expect((await fetch(`${consumer.url}/readyz`)).status).toBe(200);
  });
});
