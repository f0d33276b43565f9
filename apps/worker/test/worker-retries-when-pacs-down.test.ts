// The PACS goes away while a job waits: each attempt fails at retrieve with "PACS unreachable",
// the job is retried with backoff (state retrying, the error recorded per attempt), /readyz says
// the PACS is down, and once Orthanc is back the job completes: one SEG, one result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from './orthanc-harness.js';
import { jobOf, startStack, waitFor, type Stack } from './worker-fixture.js';

let stack: Stack;
let consumer: RunningWorker;
let lge: PhantomSeries;

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  lge = phantomSeries(505, { scale: 0.25 });
  await stack.store(lge.instances);
  // An intake-only worker queues the series while Orthanc is up...
  const intake = await stack.startWorker(
    { LASCAR_CHANGES_POLL_SECONDS: '0' },
    { consume: false, discover: false },
  );
  const result = await intake.intake({
    series: { studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: lge.seriesInstanceUid },
    source: 'manual',
    seenAt: new Date(),
  });
  expect(result.selected).toBe(true);
  await intake.stop();
  // ...then Orthanc stops before any worker takes the job.
  await stack.orthanc.stop();
  consumer = await stack.startWorker(
    { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_PACS_TIMEOUT_SECONDS: '2', LASCAR_HTTP_PORT: '0' },
    { discover: false },
  );
});

afterAll(async () => {
  await stack?.dispose();
});

describe('a job whose PACS is down', () => {
  it('is retried with the error recorded, and /readyz reports the PACS', async () => {
    const job = await waitFor('two failed attempts', async () => {
      const j = await jobOf(stack, lge.seriesInstanceUid);
      return j && j.state === 'retrying' && j.attempts >= 2 ? j : undefined;
    });
    expect(job.error).toMatch(/^retrieve: PACS unreachable/);
    const stages = await stack.query<{ attempt: number; stage: string; error: string | null }>(
      `SELECT attempt, stage::text AS stage, error FROM "JobStage" WHERE "jobRef" = $1 ORDER BY attempt`,
      [job.id],
    );
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      expect(s.stage).toBe('retrieve');
      expect(s.error).toMatch(/PACS unreachable/);
    }
    const ready = await fetch(`${consumer.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { database: string; pacs: string };
    expect(body.database).toBe('ok');
    expect(body.pacs).not.toBe('ok');
  });

  it('completes once the PACS is back: one SEG and one result', async () => {
    await stack.orthanc.restart();
    const job = await waitFor(
      'the job to complete',
      async () => {
        const j = await jobOf(stack, lge.seriesInstanceUid);
        if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
        return j?.state === 'completed' ? j : undefined;
      },
      120_000,
    );
    expect(job.attempts).toBeGreaterThanOrEqual(3);
    expect(job.error).toBeNull();
    const segs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
    const results = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "Measurement" WHERE "jobRef" = $1`,
      [job.id],
    );
    expect(results[0]!.n).toBe(1);
    expect((await fetch(`${consumer.url}/readyz`)).status).toBe(200);
  });
});
