// A worker configured with the wrong PACS password, against a real Orthanc that answers 401: the
// job is not failed and not hammered (the worker stops taking jobs, the job stays in the queue),
// /readyz names a configuration problem rather than an outage, and a worker with the right
// password then completes the job: one SEG, one result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectOneSegAndOneResult,
  jobOf,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let refused: RunningWorker;
let lge: PhantomSeries;

const REFUSED = 'retrieve: configuration: PACS refused the credentials (HTTP 401)';

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  lge = phantomSeries(808, { scale: 0.5 });
  await stack.store(lge.instances);
  // The series is queued by a process with the right credentials that takes no jobs itself.
  const intakeOnly = await stack.startWorker(
    { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_HTTP_PORT: '0' },
    { consume: false, discover: false },
  );
  const result = await intakeOnly.intake({
    series: { studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: lge.seriesInstanceUid },
    source: 'manual',
    seenAt: new Date(),
  });
  expect(result.selected).toBe(true);
  await intakeOnly.stop();
  refused = await stack.startWorker(
    { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_HTTP_PORT: '0', LASCAR_PACS_PASSWORD: 'wrong' },
    { discover: false },
  );
});

afterAll(async () => {
  await stack?.dispose();
});

describe('a PACS that refuses the worker credentials', () => {
  it('is a configuration problem on /readyz, and the job is neither failed nor hammered', async () => {
    const job = await waitFor('the first attempt to be refused', async () => {
      const j = await jobOf(stack, lge.seriesInstanceUid);
      if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
      return j?.state === 'retrying' ? j : undefined;
    });
    expect(job.error).toBe(REFUSED);
    const ready = await fetch(`${refused.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'not ready',
      database: 'ok',
      pacs: 'configuration: PACS refused the credentials (HTTP 401)',
    });
    // Retries come after 1 s (LASCAR_RETRY_DELAY_SECONDS), doubling: a worker still taking jobs
    // would have tried three more times in 8 s. This one took none: the job waits in the queue.
    await new Promise((r) => setTimeout(r, 8_000));
    const later = await jobOf(stack, lge.seriesInstanceUid);
    expect(later).toMatchObject({ state: 'retrying', attempts: 1, error: REFUSED });
    const [queued] = await stack.query<{ state: string; retry_count: number }>(
      `SELECT state::text AS state, retry_count FROM pgboss.job WHERE name = 'segment-series'`,
    );
    expect(queued).toEqual({ state: 'retry', retry_count: 0 });
    const attempts = await stack.query<{ stage: string; error: string }>(
      `SELECT stage::text AS stage, error FROM "JobStage" WHERE "jobRef" = $1`,
      [job.id],
    );
    expect(attempts).toEqual([{ stage: 'retrieve', error: REFUSED }]);
  });

  it('completes the job once a worker has the right credentials', async () => {
    await refused.stop();
    await stack.startWorker(
      { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_HTTP_PORT: '0' },
      { discover: false },
    );
    const job = await completedJob(stack, lge.seriesInstanceUid);
    expect(job.attempts).toBe(2);
    expect(job.error).toBeNull();
    await expectOneSegAndOneResult(stack, lge.studyInstanceUid, job.id);
  });
});
