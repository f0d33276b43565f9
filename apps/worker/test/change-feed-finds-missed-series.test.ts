// Orthanc never retries a webhook post that failed. With the webhook going nowhere, the worker
// still finds the new series through Orthanc's change feed, processes it once, and keeps its
// cursor in the database so that a restarted worker does not look at old changes again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectResultLikeTruth,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let lge: PhantomSeries;

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  await stack.startWorker({ LASCAR_CHANGES_POLL_SECONDS: '1' });
  // Scale 0.5: a study on which the shipped networks find the LA (checked against the truth).
  lge = phantomSeries(404, { scale: 0.5 });
  await stack.store(lge.instances);
});

afterAll(async () => {
  await stack?.dispose();
});

const decisions = (uid: string) =>
  stack.query<{ source: string; selected: boolean }>(
    `SELECT d.source, d.selected FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
      WHERE s."seriesInstanceUid" = $1`,
    [uid],
  );

describe('the Orthanc change feed', () => {
  it('finds a series whose webhook post was lost, and it is processed once', async () => {
    const job = await completedJob(stack, lge.seriesInstanceUid);
    expect(job.attempts).toBe(1);
    expect(await decisions(lge.seriesInstanceUid)).toEqual([
      { source: 'orthanc-changes', selected: true },
    ]);
    await expectResultLikeTruth(stack, lge);
    const segs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
  });

  it('keeps its cursor in the database: a restarted worker does not revisit old changes', async () => {
    const [cursor] = await stack.query<{ value: string }>(
      `SELECT value FROM "DiscoveryCursor" WHERE name = 'orthanc-changes'`,
    );
    expect(Number(cursor?.value)).toBeGreaterThan(0);
    // A second worker process reads the cursor from the database; give it a few polls.
    const before = await decisions(lge.seriesInstanceUid);
    const second = await stack.startWorker({
      LASCAR_CHANGES_POLL_SECONDS: '1',
      LASCAR_HTTP_PORT: '0',
    });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await decisions(lge.seriesInstanceUid)).toEqual(before);
    // Our own SEG arrived through the feed too, and was never selected.
    const seg = (
      await stack.pacs.searchSeries({ StudyInstanceUID: lge.studyInstanceUid, Modality: 'SEG' })
    )[0]!;
    // At least one decision (an empty list would pass any check on its members), none selected.
    const segDecisions = await waitFor('the SEG to be seen through the feed', async () => {
      const rows = await stack.query<{ selected: boolean; reason: string }>(
        `SELECT d.selected, d.reason FROM "SelectionDecision" d
           JOIN "Series" s ON s.id = d."seriesRef" WHERE s."seriesInstanceUid" = $1`,
        [seg.seriesInstanceUid],
      );
      return rows.length > 0 ? rows : undefined;
    });
    for (const d of segDecisions) {
      expect(d.selected).toBe(false);
      expect(d.reason).toMatch(/^skipped: made by this product/);
    }
    await second.stop();
  });
});
