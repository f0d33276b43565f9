// Several workers on one PostgreSQL share the queue: with two workers (two jobs at a time each)
// and three new studies, every series is processed exactly once (one attempt, one SEG, one result).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import { expectResultLikeTruth, jobOf, startStack, waitFor, type Stack } from './worker-fixture.js';

let stack: Stack;
let studies: PhantomSeries[];

beforeAll(async () => {
  stack = await startStack({ webhook: 'live' });
  // The first worker takes the webhook port; the second only consumes and follows the feed.
  await stack.startWorker({ LASCAR_CONCURRENCY: '2', LASCAR_CHANGES_POLL_SECONDS: '1' });
  await stack.startWorker({
    LASCAR_CONCURRENCY: '2',
    LASCAR_CHANGES_POLL_SECONDS: '1',
    LASCAR_HTTP_PORT: '0',
  });
  // Scale 0.5 and seeds whose pixels are fine enough (<= 1.3 mm) for the shipped networks to find
  // the LA, so each result is checked against its phantom's truth.
  studies = [901, 303, 404].map((seed) => phantomSeries(seed, { scale: 0.5 }));
  for (const s of studies) await stack.store(s.instances);
});

afterAll(async () => {
  await stack?.dispose();
});

describe('two workers on one database', () => {
  it('process every series exactly once', async () => {
    for (const s of studies) {
      const job = await waitFor(
        `the job of ${s.seriesInstanceUid}`,
        async () => {
          const j = await jobOf(stack, s.seriesInstanceUid);
          if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
          return j?.state === 'completed' ? j : undefined;
        },
        180_000,
      );
      expect(job.attempts).toBe(1);
      const segs = await stack.pacs.searchSeries({
        StudyInstanceUID: s.studyInstanceUid,
        Modality: 'SEG',
      });
      expect(segs).toHaveLength(1);
      await expectResultLikeTruth(stack, s);
    }
    const [counts] = await stack.query<{ jobs: number; results: number; queued: number }>(
      `SELECT (SELECT count(*)::int FROM "Job") AS jobs, (SELECT count(*)::int FROM "Measurement") AS results,
              (SELECT count(*)::int FROM pgboss.job WHERE name = 'segment-series') AS queued`,
    );
    expect(counts).toEqual({ jobs: 3, results: 3, queued: 3 });
  });
});
