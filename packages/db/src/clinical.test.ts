// The cardiologists' queries against a real PostgreSQL (a fresh database per describe block on
// the machine's server): a small hand-made clinic written through the worker's own record
// functions, then 10,000 synthetic patients with 50,000 studies from seedScale.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addClinicalEvent,
  appendAudit,
  ClinicalError,
  cohortSummary,
  csvCell,
  isoStudyDate,
  listPatients,
  overlayPng,
  patientTimeline,
  recentLoginFailures,
  recordReview,
  recordVerifiedSr,
  resultCsvRows,
  studyDetail,
  toCsv,
  type PatientListRow,
  type ResultCsvRow,
} from './clinical.js';
import { openDatabase } from './client.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { ensureJob, markJob, recordSeries, recordStage, saveResult } from './records.js';
import { seedScale } from './seed-scale.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

const OLD_MODEL = 'la-aaaaaaaaaaaa.scar-bbbbbbbbbbbb';
const NEW_MODEL = 'la-cccccccccccc.scar-dddddddddddd';
const METHOD = 'volume-based: share of LA wall voxels that are scar';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function decaaf(b: number): string {
  return b < 10 ? '1' : b < 20 ? '2' : b < 30 ? '3' : '4';
}
function utah(b: number): string {
  return b <= 5 ? 'I' : b <= 20 ? 'II' : b <= 35 ? 'III' : 'IV';
}

interface ResultSpec {
  /** Absent: a study that came without a PatientID. */
  patientId?: string;
  patientName?: string;
  studyUid: string;
  studyDate?: string;
  accessionNumber?: string;
  seriesUid: string;
  model?: string;
  burden: number | null;
  laVolumeMl?: number;
  review?: { state: 'accepted' | 'rejected'; reason?: string };
  qcFlags?: string[];
  measuredAt: string;
  failedFirstAttempt?: boolean;
  overlays?: number[];
}

/** One result the way the worker writes it: series, job, stage timings, measurement, overlays. */
async function addResult(prisma: PrismaClient, r: ResultSpec) {
  const model = r.model ?? NEW_MODEL;
  const seriesRef = await recordSeries(
    prisma,
    {
      studyInstanceUid: r.studyUid,
      seriesInstanceUid: r.seriesUid,
      modality: 'MR',
      seriesDescription: 'LGE 3D',
    },
    {
      ...(r.patientId !== undefined ? { patientId: r.patientId } : {}),
      ...(r.patientName !== undefined ? { patientName: r.patientName } : {}),
      ...(r.studyDate !== undefined ? { studyDate: r.studyDate } : {}),
      ...(r.accessionNumber !== undefined ? { accessionNumber: r.accessionNumber } : {}),
    },
  );
  const { job } = await ensureJob(prisma, seriesRef, r.seriesUid, model, crypto.randomUUID());
  const t0 = new Date(r.measuredAt);
  const attempts = r.failedFirstAttempt ? 2 : 1;
  if (r.failedFirstAttempt) {
    await recordStage(prisma, job.id, 1, 'retrieve', t0, 30_000, 'PACS did not answer');
  }
  const durations = {
    retrieve: 1000,
    load: 500,
    la_model: 9000,
    scar_model: 12000,
    write: 250,
    store: 750,
  };
  for (const [stage, ms] of Object.entries(durations)) {
    await recordStage(prisma, job.id, attempts, stage as keyof typeof durations, t0, ms);
  }
  await markJob(prisma, job.jobKey, {
    state: 'completed',
    attempts,
    startedAt: t0,
    finishedAt: new Date(t0.getTime() + 60_000),
    segSeriesInstanceUid: `${r.seriesUid}.9`,
    segSopInstanceUid: `${r.seriesUid}.9.1`,
  });
  const la = r.laVolumeMl ?? 100;
  const wall = 40;
  const measurementRef = await saveResult(
    prisma,
    job.id,
    {
      laVolumeMl: la,
      scarVolumeMl: r.burden === null ? 0 : (r.burden / 100) * wall,
      wallVolumeMl: r.burden === null ? 0 : wall,
      scarBurdenPercent: r.burden,
      burdenMethod: METHOD,
      wallDefinition: '3 mm shell',
      utahStage: r.burden === null ? null : utah(r.burden),
      decaafStage: r.burden === null ? null : decaaf(r.burden),
      modelVersion: model,
      syntheticTraining: true,
      executionProvider: 'cpu',
      provenance: { algorithm: 'test', notice: 'synthetic' },
    },
    (r.overlays ?? []).map((sliceIndex) => ({ sliceIndex, width: 64, height: 48, png: PNG })),
  );
  await prisma.measurement.update({
    where: { id: measurementRef },
    data: {
      createdAt: t0,
      qcFlags: r.qcFlags ?? [],
      ...(r.review
        ? {
            reviewState: r.review.state,
            reviewedById: 'u-1',
            reviewedByName: 'Dr Test',
            reviewedAt: new Date(t0.getTime() + 86_400_000),
            reviewReason: r.review.reason ?? null,
          }
        : {}),
    },
  });
  const study = await prisma.study.findUniqueOrThrow({ where: { studyInstanceUid: r.studyUid } });
  return { measurementRef, jobRef: job.id, studyRef: study.id, patientRef: study.patientRef };
}

/** Every patient's id in the list's order, straight from SQL (the reference for paging). */
async function referenceOrder(prisma: PrismaClient, q?: string): Promise<string[]> {
  const rows = await prisma.$queryRawUnsafe<{ id: string }[]>(
    `SELECT p.id::text AS id FROM "Patient" p
     LEFT JOIN (SELECT "patientRef", max("studyDate") AS d FROM "Study"
                WHERE "studyDate" ~ '^[0-9]{8}$' GROUP BY 1) l ON l."patientRef" = p.id
     ${q ? `WHERE p."patientId" ILIKE $1 || '%'` : ''}
     ORDER BY l.d DESC NULLS LAST, p."patientId"`,
    ...(q ? [q] : []),
  );
  return rows.map((r) => r.id);
}

/** Stage counts among each patient's latest standing result, computed the plain way in JS. */
async function directCohortCounts(prisma: PrismaClient) {
  const ms = await prisma.measurement.findMany({
    select: {
      id: true,
      createdAt: true,
      reviewState: true,
      decaafStage: true,
      utahStage: true,
      job: {
        select: {
          series: { select: { study: { select: { patientRef: true, studyDate: true } } } },
        },
      },
    },
  });
  const latest = new Map<string, (typeof ms)[number]>();
  const key = (m: (typeof ms)[number]) => {
    const d = m.job.series.study.studyDate;
    return [/^\d{8}$/.test(d ?? '') ? d! : '', m.createdAt.toISOString(), m.id] as const;
  };
  const newer = (a: (typeof ms)[number], b: (typeof ms)[number]) => {
    const [ka, kb] = [key(a), key(b)];
    if (ka[0] !== kb[0]) {
      if (ka[0] === '') return false;
      if (kb[0] === '') return true;
      return ka[0] > kb[0];
    }
    return ka[1] !== kb[1] ? ka[1] > kb[1] : ka[2] > kb[2];
  };
  for (const m of ms) {
    const p = m.job.series.study.patientRef;
    if (!p || m.reviewState === 'rejected') continue;
    const cur = latest.get(p);
    if (!cur || newer(m, cur)) latest.set(p, m);
  }
  const decaafCounts: Record<string, number> = {};
  const utahCounts: Record<string, number> = {};
  let unstaged = 0;
  for (const m of latest.values()) {
    if (m.decaafStage === null) unstaged++;
    else decaafCounts[m.decaafStage] = (decaafCounts[m.decaafStage] ?? 0) + 1;
    if (m.utahStage !== null) utahCounts[m.utahStage] = (utahCounts[m.utahStage] ?? 0) + 1;
  }
  return { withResult: latest.size, decaafCounts, utahCounts, unstaged, latest };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('PostgreSQL for these tests', () => {
  it('fails with a clear message when the server is not reachable', async () => {
    await expect(
      createTestDatabase({ serverUrl: 'postgres://postgres@127.0.0.1:1/postgres' }),
    ).rejects.toThrow(
      /PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/postgres is not reachable/,
    );
  });
});

describe('the cardiologists’ queries on a small clinic', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  const refs: Record<string, Awaited<ReturnType<typeof addResult>>> = {};
  let noStudiesRef: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = db.prisma;
    const a = { patientId: 'PAT-001', patientName: 'SMITH^JOHN' };
    refs.a1 = await addResult(prisma, {
      ...a,
      studyUid: '1.2.1',
      studyDate: '20230110',
      seriesUid: '1.2.1.1',
      model: OLD_MODEL,
      burden: 12,
      review: { state: 'accepted' },
      measuredAt: '2023-01-10T10:00:00Z',
    });
    refs.a2 = await addResult(prisma, {
      ...a,
      studyUid: '1.2.2',
      studyDate: '20230701',
      seriesUid: '1.2.2.1',
      model: OLD_MODEL,
      burden: 18,
      review: { state: 'accepted' },
      measuredAt: '2023-07-01T10:00:00Z',
    });
    refs.a3 = await addResult(prisma, {
      ...a,
      studyUid: '1.2.3',
      studyDate: '20240201',
      accessionNumber: 'ACC3',
      seriesUid: '1.2.3.1',
      burden: 25,
      qcFlags: ['low_blood_pool_contrast'],
      measuredAt: '2024-02-01T10:00:00Z',
      failedFirstAttempt: true,
      overlays: [12, 7],
    });
    const b = { patientId: 'PAT-002', patientName: 'SMITHSON^ANNA' };
    refs.b1 = await addResult(prisma, {
      ...b,
      studyUid: '2.2.1',
      studyDate: '20230501',
      seriesUid: '2.2.1.1',
      burden: 8,
      review: { state: 'accepted' },
      measuredAt: '2023-05-01T10:00:00Z',
    });
    refs.b2 = await addResult(prisma, {
      ...b,
      studyUid: '2.2.2',
      studyDate: '20240301',
      seriesUid: '2.2.2.1',
      burden: 40,
      review: { state: 'rejected', reason: 'motion' },
      measuredAt: '2024-03-01T10:00:00Z',
    });
    refs.c1 = await addResult(prisma, {
      patientId: 'X-77',
      patientName: 'DOE^JANE',
      studyUid: '3.2.1',
      seriesUid: '3.2.1.1',
      burden: 30,
      measuredAt: '2024-01-01T10:00:00Z',
    });
    noStudiesRef = (
      await prisma.patient.create({ data: { patientId: 'PAT-004', patientName: 'JONES^MARY' } })
    ).id;
    await recordSeries(
      prisma,
      { studyInstanceUid: '5.2.1', seriesInstanceUid: '5.2.1.1' },
      { patientId: 'PAT-005', patientName: "O'BRIEN^PAT", studyDate: '20240301' },
    );
    const f = { patientId: 'PAT-006', patientName: 'SAME^DAY' };
    refs.f1 = await addResult(prisma, {
      ...f,
      studyUid: '6.2.1',
      studyDate: '20220606',
      seriesUid: '6.2.1.1',
      burden: 10,
      review: { state: 'accepted' },
      measuredAt: '2022-06-06T10:00:00Z',
    });
    refs.f2 = await addResult(prisma, {
      ...f,
      studyUid: '6.2.2',
      studyDate: '20220606',
      seriesUid: '6.2.2.1',
      burden: 14,
      measuredAt: '2022-06-06T11:00:00Z',
    });
    refs.g1 = await addResult(prisma, {
      patientId: 'PAT-007',
      patientName: 'ODD^DATE',
      studyUid: '7.2.1',
      studyDate: 'UNKNOWN',
      seriesUid: '7.2.1.1',
      burden: null,
      measuredAt: '2024-05-01T10:00:00Z',
    });
    refs.h1 = await addResult(prisma, {
      studyUid: '8.2.1',
      studyDate: '20240101',
      seriesUid: '8.2.1.1',
      burden: 20,
      measuredAt: '2024-01-01T10:00:00Z',
    });
  }, 120_000);

  afterAll(async () => {
    await db?.drop();
  });

  const ids = (rows: PatientListRow[]) => rows.map((r) => r.patientId);

  it('orders by the newest study date (undated last), then PatientID, and pages on the server', async () => {
    const all = await listPatients(prisma, {});
    expect(all.total).toBe(7);
    expect(all.page).toBe(1);
    expect(all.pageSize).toBe(25);
    expect(ids(all.rows)).toEqual([
      'PAT-002',
      'PAT-005',
      'PAT-001',
      'PAT-006',
      'PAT-004',
      'PAT-007',
      'X-77',
    ]);
    expect(all.rows.map((r) => r.id)).toEqual(await referenceOrder(prisma));
    // Pages of two: the first two walk the study-date index, the rest reach undated patients.
    const pages = [];
    for (let page = 1; page <= 5; page++) {
      const p = await listPatients(prisma, { page, pageSize: 2 });
      expect(p.total).toBe(7);
      pages.push(ids(p.rows));
    }
    expect(pages).toEqual([
      ['PAT-002', 'PAT-005'],
      ['PAT-001', 'PAT-006'],
      ['PAT-004', 'PAT-007'],
      ['X-77'],
      [],
    ]);
    expect((await listPatients(prisma, { pageSize: 1000 })).pageSize).toBe(100);
    await expect(listPatients(prisma, { page: 0 })).rejects.toThrow(
      /page must be a whole number from 1, got 0/,
    );
    await expect(listPatients(prisma, { pageSize: 2.5 })).rejects.toThrow(ClinicalError);
    await expect(listPatients(prisma, { q: 'x'.repeat(101) })).rejects.toThrow(/at most 100/);
  });

  it('searches PatientID by prefix and the name by its parts, in any case and order', async () => {
    const q = async (text: string) => ids((await listPatients(prisma, { q: text })).rows);
    expect(await q('smith john')).toEqual(['PAT-001']);
    expect(await q('JOHN Smith')).toEqual(['PAT-001']);
    expect(await q('smith^john')).toEqual(['PAT-001']);
    expect(await q('smith')).toEqual(['PAT-002', 'PAT-001']);
    expect(await q('mit')).toEqual(['PAT-002', 'PAT-001']);
    expect(await q('pat-00')).toEqual([
      'PAT-002',
      'PAT-005',
      'PAT-001',
      'PAT-006',
      'PAT-004',
      'PAT-007',
    ]);
    expect(await q('x-7')).toEqual(['X-77']);
    expect(await q('AT-00')).toEqual([]); // an ID matches by its start only
    expect(await q("o'brien")).toEqual(['PAT-005']);
    expect(await q('%')).toEqual([]); // LIKE wildcards are plain text
    expect(await q('_')).toEqual([]);
    expect(await q('  ')).toHaveLength(7);
    const page = await listPatients(prisma, { q: 'pat', page: 2, pageSize: 4 });
    expect(page.total).toBe(6);
    expect(ids(page.rows)).toEqual(['PAT-004', 'PAT-007']);
  });

  it('shows the latest standing result, the trend since the previous study and what needs review', async () => {
    const rows = new Map((await listPatients(prisma, {})).rows.map((r) => [r.patientId, r]));
    const a = rows.get('PAT-001')!;
    expect(a.studyCount).toBe(3);
    expect(a.latestStudyDate).toBe('2024-02-01');
    expect(a.latest).toEqual({
      measurementRef: refs.a3!.measurementRef,
      studyRef: refs.a3!.studyRef,
      studyDate: '2024-02-01',
      scarBurdenPercent: 25,
      decaafStage: '3',
      utahStage: 'III',
      burdenMethod: METHOD,
      modelVersion: NEW_MODEL,
      syntheticTraining: true,
      laVolumeMl: 100,
      reviewState: 'pending',
      qcFlags: ['low_blood_pool_contrast'],
    });
    expect(a.previousBurdenPercent).toBe(18);
    expect(a.trendPoints).toBe(25 - 18);
    expect(a.trendComparable).toBe(false); // the previous result came from another model
    expect(a.needsReviewCount).toBe(1);
    expect(a.qcFlagged).toBe(true);
    expect(a.qcFlags).toEqual(['low_blood_pool_contrast']);

    // A rejected result never stands as the latest; its study still orders the list.
    const b = rows.get('PAT-002')!;
    expect(b.latestStudyDate).toBe('2024-03-01');
    expect(b.latest?.measurementRef).toBe(refs.b1!.measurementRef);
    expect(b.latest?.scarBurdenPercent).toBe(8);
    expect(b.previousBurdenPercent).toBeNull();
    expect(b.trendPoints).toBeNull();
    expect(b.trendComparable).toBeNull();
    expect(b.needsReviewCount).toBe(0);
    expect(b.qcFlagged).toBe(false);
    expect(b.qcFlags).toEqual([]);

    const c = rows.get('X-77')!;
    expect(c.latest?.studyDate).toBeNull();
    expect(c.latestStudyDate).toBeNull();
    expect(c.needsReviewCount).toBe(1);
    expect(c.qcFlagged).toBe(false);

    const d = rows.get('PAT-004')!;
    expect(d).toMatchObject({
      id: noStudiesRef,
      studyCount: 0,
      latest: null,
      trendPoints: null,
      needsReviewCount: 0,
    });
    expect(rows.get('PAT-005')).toMatchObject({
      studyCount: 1,
      latest: null,
      latestStudyDate: '2024-03-01',
    });

    // Two studies on one day: the later measurement is the latest, the other study the previous.
    const f = rows.get('PAT-006')!;
    expect(f.latest?.scarBurdenPercent).toBe(14);
    expect(f.previousBurdenPercent).toBe(10);
    expect(f.trendPoints).toBe(4);
    expect(f.trendComparable).toBe(true);

    const g = rows.get('PAT-007')!;
    expect(g.latestStudyDate).toBeNull(); // "UNKNOWN" is not a date
    expect(g.latest).toMatchObject({ scarBurdenPercent: null, decaafStage: null, studyDate: null });
  });

  it('gives a patient’s timeline: every result by study date, with the clinical events', async () => {
    const ablation = await addClinicalEvent(prisma, {
      patientRef: refs.a1!.patientRef!,
      kind: 'ablation',
      date: '2023-03-01',
      note: '  PVI, cryoballoon ',
      createdById: 'u-1',
    });
    expect(ablation).toMatchObject({
      kind: 'ablation',
      date: '2023-03-01',
      note: 'PVI, cryoballoon',
      createdById: 'u-1',
    });
    await addClinicalEvent(prisma, {
      patientRef: refs.a1!.patientRef!,
      kind: 'cardioversion',
      date: '2022-12-01',
      createdById: 'u-2',
    });
    const t = await patientTimeline(prisma, refs.a1!.patientRef!);
    expect(t?.patient).toEqual({
      id: refs.a1!.patientRef,
      patientId: 'PAT-001',
      patientName: 'SMITH^JOHN',
    });
    expect(t?.points.map((p) => p.measurementRef)).toEqual([
      refs.a1!.measurementRef,
      refs.a2!.measurementRef,
      refs.a3!.measurementRef,
    ]);
    expect(t?.points[0]).toEqual({
      measurementRef: refs.a1!.measurementRef,
      jobRef: refs.a1!.jobRef,
      studyRef: refs.a1!.studyRef,
      studyInstanceUid: '1.2.1',
      seriesInstanceUid: '1.2.1.1',
      seriesDescription: 'LGE 3D',
      studyDate: '2023-01-10',
      measuredAt: new Date('2023-01-10T10:00:00Z'),
      scarBurdenPercent: 12,
      laVolumeMl: 100,
      scarVolumeMl: 0.12 * 40,
      wallVolumeMl: 40,
      decaafStage: '2',
      utahStage: 'II',
      burdenMethod: METHOD,
      wallDefinition: '3 mm shell',
      modelVersion: OLD_MODEL,
      syntheticTraining: true,
      reviewState: 'accepted',
      qcFlags: [],
    });
    expect(t?.points[2]).toMatchObject({
      modelVersion: NEW_MODEL,
      reviewState: 'pending',
      qcFlags: ['low_blood_pool_contrast'],
    });
    expect(t?.events.map((e) => [e.kind, e.date, e.note])).toEqual([
      ['cardioversion', '2022-12-01', null],
      ['ablation', '2023-03-01', 'PVI, cryoballoon'],
    ]);
    expect(t?.events[1]?.id).toBe(ablation.id);

    // Rejected results stay on the timeline, marked; two results on one day keep measurement order.
    const b = await patientTimeline(prisma, refs.b1!.patientRef!);
    expect(b?.points.map((p) => p.reviewState)).toEqual(['accepted', 'rejected']);
    const f = await patientTimeline(prisma, refs.f1!.patientRef!);
    expect(f?.points.map((p) => p.scarBurdenPercent)).toEqual([10, 14]);

    expect(await patientTimeline(prisma, noStudiesRef)).toMatchObject({ points: [], events: [] });
    expect(await patientTimeline(prisma, crypto.randomUUID())).toBeNull();
    expect(await patientTimeline(prisma, 'not-a-uuid')).toBeNull();
  });

  it('gives a study’s results with the last attempt’s stages, processing time and overlays', async () => {
    const d = await studyDetail(prisma, refs.a3!.studyRef);
    expect(d?.study).toEqual({
      id: refs.a3!.studyRef,
      studyInstanceUid: '1.2.3',
      studyDate: '2024-02-01',
      accessionNumber: 'ACC3',
      patient: { id: refs.a3!.patientRef, patientId: 'PAT-001', patientName: 'SMITH^JOHN' },
    });
    expect(d?.results).toHaveLength(1);
    const r = d!.results[0]!;
    expect(r).toMatchObject({
      measurementRef: refs.a3!.measurementRef,
      jobRef: refs.a3!.jobRef,
      scarBurdenPercent: 25,
      jobState: 'completed',
      attempts: 2,
      executionProvider: 'cpu',
      provenance: { algorithm: 'test', notice: 'synthetic' },
      segSeriesInstanceUid: '1.2.3.1.9',
      segSopInstanceUid: '1.2.3.1.9.1',
      srSeriesInstanceUid: null,
      scarInShellMl: null,
      startedAt: new Date('2024-02-01T10:00:00Z'),
      finishedAt: new Date('2024-02-01T10:01:00Z'),
      reviewState: 'pending',
      reviewedById: null,
      reviewedAt: null,
      verifiedSrSopInstanceUid: null,
    });
    // Attempt 1 failed on retrieve (30 s): only attempt 2's six stages count.
    expect(r.stages.map((s) => [s.stage, s.durationMs, s.error])).toEqual([
      ['retrieve', 1000, null],
      ['load', 500, null],
      ['la_model', 9000, null],
      ['scar_model', 12000, null],
      ['write', 250, null],
      ['store', 750, null],
    ]);
    expect(r.processingMs).toBe(1000 + 500 + 9000 + 12000 + 250 + 750);
    expect(r.overlays).toEqual([
      { sliceIndex: 7, width: 64, height: 48 },
      { sliceIndex: 12, width: 64, height: 48 },
    ]);

    const png = await overlayPng(prisma, refs.a3!.measurementRef, 12);
    expect(png && Array.from(png.png)).toEqual(Array.from(PNG));
    expect(png).toMatchObject({ patientRef: refs.a3!.patientRef, studyRef: refs.a3!.studyRef });
    expect(await overlayPng(prisma, refs.a3!.measurementRef, 13)).toBeNull();
    expect(await overlayPng(prisma, refs.a3!.measurementRef, -1)).toBeNull();
    expect(await overlayPng(prisma, 'x', 12)).toBeNull();
    // Superseded (its series' instances changed): the picture is not served by a direct link.
    const { jobRef } = await prisma.measurement.findUniqueOrThrow({
      where: { id: refs.a3!.measurementRef },
      select: { jobRef: true },
    });
    const { state } = await prisma.job.findUniqueOrThrow({ where: { id: jobRef } });
    await prisma.job.update({ where: { id: jobRef }, data: { state: 'superseded' } });
    expect(await overlayPng(prisma, refs.a3!.measurementRef, 12)).toBeNull();
    await prisma.job.update({ where: { id: jobRef }, data: { state } });

    const empty = await studyDetail(
      prisma,
      (await prisma.study.findUniqueOrThrow({ where: { studyInstanceUid: '5.2.1' } })).id,
    );
    expect(empty?.results).toEqual([]);
    expect(empty?.study.patient?.patientId).toBe('PAT-005');
    expect(await studyDetail(prisma, crypto.randomUUID())).toBeNull();
    expect(await studyDetail(prisma, "1' OR '1'='1")).toBeNull();
  });

  it('counts the cohort’s latest results per stage exactly as a direct count does', async () => {
    const c = await cohortSummary(prisma);
    const direct = await directCohortCounts(prisma);
    expect(c.patients).toBe(await prisma.patient.count());
    expect(c.withResult).toBe(direct.withResult);
    expect(c.withResult).toBe(5); // PAT-001, -002, -006, -007, X-77
    expect(c.decaaf).toEqual(
      ['1', '2', '3', '4'].map((stage) => ({ stage, count: direct.decaafCounts[stage] ?? 0 })),
    );
    expect(c.utah).toEqual(
      ['I', 'II', 'III', 'IV'].map((stage) => ({ stage, count: direct.utahCounts[stage] ?? 0 })),
    );
    // PAT-002's 8 % (its 40 % was rejected), PAT-006's 14 %, PAT-001's 25 %, X-77's 30 %.
    expect(c.decaaf).toEqual([
      { stage: '1', count: 1 },
      { stage: '2', count: 1 },
      { stage: '3', count: 1 },
      { stage: '4', count: 1 },
    ]);
    expect(c.utah).toEqual([
      { stage: 'I', count: 0 },
      { stage: 'II', count: 2 },
      { stage: 'III', count: 2 },
      { stage: 'IV', count: 0 },
    ]);
    expect(c.unstaged).toBe(1);
    expect(c.points).toHaveLength(4);
    expect(c.points[0]).toEqual({
      patientRef: refs.a3!.patientRef,
      studyRef: refs.a3!.studyRef,
      scarBurdenPercent: 25,
      laVolumeMl: 100,
      decaafStage: '3',
    });
  });

  it('exports every result as CSV, quoted, with formulas neutralised', async () => {
    const rows = await collect(resultCsvRows(prisma));
    expect(rows).toHaveLength(await prisma.measurement.count());
    const named = rows.slice(0, -1).map((r) => r.patientId);
    expect(named).toEqual([...named].sort());
    // The study without a PatientID comes last, with an empty ID.
    expect(rows.at(-1)).toMatchObject({
      patientId: '',
      patientName: null,
      seriesInstanceUid: '8.2.1.1',
    });
    const a = rows.filter((r) => r.patientId === 'PAT-001');
    expect(a.map((r) => r.studyDate)).toEqual(['2023-01-10', '2023-07-01', '2024-02-01']);
    expect(a[0]).toMatchObject({
      patientName: 'SMITH^JOHN',
      seriesInstanceUid: '1.2.1.1',
      reviewState: 'accepted',
      reviewedByName: 'Dr Test',
      scarBurdenPercent: 12,
    });

    const evil: ResultCsvRow = {
      ...a[0]!,
      patientId: '=HYPERLINK("http://x","y")',
      patientName: 'DOE, "JJ"^JOHN',
      accessionNumber: '+1-555',
      burdenMethod: 'line one\nline two',
      modelVersion: '-2+3',
      decaafStage: '@SUM(A1)',
      utahStage: '\t=1',
      qcFlags: ['a', 'b'],
      reviewedAt: new Date('2024-01-02T03:04:05Z'),
    };
    async function* two() {
      yield a[0]!;
      yield evil;
    }
    const text = (await collect(toCsv(two()))).join('');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(
      'patientId,patientName,studyDate,accessionNumber,studyInstanceUid,seriesInstanceUid,laVolumeMl,scarVolumeMl,wallVolumeMl,scarBurdenPercent,burdenMethod,decaafStage,utahStage,modelVersion,syntheticTraining,reviewState,reviewedByName,reviewedAt,qcFlags',
    );
    expect(lines[1]).toMatch(/^PAT-001,SMITH\^JOHN,2023-01-10,,1\.2\.1,1\.2\.1\.1,100,4\.8,40,12,/);
    expect(text).toContain(
      `"'=HYPERLINK(""http://x"",""y"")","DOE, ""JJ""^JOHN",2023-01-10,'+1-555,`,
    );
    expect(text).toContain(
      `,"line one\nline two",'@SUM(A1),'\t=1,'-2+3,true,accepted,Dr Test,2024-01-02T03:04:05.000Z,a;b\r\n`,
    );
    expect(text.endsWith('\r\n')).toBe(true);
    expect(csvCell(-3.5)).toBe('-3.5'); // numbers are numbers, not formulas
    expect(csvCell(null)).toBe('');
  });

  it('signs a result off once; a rejection needs a reason', async () => {
    const ref = refs.c1!.measurementRef;
    const base = { reviewerId: 'u-9', reviewerName: 'Dr Nine' };
    await expect(recordReview(prisma, ref, { ...base, state: 'rejected' })).rejects.toThrow(
      /a rejected result needs a reason/,
    );
    await expect(
      recordReview(prisma, ref, { ...base, state: 'rejected', reason: '   ' }),
    ).rejects.toThrow(/needs a reason/);
    await expect(
      recordReview(prisma, ref, {
        ...base,
        state: 'rejected',
        reason: 'x',
        verifiedSrSopInstanceUid: '1.2.3',
      }),
    ).rejects.toThrow(/accepted result only/);
    await expect(
      recordReview(prisma, ref, { ...base, state: 'accepted', verifiedSrSopInstanceUid: '1.2.x' }),
    ).rejects.toThrow(/not a DICOM UID/);
    await expect(
      recordReview(prisma, crypto.randomUUID(), { ...base, state: 'accepted' }),
    ).rejects.toMatchObject({ code: 'not-found' });
    expect((await prisma.measurement.findUniqueOrThrow({ where: { id: ref } })).reviewState).toBe(
      'pending',
    );

    const before = new Date();
    await recordReview(prisma, ref, {
      ...base,
      state: 'accepted',
      verifiedSrSopInstanceUid: '2.25.123.4',
      audit: {
        userId: 'u-9',
        role: 'cardiologist',
        action: 'result.accept',
        outcome: 'ok',
        clientAddress: '10.0.0.9',
      },
    });
    const m = await prisma.measurement.findUniqueOrThrow({ where: { id: ref } });
    expect(m).toMatchObject({
      reviewState: 'accepted',
      reviewedById: 'u-9',
      reviewedByName: 'Dr Nine',
      reviewReason: null,
      verifiedSrSopInstanceUid: '2.25.123.4',
    });
    expect(m.reviewedAt!.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    const audit = await prisma.auditEvent.findMany({ where: { action: 'result.accept' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      userId: 'u-9',
      patientRef: refs.c1!.patientRef,
      studyRef: refs.c1!.studyRef,
      outcome: 'ok',
      clientAddress: '10.0.0.9',
    });

    await expect(
      recordReview(prisma, ref, { ...base, state: 'rejected', reason: 'second thoughts' }),
    ).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/already accepted by Dr Nine/),
    });
    const detail = await studyDetail(prisma, refs.c1!.studyRef);
    expect(detail?.results[0]).toMatchObject({
      reviewState: 'accepted',
      reviewedByName: 'Dr Nine',
      verifiedSrSopInstanceUid: '2.25.123.4',
    });

    // The verified SR may also be recorded after the decision, once; never on another result.
    await expect(recordVerifiedSr(prisma, ref, '2.25.123.5')).rejects.toThrow(
      /already 2\.25\.123\.4/,
    );
    await recordVerifiedSr(prisma, ref, '2.25.123.4'); // the same again: fine
    await expect(recordVerifiedSr(prisma, refs.a3!.measurementRef, '2.25.7')).rejects.toThrow(
      /is pending, not accepted/,
    );
    await recordReview(prisma, refs.a3!.measurementRef, { ...base, state: 'accepted' });
    await recordVerifiedSr(prisma, refs.a3!.measurementRef, '2.25.7');
    expect(
      (await prisma.measurement.findUniqueOrThrow({ where: { id: refs.a3!.measurementRef } }))
        .verifiedSrSopInstanceUid,
    ).toBe('2.25.7');
    await expect(recordVerifiedSr(prisma, crypto.randomUUID(), '2.25.7')).rejects.toMatchObject({
      code: 'not-found',
    });
    // A bad audit row is refused before anything is decided.
    await expect(
      recordReview(prisma, refs.f2!.measurementRef, {
        ...base,
        state: 'accepted',
        audit: { action: ' ', outcome: 'ok' },
      }),
    ).rejects.toThrow(/needs an action/);
    expect(
      (await prisma.measurement.findUniqueOrThrow({ where: { id: refs.f2!.measurementRef } }))
        .reviewState,
    ).toBe('pending');

    await recordReview(prisma, refs.f2!.measurementRef, {
      ...base,
      state: 'rejected',
      reason: ' leaks into the LAA ',
    });
    expect(
      await prisma.measurement.findUniqueOrThrow({ where: { id: refs.f2!.measurementRef } }),
    ).toMatchObject({ reviewState: 'rejected', reviewReason: 'leaks into the LAA' });
  });

  it('validates clinical event dates and kinds', async () => {
    const patientRef = refs.b1!.patientRef!;
    const add = (date: string, kind: 'ablation' | 'other' = 'ablation') =>
      addClinicalEvent(prisma, { patientRef, kind, date, createdById: 'u-1' });
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    await expect(add(tomorrow)).rejects.toThrow(/is in the future/);
    await expect(add('2024-02-30')).rejects.toThrow(
      /must be a date as YYYY-MM-DD, got "2024-02-30"/,
    );
    await expect(add('2024-2-3')).rejects.toThrow(/YYYY-MM-DD/);
    await expect(add('20240203')).rejects.toThrow(/YYYY-MM-DD/);
    await expect(add('1899-12-31')).rejects.toThrow(/before 1900/);
    await expect(
      addClinicalEvent(prisma, {
        patientRef,
        kind: 'surgery' as 'other',
        date: '2024-01-01',
        createdById: 'u-1',
      }),
    ).rejects.toThrow(/event kind must be one of ablation, cardioversion, other/);
    await expect(
      addClinicalEvent(prisma, {
        patientRef: crypto.randomUUID(),
        kind: 'other',
        date: '2024-01-01',
        createdById: 'u-1',
      }),
    ).rejects.toMatchObject({ code: 'not-found' });
    const today = new Date().toISOString().slice(0, 10);
    expect((await add(today, 'other')).date).toBe(today);
    expect((await add('2024-02-29')).date).toBe('2024-02-29');
    expect((await patientTimeline(prisma, patientRef))?.events.map((e) => e.date)).toEqual([
      '2024-02-29',
      today,
    ]);
  });

  it('appends audit rows that nobody can change, and counts recent login failures', async () => {
    await appendAudit(prisma, {
      userId: 'u-1',
      userEmail: 'a@b.org',
      role: 'cardiologist',
      action: 'patient.view',
      patientRef: refs.a1!.patientRef!,
      clientAddress: '10.0.0.1',
      outcome: 'ok',
    });
    await appendAudit(prisma, {
      action: 'patient.view',
      patientRef: '../etc/passwd',
      outcome: 'denied',
      detail: 'no session',
    });
    const rows = await prisma.auditEvent.findMany({
      where: { action: 'patient.view' },
      orderBy: { outcome: 'desc' },
    });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      userEmail: 'a@b.org',
      role: 'cardiologist',
      patientRef: refs.a1!.patientRef,
      outcome: 'ok',
    });
    expect(rows[1]).toMatchObject({
      patientRef: null,
      outcome: 'denied',
      detail: 'no session; patientRef=../etc/passwd',
    });
    await expect(appendAudit(prisma, { action: 'x', outcome: 'maybe' as 'ok' })).rejects.toThrow(
      /audit outcome must be ok, denied or failed/,
    );

    await expect(prisma.auditEvent.updateMany({ data: { outcome: 'ok' } })).rejects.toThrow(
      /append-only: UPDATE refused/,
    );
    await expect(prisma.auditEvent.deleteMany({})).rejects.toThrow(/append-only: DELETE refused/);
    expect(await prisma.auditEvent.count({ where: { action: 'patient.view' } })).toBe(2);

    const since = new Date(Date.now() - 60_000);
    const fail = (email: string, clientAddress?: string) =>
      appendAudit(prisma, {
        action: 'login.failure',
        userEmail: email,
        outcome: 'denied',
        ...(clientAddress ? { clientAddress } : {}),
      });
    await fail('Doc@Clinic.org', '10.1.1.1');
    await fail('doc@clinic.org', '10.1.1.2');
    await fail('other@clinic.org', '10.1.1.1');
    await fail('other@clinic.org', '10.9.9.9');
    await appendAudit(prisma, {
      action: 'login.success',
      userEmail: 'doc@clinic.org',
      clientAddress: '10.1.1.1',
      outcome: 'ok',
    });
    expect(await recentLoginFailures(prisma, 'doc@clinic.org', undefined, since)).toBe(2);
    expect(await recentLoginFailures(prisma, 'DOC@clinic.org', '10.1.1.1', since)).toBe(3);
    expect(await recentLoginFailures(prisma, 'nobody@clinic.org', '10.9.9.9', since)).toBe(1);
    expect(
      await recentLoginFailures(
        prisma,
        'doc@clinic.org',
        '10.1.1.1',
        new Date(Date.now() + 60_000),
      ),
    ).toBe(0);
  });

  it('formats DICOM dates and refuses impossible ones', () => {
    expect(isoStudyDate('20240229')).toBe('2024-02-29');
    expect(isoStudyDate('20230229')).toBeNull();
    expect(isoStudyDate('2024.01.02')).toBeNull();
    expect(isoStudyDate(null)).toBeNull();
  });
});

describe('on the embedded database (the quick start)', () => {
  it('answers the same queries through PGlite', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'lascar-clinical-'));
    const db = await openDatabase({ kind: 'embedded', dataDir, port: 0 });
    try {
      const prisma = db.prisma;
      await seedScale(prisma, { patients: 60, studiesPerPatient: 3, seed: 3, prefix: 'EMB' });
      const reference = await referenceOrder(prisma);
      const pages = [];
      for (let page = 1; page <= 3; page++) {
        pages.push(...(await listPatients(prisma, { page, pageSize: 25 })).rows.map((r) => r.id));
      }
      expect(pages).toEqual(reference);
      const found = await listPatients(prisma, { q: 'patient000007 emb' });
      expect(found.rows.map((r) => r.patientId)).toEqual(['EMB000007']);
      const t = await patientTimeline(prisma, found.rows[0]!.id);
      expect(t?.points).toHaveLength(3);
      const d = await studyDetail(prisma, t!.points[2]!.studyRef);
      expect(d?.results[0]?.stages).toHaveLength(6);
      const c = await cohortSummary(prisma);
      const direct = await directCohortCounts(prisma);
      expect(c.decaaf.map((s) => s.count)).toEqual(
        ['1', '2', '3', '4'].map((s) => direct.decaafCounts[s] ?? 0),
      );
      expect(c.withResult).toBe(60);
      expect(await collect(resultCsvRows(prisma))).toHaveLength(180);
      // Sign-off is a transaction: it must work through the embedded server's one session too.
      const pending = await prisma.measurement.findFirstOrThrow({
        where: { reviewState: 'pending' },
        select: { id: true, job: { select: { series: { select: { studyRef: true } } } } },
      });
      await recordReview(prisma, pending.id, {
        state: 'rejected',
        reason: 'test',
        reviewerId: 'u',
        reviewerName: 'U',
      });
      const after = await studyDetail(prisma, pending.job.series.studyRef);
      expect(after?.results[0]).toMatchObject({ reviewState: 'rejected', reviewReason: 'test' });
    } finally {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(label: string, runs: number, f: (i: number) => Promise<T>): Promise<T> {
  const ms: number[] = [];
  let last!: T;
  await f(0); // warm the connection and the plan cache
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    last = await f(i);
    ms.push(performance.now() - t);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(
    `${label}: median ${median(ms).toFixed(1)} ms, p95 ${sorted[Math.ceil(0.95 * sorted.length) - 1]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms (${runs} runs)`,
  );
  return last;
}

describe('at hospital scale: 10,000 patients, 50,000 studies', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = db.prisma;
    const seeded = await seedScale(prisma, { patients: 10_000, studiesPerPatient: 5, seed: 42 });
    console.log(
      `seedScale: ${seeded.patients} patients, ${seeded.studies} studies in ${(seeded.ms / 1000).toFixed(1)} s`,
    );
  }, 300_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('seeded what it says, plausibly', async () => {
    expect(await prisma.patient.count()).toBe(10_000);
    expect(await prisma.study.count()).toBe(50_000);
    expect(await prisma.measurement.count()).toBe(50_000);
    expect(await prisma.job.count({ where: { state: 'completed' } })).toBe(50_000);
    expect(
      await prisma.patient.count({ where: { patientName: { startsWith: 'BENCH^PATIENT' } } }),
    ).toBe(10_000);
    const pending = await prisma.measurement.count({ where: { reviewState: 'pending' } });
    expect(pending).toBeGreaterThan(1000);
    expect(pending).toBeLessThan(15_000);
    expect(
      await prisma.measurement.count({ where: { NOT: { qcFlags: { isEmpty: true } } } }),
    ).toBeGreaterThan(1000);
    expect(await prisma.clinicalEvent.count()).toBe(1303);
    const bad = await prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "Measurement" WHERE "scarBurdenPercent" IS NOT NULL AND (
         "scarBurdenPercent" < 0 OR "scarBurdenPercent" > 100 OR "laVolumeMl" < 30 OR "laVolumeMl" > 250
         OR abs(("scarInShellMl" + "scarInCavityMl") / ("wallVolumeMl" + "scarInCavityMl") * 100 - "scarBurdenPercent") > 1e-9
         OR "decaafStage" <> CASE WHEN "scarBurdenPercent" < 10 THEN '1' WHEN "scarBurdenPercent" < 20 THEN '2' WHEN "scarBurdenPercent" < 30 THEN '3' ELSE '4' END)`,
    );
    expect(bad[0]?.n).toBe(0);
    // The same seed gives the same values, through a Prisma client or a URL alike.
    const again = await createTestDatabase();
    try {
      await seedScale(again.prisma, {
        patients: 20,
        studiesPerPatient: 2,
        seed: 5,
        overlaysPerResult: 0,
      });
      const other = await createTestDatabase();
      try {
        await seedScale(other.url, {
          patients: 20,
          studiesPerPatient: 2,
          seed: 5,
          overlaysPerResult: 0,
        });
        const values = (p: PrismaClient) =>
          p.$queryRawUnsafe<
            unknown[]
          >(`SELECT st."studyDate", m."scarBurdenPercent", m."laVolumeMl", m."reviewState"::text
            FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef" JOIN "Series" se ON se.id = j."seriesRef"
            JOIN "Study" st ON st.id = se."studyRef" ORDER BY st."studyInstanceUid"`);
        expect(await values(other.prisma)).toEqual(await values(again.prisma));
      } finally {
        await other.drop();
      }
    } finally {
      await again.drop();
    }
  }, 120_000);

  it('pages the patient list in the reference order, early pages and deep ones', async () => {
    const reference = await referenceOrder(prisma);
    const page1 = await timed('listPatients page 1', 20, () => listPatients(prisma, { page: 1 }));
    expect(page1.total).toBe(10_000);
    expect(page1.rows.map((r) => r.id)).toEqual(reference.slice(0, 25));
    for (const page of [2, 16, 17, 40, 200, 400]) {
      const p = await listPatients(prisma, { page });
      expect(
        p.rows.map((r) => r.id),
        `page ${page}`,
      ).toEqual(reference.slice((page - 1) * 25, page * 25));
    }
    await timed('listPatients page 2-11', 10, (i) => listPatients(prisma, { page: 2 + i }));
    await timed('listPatients deep pages (random 17-400)', 10, (i) =>
      listPatients(prisma, { page: 17 + ((i * 97) % 384) }),
    );
    const big = await timed('listPatients page 1, 100 rows', 10, () =>
      listPatients(prisma, { pageSize: 100 }),
    );
    expect(big.rows.map((r) => r.id)).toEqual(reference.slice(0, 100));
    expect(big.rows.every((r) => r.studyCount === 5 && r.latest !== null)).toBe(true);
    expect(big.rows.some((r) => r.needsReviewCount > 0)).toBe(true);

    const byId = await timed('listPatients search by ID prefix', 10, () =>
      listPatients(prisma, { q: 'bench0012' }),
    );
    expect(byId.total).toBe(100);
    expect(byId.rows.map((r) => r.id)).toEqual(
      (await referenceOrder(prisma, 'bench0012')).slice(0, 25),
    );
    const byName = await timed('listPatients search by name parts', 10, () =>
      listPatients(prisma, { q: 'patient001234 bench' }),
    );
    expect(byName.rows.map((r) => r.patientId)).toEqual(['BENCH001234']);
    const everyone = await timed('listPatients search matching all, page 100', 5, () =>
      listPatients(prisma, { q: 'bench', page: 100 }),
    );
    expect(everyone.rows.map((r) => r.id)).toEqual(reference.slice(99 * 25, 100 * 25));
  }, 300_000);

  it('reads a patient page and a study page', async () => {
    const ids = (
      await prisma.patient.findMany({
        select: { id: true },
        orderBy: { patientId: 'asc' },
        take: 200,
      })
    ).map((p) => p.id);
    const t = await timed('patientTimeline', 20, (i) =>
      patientTimeline(prisma, ids[(i * 7) % ids.length]!),
    );
    expect(t?.points).toHaveLength(5);
    const dates = t!.points.map((p) => p.studyDate ?? '9999');
    expect(dates).toEqual([...dates].sort());

    const studies = (
      await prisma.study.findMany({
        select: { id: true },
        take: 200,
        orderBy: { studyInstanceUid: 'asc' },
      })
    ).map((s) => s.id);
    const d = await timed('studyDetail', 20, (i) =>
      studyDetail(prisma, studies[(i * 13) % studies.length]!),
    );
    expect(d?.results).toHaveLength(1);
    const r = d!.results[0]!;
    expect(r.overlays).toHaveLength(3);
    expect(r.stages.map((s) => s.stage)).toEqual([
      'retrieve',
      'load',
      'la_model',
      'scar_model',
      'write',
      'store',
    ]);
    expect(r.processingMs).toBeCloseTo(
      r.stages.reduce((s, x) => s + (x.durationMs ?? 0), 0),
      6,
    );

    const retried = await prisma.job.findFirstOrThrow({
      where: { attempts: 2 },
      select: { series: { select: { studyRef: true } } },
    });
    const rd = await studyDetail(prisma, retried.series.studyRef);
    expect(rd?.results[0]?.attempts).toBe(2);
    expect(rd?.results[0]?.stages).toHaveLength(6);
    expect(rd?.results[0]?.stages.every((s) => s.error === null)).toBe(true);
    expect(await prisma.jobStage.count({ where: { job: { id: rd!.results[0]!.jobRef } } })).toBe(7);
  }, 120_000);

  it('summarises the cohort as a direct count does, and exports every result', async () => {
    const c = await timed('cohortSummary', 3, () => cohortSummary(prisma));
    const direct = await directCohortCounts(prisma);
    expect(c.patients).toBe(10_000);
    expect(c.withResult).toBe(direct.withResult);
    expect(c.decaaf.map((s) => s.count)).toEqual(
      ['1', '2', '3', '4'].map((s) => direct.decaafCounts[s] ?? 0),
    );
    expect(c.utah.map((s) => s.count)).toEqual(
      ['I', 'II', 'III', 'IV'].map((s) => direct.utahCounts[s] ?? 0),
    );
    expect(c.unstaged).toBe(direct.unstaged);
    expect(c.points).toHaveLength(5000);
    for (const p of c.points.slice(0, 50)) {
      expect(direct.latest.get(p.patientRef)?.id).toBeDefined();
    }
    // The list's latest is the cohort's latest.
    const page = await listPatients(prisma, { pageSize: 100, page: 3 });
    for (const row of page.rows)
      expect(row.latest?.measurementRef).toBe(direct.latest.get(row.id)?.id);

    const t0 = performance.now();
    let lines = 0;
    const uids = new Set<string>();
    let previous = '';
    for await (const row of resultCsvRows(prisma)) {
      uids.add(row.seriesInstanceUid);
      expect(row.patientId >= previous).toBe(true);
      previous = row.patientId;
      lines++;
    }
    console.log(`resultCsvRows: ${lines} rows in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(lines).toBe(50_000);
    expect(uids.size).toBe(50_000);
  }, 300_000);
});
