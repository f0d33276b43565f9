// The operations console's queries against a real PostgreSQL (a fresh database on the machine's
// server): jobs written through the worker's own record functions, then read back filtered,
// searched, paged and counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from './generated/prisma/client.js';
import {
  classifyFailure,
  currentModelVersion,
  failedJobIds,
  jobDetail,
  listAudit,
  listDecisions,
  listJobs,
  operationsOverview,
} from './operations.js';
import { appendAudit } from './clinical.js';
import { ensureJob, markJob, recordDecision, recordSeries, recordStage } from './records.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

const MODEL = 'la-aaaaaaaaaaaa.scar-bbbbbbbbbbbb';
const HOUR = 3600_000;

let db: TestDatabase;
let prisma: PrismaClient;
const ids: Record<string, string> = {};

async function addJob(
  name: string,
  n: number,
  opts: {
    state: 'queued' | 'active' | 'retrying' | 'completed' | 'failed';
    attempts?: number;
    error?: string;
    queuedAt: Date;
    finishedAt?: Date;
    source?: string;
  },
) {
  const seriesUid = `1.2.826.0.1.${n}.2`;
  const seriesRef = await recordSeries(
    prisma,
    {
      studyInstanceUid: `1.2.826.0.1.${n}`,
      seriesInstanceUid: seriesUid,
      modality: 'MR',
      seriesDescription: `LGE ${name}`,
    },
    { patientId: `PAT-${n}`, accessionNumber: `ACC${n}` },
  );
  await prisma.series.update({
    where: { id: seriesRef },
    data: { firstSeenAt: new Date(opts.queuedAt.getTime() - 60_000) },
  });
  await recordDecision(
    prisma,
    seriesRef,
    { selected: true, reason: 'LGE by description' },
    opts.source ?? 'webhook',
  );
  const { job } = await ensureJob(prisma, seriesRef, seriesUid, MODEL, crypto.randomUUID());
  await prisma.job.update({ where: { id: job.id }, data: { createdAt: opts.queuedAt } });
  await markJob(prisma, job.jobKey, {
    state: opts.state,
    attempts: opts.attempts ?? 1,
    error: opts.error ?? null,
    finishedAt: opts.finishedAt ?? null,
  });
  ids[name] = job.id;
  return { jobId: job.id, seriesRef };
}

const now = new Date('2026-11-30T12:00:00Z');

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = db.prisma;
  const ok = await addJob('ok', 1, {
    state: 'completed',
    queuedAt: new Date(now.getTime() - 3 * HOUR),
    finishedAt: new Date(now.getTime() - 3 * HOUR + 120_000),
  });
  // Two attempts: the first failed at retrieve, the second completed every stage.
  const start = new Date(now.getTime() - 3 * HOUR);
  await recordStage(prisma, ok.jobId, 1, 'retrieve', start, 5000, 'retrieve: PACS unavailable');
  await markJob(prisma, `1.2.826.0.1.1.2@${MODEL}`, { state: 'completed', attempts: 2 });
  for (const [i, s] of (
    ['retrieve', 'load', 'la_model', 'scar_model', 'write', 'store'] as const
  ).entries()) {
    await recordStage(prisma, ok.jobId, 2, s, start, 100 * (i + 1));
  }
  await addJob('corrupt', 2, {
    state: 'failed',
    error: 'load: unusable DICOM series (slice-gap): slice 12 of 1.2.826.0.1.2.2 is missing',
    queuedAt: new Date(now.getTime() - 2 * HOUR),
    finishedAt: new Date(now.getTime() - 2 * HOUR + 30_000),
  });
  await addJob('pacs-down', 3, {
    state: 'failed',
    attempts: 4,
    error: 'retrieve: PACS unavailable (ECONNREFUSED)',
    queuedAt: new Date(now.getTime() - 40 * HOUR),
    finishedAt: new Date(now.getTime() - 39 * HOUR),
    source: 'change-feed',
  });
  await addJob('waiting', 4, { state: 'queued', queuedAt: new Date(now.getTime() - HOUR) });
  await addJob('second-try', 5, {
    state: 'retrying',
    attempts: 2,
    error: 'retrieve: socket hang up',
    queuedAt: new Date(now.getTime() - HOUR),
  });
  const skipped = await recordSeries(prisma, {
    studyInstanceUid: '1.2.826.0.1.9',
    seriesInstanceUid: '1.2.826.0.1.9.2',
    modality: 'MR',
    seriesDescription: 'CINE SAX retro',
  });
  await recordDecision(
    prisma,
    skipped,
    { selected: false, reason: 'description "CINE SAX retro" matches no LGE pattern' },
    'poll',
  );
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

describe('listJobs', () => {
  it("pages every job newest first, with the discovery path and the last attempt's stages", async () => {
    const all = await listJobs(prisma, { pageSize: 2 });
    expect(all.total).toBe(5);
    expect(all.rows).toHaveLength(2);
    const page3 = await listJobs(prisma, { pageSize: 2, page: 3 });
    expect(page3.rows.map((r) => r.id)).toEqual([ids['pacs-down']]);
    expect(page3.rows[0]!.discoveredBy).toBe('change-feed');
    const ok = (await listJobs(prisma, { q: 'ACC1' })).rows[0]!;
    expect(ok.id).toBe(ids.ok);
    expect(ok.stages.map((s) => s.stage)).toEqual([
      'retrieve',
      'load',
      'la_model',
      'scar_model',
      'write',
      'store',
    ]);
    expect(ok.stages.map((s) => s.durationMs)).toEqual([100, 200, 300, 400, 500, 600]);
    expect(ok.stages.every((s) => s.error === null)).toBe(true);
    expect(ok.accessionNumber).toBe('ACC1');
    expect(ok.seriesDescription).toBe('LGE ok');
  });

  it('filters by state and by when the job was queued', async () => {
    const failed = await listJobs(prisma, { state: 'failed' });
    expect(failed.rows.map((r) => r.id).sort()).toEqual([ids.corrupt, ids['pacs-down']].sort());
    const lastDay = await listJobs(prisma, { from: new Date(now.getTime() - 24 * HOUR), to: now });
    expect(lastDay.total).toBe(4);
    const failedLastDay = await listJobs(prisma, {
      state: 'failed',
      from: new Date(now.getTime() - 24 * HOUR),
    });
    expect(failedLastDay.rows.map((r) => r.id)).toEqual([ids.corrupt]);
  });

  it('finds a job by any of its identifiers', async () => {
    const job = await prisma.job.findUniqueOrThrow({ where: { id: ids.corrupt! } });
    for (const q of [
      '1.2.826.0.1.2',
      '1.2.826.0.1.2.2',
      'ACC2',
      'PAT-2',
      job.id,
      job.queueJobId!,
    ]) {
      const found = await listJobs(prisma, { q });
      expect(
        found.rows.map((r) => r.id),
        q,
      ).toEqual([ids.corrupt]);
    }
    expect((await listJobs(prisma, { q: '1.2.826.0.1' })).total).toBe(0);
    await expect(listJobs(prisma, { page: 0 })).rejects.toThrow(/page must be a whole number/);
  });

  it('lists the failed jobs a filter shows, for "retry all failed"', async () => {
    expect((await failedJobIds(prisma, {})).sort()).toEqual([ids.corrupt, ids['pacs-down']].sort());
    expect(await failedJobIds(prisma, { q: 'PAT-3' })).toEqual([ids['pacs-down']]);
    expect(await failedJobIds(prisma, { state: 'queued' })).toHaveLength(2);
  });
});

describe('jobDetail and classifyFailure', () => {
  it('groups stages by attempt with their errors', async () => {
    const d = (await jobDetail(prisma, ids.ok!))!;
    expect(d.attemptsRecorded.map((a) => a.attempt)).toEqual([1, 2]);
    expect(d.attemptsRecorded[0]!.error).toBe('retrieve: PACS unavailable');
    expect(d.attemptsRecorded[1]!.stages).toHaveLength(6);
    expect(d.decisions[0]!.source).toBe('webhook');
    expect(await jobDetail(prisma, 'not-a-uuid')).toBeNull();
    expect(await jobDetail(prisma, crypto.randomUUID())).toBeNull();
  });

  it('tells data errors (not retried) from PACS or database trouble (retried)', async () => {
    expect((await jobDetail(prisma, ids.corrupt!))!.failureClass).toBe('data');
    expect((await jobDetail(prisma, ids['pacs-down']!))!.failureClass).toBe('transient');
    expect((await jobDetail(prisma, ids['second-try']!))!.failureClass).toBe('transient');
    expect((await jobDetail(prisma, ids.ok!))!.failureClass).toBeNull();
    expect(
      classifyFailure({ state: 'failed', attempts: 0, error: 'cancelled by a@b before it ran' }),
    ).toBe('cancelled');
    expect(
      classifyFailure({
        state: 'failed',
        attempts: 1,
        error: 'load: series 1.2 is modality CT, not an MR (LGE) series',
      }),
    ).toBe('data');
    // A completed job's text is its outcome, not a failure.
    expect(
      classifyFailure({
        state: 'completed',
        attempts: 1,
        error: 'completed without a result: no LA cavity found in this series',
      }),
    ).toBeNull();
  });
});

describe('listDecisions', () => {
  it("filters decisions by outcome and text, with the series' job", async () => {
    const skipped = await listDecisions(prisma, { selected: false });
    expect(skipped.total).toBe(1);
    expect(skipped.rows[0]!.seriesDescription).toBe('CINE SAX retro');
    expect(skipped.rows[0]!.reason).toMatch(/matches no LGE pattern/);
    expect(skipped.rows[0]!.jobId).toBeNull();
    const selected = await listDecisions(prisma, { selected: true });
    expect(selected.total).toBe(5);
    expect(selected.rows.every((r) => r.jobId !== null)).toBe(true);
    expect((await listDecisions(prisma, { q: 'cine' })).total).toBe(1);
    expect((await listDecisions(prisma, { q: '1.2.826.0.1.3.2' })).rows[0]!.source).toBe(
      'change-feed',
    );
    expect((await listDecisions(prisma, { q: '100%_' })).total).toBe(0);
  });

  it('knows the model version the worker runs', async () => {
    expect(await currentModelVersion(prisma)).toBe(MODEL);
  });
});

describe('operationsOverview', () => {
  it('counts jobs, throughput, latency and failure reasons as the database holds them', async () => {
    const o = await operationsOverview(prisma, now);
    expect(o.jobsByState).toEqual({
      queued: 1,
      active: 0,
      retrying: 1,
      completed: 1,
      failed: 2,
      superseded: 0,
    });
    expect(o.perHour.reduce((n, b) => n + b.completed, 0)).toBe(1);
    expect(o.perHour.reduce((n, b) => n + b.failed, 0)).toBe(1);
    expect(o.perDay.reduce((n, b) => n + b.failed, 0)).toBe(2);
    expect(o.perHour.every((b) => b.at.getUTCMinutes() === 0)).toBe(true);
    // One completed job: seen 60 s before it was queued, finished 120 s after.
    expect(o.latency).toEqual({ count: 1, p50Seconds: 180, p95Seconds: 180 });
    expect(o.failureReasons).toHaveLength(2);
    const gap = o.failureReasons.find(
      (r) => r.reason === 'load: unusable DICOM series (slice-gap): slice # of # is missing',
    );
    // What the admin reads is a real error of the group, numbers and all.
    expect(gap?.example).toBe(
      'load: unusable DICOM series (slice-gap): slice 12 of 1.2.826.0.1.2.2 is missing',
    );
    expect(o.decisions).toEqual({ selected: 5, skipped: 1 });
    expect(o.database.ok).toBe(true);
    expect(o.database.sizeBytes).toBeGreaterThan(0);
  });
});

describe('listAudit', () => {
  it('filters the audit log by user, patient and action, newest first', async () => {
    const [patient] = await prisma.patient.findMany({ where: { patientId: 'PAT-2' } });
    await appendAudit(prisma, {
      userEmail: 'Ada@Test.local',
      role: 'admin',
      action: 'jobs.view',
      outcome: 'ok',
    });
    await appendAudit(prisma, {
      userEmail: 'ada@test.local',
      role: 'admin',
      action: 'job.retry',
      outcome: 'ok',
      detail: 'job x: queued',
    });
    await appendAudit(prisma, {
      userEmail: 'carla@test.local',
      role: 'cardiologist',
      action: 'study.view',
      outcome: 'ok',
      patientRef: patient!.id,
    });
    expect((await listAudit(prisma)).total).toBe(3);
    const ada = await listAudit(prisma, { userEmail: 'ADA@test.local' });
    expect(ada.rows.map((r) => r.action)).toEqual(['job.retry', 'jobs.view']);
    expect((await listAudit(prisma, { action: 'job.' })).rows.map((r) => r.action)).toEqual([
      'job.retry',
    ]);
    expect((await listAudit(prisma, { action: 'jobs.view' })).total).toBe(1);
    for (const p of ['PAT-2', patient!.id]) {
      const rows = (await listAudit(prisma, { patient: p })).rows;
      expect(rows.map((r) => r.userEmail)).toEqual(['carla@test.local']);
    }
    expect((await listAudit(prisma, { patient: 'NOBODY' })).total).toBe(0);
    expect((await listAudit(prisma, { pageSize: 2, page: 2 })).rows).toHaveLength(1);
  });
});
