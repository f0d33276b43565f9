// The same series announced twice (Orthanc re-posting, two workers' webhooks, an operator):
// both posts are accepted, both decisions are recorded, and there is exactly one job, one SEG and
// one result. A post without the shared secret is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SECRET_HEADER } from '../src/pacs/discovery.js';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectResultLikeTruth,
  jobOf,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let worker: RunningWorker;
let lge: PhantomSeries;

beforeAll(async () => {
  // The Lua script posts to a dead port and the change feed is off: only our posts count.
  stack = await startStack({ webhook: 'dropped' });
  worker = await stack.startWorker({ LASCAR_CHANGES_POLL_SECONDS: '0' });
  // Scale 0.5: a study on which the shipped networks find the LA (checked against the truth).
  lge = phantomSeries(303, { scale: 0.5 });
  await stack.store(lge.instances);
});

afterAll(async () => {
  await stack?.dispose();
});

const post = (secret: string, body: unknown) =>
  fetch(`${worker.url}/webhook/orthanc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [WEBHOOK_SECRET_HEADER]: secret },
    body: JSON.stringify(body),
  });

describe('POST /webhook/orthanc', () => {
  it('refuses a post without the shared secret', async () => {
    const res = await post('not-the-secret-at-all', {
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
    });
    expect(res.status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect(await jobOf(stack, lge.seriesInstanceUid)).toBeUndefined();
  });

  it('makes one job, one SEG and one result from the same post sent twice', async () => {
    const body = {
      seriesId: 'ignored-orthanc-id',
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
      modality: 'MR',
      numberOfInstances: lge.instances.length,
    };
    const answers = await Promise.all([post(stack.secret, body), post(stack.secret, body)]);
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    const job = await completedJob(stack, lge.seriesInstanceUid);
    expect(job.attempts).toBe(1);
    const decisions = await stack.query<{ source: string; selected: boolean }>(
      `SELECT d.source, d.selected FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
        WHERE s."seriesInstanceUid" = $1`,
      [lge.seriesInstanceUid],
    );
    expect(decisions).toEqual([
      { source: 'webhook', selected: true },
      { source: 'webhook', selected: true },
    ]);
    const queued = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'segment-series'`,
    );
    expect(queued[0]!.n).toBe(1);
    const results = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "Measurement" WHERE "jobRef" = $1`,
      [job.id],
    );
    expect(results[0]!.n).toBe(1);
    await expectResultLikeTruth(stack, lge);
    const segs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
  });

  it('does not queue the series again when it is announced after completion', async () => {
    const res = await post(stack.secret, {
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
    });
    expect(res.status).toBe(202);
    await waitFor('the third decision', async () => {
      const rows = await stack.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
          WHERE s."seriesInstanceUid" = $1`,
        [lge.seriesInstanceUid],
      );
      return rows[0]!.n === 3 ? true : undefined;
    });
    const job = await jobOf(stack, lge.seriesInstanceUid);
    expect(job?.state).toBe('completed');
    expect(job?.attempts).toBe(1);
    const queued = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'segment-series' AND state <> 'completed'`,
    );
    expect(queued[0]!.n).toBe(0);
  });
});
