// A series that changes gets a job per instance set (its fingerprint), the newer result
// supersedes the older, and the StoredObject registry moves only forward. On a real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordReview, studyDetail, ClinicalError } from './clinical.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { jobDetail, listJobs } from './operations.js';
import {
  canMoveStoredObject,
  ensureJob,
  instanceFingerprint,
  jobKeyOf,
  KEPT_FOR_SIGN_OFF,
  markJob,
  moveStoredObjects,
  newerCompletedJob,
  recordSeries,
  registerStoredObjects,
  retiredStoredObjects,
  saveResult,
  STORED_OBJECT_TRANSITIONS,
  supersedeOlderJobs,
  type StoredObjectState,
} from './records.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

describe('instanceFingerprint', () => {
  it('ignores the order and repeats of the listing', () => {
    const a = instanceFingerprint(['1.2.3.1', '1.2.3.2', '1.2.3.10']);
    expect(instanceFingerprint(['1.2.3.10', '1.2.3.1', '1.2.3.2'])).toBe(a);
    expect(instanceFingerprint(['1.2.3.2', '1.2.3.1', '1.2.3.10', '1.2.3.1'])).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
  });

  it('changes when an instance arrives or goes', () => {
    const three = instanceFingerprint(['1.2.3.1', '1.2.3.2', '1.2.3.3']);
    expect(instanceFingerprint(['1.2.3.1', '1.2.3.3'])).not.toBe(three);
    expect(instanceFingerprint(['1.2.3.1', '1.2.3.2', '1.2.3.3', '1.2.3.4'])).not.toBe(three);
    // Not a plain concatenation: the separator keeps "1.2" + "3.4" apart from "1.23" + ".4".
    expect(instanceFingerprint(['1.2', '3.4'])).not.toBe(instanceFingerprint(['1.23', '.4']));
  });

  it('keys the job by series, model version and instance set', () => {
    expect(jobKeyOf('1.2.3', 'm1', 'abc')).toBe('1.2.3@m1@abc');
    expect(jobKeyOf('1.2.3', 'm1')).toBe('1.2.3@m1');
  });
});

describe('the stored-object registry transitions', () => {
  const states: StoredObjectState[] = ['pending', 'current', 'retired', 'deleted'];
  it('moves only forward: pending -> current -> retired -> deleted (pending may retire)', () => {
    const allowed = states.flatMap((from) =>
      states
        .filter((to) => to !== from && canMoveStoredObject(from, to))
        .map((to) => `${from}>${to}`),
    );
    expect(allowed.sort()).toEqual(
      ['current>retired', 'pending>current', 'pending>retired', 'retired>deleted'].sort(),
    );
    expect(STORED_OBJECT_TRANSITIONS.deleted).toEqual([]);
  });
});

let db: TestDatabase;
let prisma: PrismaClient;
const MODEL = 'la-1+scar-1';
const STUDY = '1.2.826.0.1.77';
const SERIES = '1.2.826.0.1.77.2';

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = db.prisma;
});

afterAll(async () => {
  await db?.drop();
});

async function job(uids: string[], createdAt: Date) {
  const seriesRef = await recordSeries(
    prisma,
    { studyInstanceUid: STUDY, seriesInstanceUid: SERIES, modality: 'MR' },
    { patientId: 'PAT-77', studyDate: '20261201' },
  );
  const fingerprint = instanceFingerprint(uids);
  const made = await ensureJob(prisma, seriesRef, SERIES, MODEL, crypto.randomUUID(), {
    fingerprint,
    count: uids.length,
  });
  await prisma.job.update({ where: { id: made.job.id }, data: { createdAt } });
  return made;
}

async function complete(jobId: string, jobKey: string, tag: string) {
  const seg = `${SERIES}.${tag}.1`;
  const sr = `${SERIES}.${tag}.2`;
  await registerStoredObjects(prisma, jobId, [
    { kind: 'SEG', studyInstanceUid: STUDY, seriesInstanceUid: `${seg}.0`, sopInstanceUid: seg },
    { kind: 'SR', studyInstanceUid: STUDY, seriesInstanceUid: `${sr}.0`, sopInstanceUid: sr },
  ]);
  const measurementRef = await saveResult(
    prisma,
    jobId,
    {
      laVolumeMl: 100,
      scarVolumeMl: 4,
      wallVolumeMl: 40,
      scarBurdenPercent: 10,
      scarInShellMl: 3,
      scarInCavityMl: 1,
      burdenMethod: 'test',
      wallDefinition: 'test',
      utahStage: null,
      decaafStage: null,
      modelVersion: MODEL,
      syntheticTraining: true,
      executionProvider: 'cpu',
      provenance: {},
    },
    [],
  );
  await markJob(prisma, jobKey, {
    state: 'completed',
    segSopInstanceUid: seg,
    srSopInstanceUid: sr,
  });
  const older = await supersedeOlderJobs(prisma, jobId);
  await moveStoredObjects(prisma, { jobRefs: older }, 'retired');
  await moveStoredObjects(prisma, { jobRefs: [jobId] }, 'current');
  return { measurementRef, seg, sr };
}

const objects = () =>
  prisma.storedObject.findMany({
    select: { sopInstanceUid: true, state: true },
    orderBy: { sopInstanceUid: 'asc' },
  });

describe('a series whose instance set changes', () => {
  const t0 = new Date('2026-12-01T10:00:00Z');
  let first: Awaited<ReturnType<typeof job>>;
  let firstResult: Awaited<ReturnType<typeof complete>>;

  it('gets one job per instance set; the same set finds its job again', async () => {
    first = await job(['1.1', '1.3'], t0);
    expect(first.created).toBe(true);
    expect(first.job.jobKey).toBe(`${SERIES}@${MODEL}@${instanceFingerprint(['1.3', '1.1'])}`);
    const again = await job(['1.3', '1.1'], t0);
    expect(again.created).toBe(false);
    expect(again.job.id).toBe(first.job.id);
    firstResult = await complete(first.job.id, first.job.jobKey, 'a');
    expect(await objects()).toEqual([
      { sopInstanceUid: firstResult.seg, state: 'current' },
      { sopInstanceUid: firstResult.sr, state: 'current' },
    ]);
  });

  it("supersedes the older result when the newer set's job completes, and retires its objects", async () => {
    const second = await job(['1.1', '1.2', '1.3'], new Date(t0.getTime() + 60_000));
    expect(second.created).toBe(true);
    // The older, completed job stays current until the new one has a result.
    expect(
      await supersedeOlderJobs(prisma, second.job.id, ['queued', 'retrying', 'failed']),
    ).toEqual([]);
    const before = await prisma.job.findUniqueOrThrow({ where: { id: first.job.id } });
    expect(before.state).toBe('completed');

    const secondResult = await complete(second.job.id, second.job.jobKey, 'b');
    const old = await prisma.job.findUniqueOrThrow({ where: { id: first.job.id } });
    expect(old.state).toBe('superseded');
    expect(old.supersededById).toBe(second.job.id);
    expect(old.supersededAt).toBeInstanceOf(Date);
    expect(await objects()).toEqual(
      [
        { sopInstanceUid: firstResult.seg, state: 'retired' },
        { sopInstanceUid: firstResult.sr, state: 'retired' },
        { sopInstanceUid: secondResult.seg, state: 'current' },
        { sopInstanceUid: secondResult.sr, state: 'current' },
      ].sort((a, b) => a.sopInstanceUid.localeCompare(b.sopInstanceUid)),
    );
    expect((await retiredStoredObjects(prisma)).map((o) => o.sopInstanceUid).sort()).toEqual(
      [firstResult.seg, firstResult.sr].sort(),
    );
    // The older job, finishing late, would find the newer one already completed.
    expect(await newerCompletedJob(prisma, first.job.id)).toBe(second.job.id);
    expect(await newerCompletedJob(prisma, second.job.id)).toBeUndefined();

    // Registry moves never go back: a retired object cannot be made current again.
    expect(await moveStoredObjects(prisma, { jobRefs: [first.job.id] }, 'current')).toBe(0);
    expect(await moveStoredObjects(prisma, { sopInstanceUids: [firstResult.seg] }, 'deleted')).toBe(
      1,
    );
    expect(await moveStoredObjects(prisma, { sopInstanceUids: [firstResult.seg] }, 'retired')).toBe(
      0,
    );
    expect(
      await moveStoredObjects(prisma, { sopInstanceUids: [secondResult.seg] }, 'deleted'),
    ).toBe(0);
  });

  it('leaves the superseded result out of the clinical views and refuses to sign it off', async () => {
    const jobRow = await prisma.job.findUniqueOrThrow({
      where: { id: first.job.id },
      select: { series: { select: { studyRef: true } } },
    });
    const detail = await studyDetail(prisma, jobRow.series.studyRef);
    expect(detail?.results).toHaveLength(1);
    expect(detail?.results[0]?.jobState).toBe('completed');
    const review = recordReview(prisma, firstResult.measurementRef, {
      state: 'accepted',
      reviewerId: 'u1',
      reviewerName: 'Dr Test',
    });
    await expect(review).rejects.toThrow(ClinicalError);
    await expect(review).rejects.toThrow(/superseded/);
    const superseded = await listJobs(prisma, { state: 'superseded' });
    expect(superseded.rows.map((r) => r.id)).toEqual([first.job.id]);
    const detail2 = await jobDetail(prisma, first.job.id);
    expect(detail2?.state).toBe('superseded');
    expect(detail2?.failureClass).toBeNull();
    expect(detail2?.instanceCount).toBe(2);
    // The job that superseded it is the newer, completed one.
    expect(detail2?.supersededById).toBe(await newerCompletedJob(prisma, first.job.id));
    expect(detail2?.storedObjects.map((o) => [o.kind, o.state])).toEqual([
      ['SEG', 'deleted'],
      ['SR', 'retired'],
    ]);
  });

  it('never offers for deletion the SEG that a signed-off (VERIFIED) report refers to', async () => {
    const signed = await job(['1.1', '1.2', '1.3', '1.4'], new Date(t0.getTime() + 120_000));
    const signedResult = await complete(signed.job.id, signed.job.jobKey, 'c');
    await recordReview(prisma, signedResult.measurementRef, {
      state: 'accepted',
      reviewerId: 'u1',
      reviewerName: 'Dr Test',
      verifiedSrSopInstanceUid: `${SERIES}.99.3`,
    });
    const before = new Set((await retiredStoredObjects(prisma)).map((o) => o.sopInstanceUid));
    // A fifth slice arrives: the new instance set's result supersedes the signed-off one.
    const newer = await job(['1.1', '1.2', '1.3', '1.4', '1.5'], new Date(t0.getTime() + 180_000));
    await complete(newer.job.id, newer.job.jobKey, 'd');
    expect(await objects()).toContainEqual({ sopInstanceUid: signedResult.seg, state: 'retired' });
    const offered = (await retiredStoredObjects(prisma))
      .map((o) => o.sopInstanceUid)
      .filter((uid) => !before.has(uid));
    // Its UNVERIFIED report may go (the VERIFIED one replaces it); the SEG stays in the PACS.
    expect(offered).toEqual([signedResult.sr]);
    // The admin's job page says why.
    const shown = await jobDetail(prisma, signed.job.id);
    expect(shown?.storedObjects.map((o) => [o.kind, o.state, o.kept])).toEqual([
      ['SEG', 'retired', KEPT_FOR_SIGN_OFF],
      ['SR', 'retired', undefined],
    ]);
  });
});
