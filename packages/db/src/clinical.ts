/**
 * What the cardiologists' pages read and write: the patient list, a patient's burden over time,
 * a study's results, the key-slice pictures, the cohort, the CSV export, sign-off, clinical
 * events and the audit trail. Access control is the caller's (the dashboard's data layer): these
 * functions answer for whoever asks. Identifiers in and out are internal row ids (uuid), never
 * names; a malformed id reads as "not found".
 *
 * One definition of "latest result" is used everywhere (list, cohort): the newest result that
 * was not rejected at sign-off, newest by study date (undated studies last), then by when it was
 * measured. A result a cardiologist rejected is still shown on the timeline and the study page,
 * but it never stands as the patient's current burden.
 */
import { Prisma, type PrismaClient } from './generated/prisma/client.js';
import type { ReviewState } from './generated/prisma/enums.js';

export type ClinicalErrorCode = 'invalid' | 'not-found' | 'conflict';

/** Bad input, a missing row or a decision already taken: the message is one line for the user. */
export class ClinicalError extends Error {
  override name = 'ClinicalError';
  constructor(
    readonly code: ClinicalErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DICOM_UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** DICOM DA (YYYYMMDD) as YYYY-MM-DD, or null when absent or not a calendar date. */
export function isoStudyDate(da: string | null | undefined): string | null {
  if (!da || !/^\d{8}$/.test(da)) return null;
  const iso = `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}`;
  return isCalendarDate(iso) ? iso : null;
}

function isCalendarDate(iso: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return false;
  const d = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
}

// A study's date for ordering. DICOM DA text (YYYYMMDD) sorts by date; a value that does not
// start like one ("UNKNOWN") counts as undated, so that it can never pin a patient to the top of
// the list. A range, not a regular expression: it is an index condition, and a regex over 50,000
// studies was measured here at five times the cost of the scan itself.
function dated(column: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`${column} BETWEEN '00000000' AND '99999999'`;
}
const STUDY_DATE = Prisma.sql`CASE WHEN ${dated(Prisma.sql`st."studyDate"`)} THEN st."studyDate" END`;

// A superseded result (a newer instance set of its series replaced it) is in no clinical view.
const RESULT_FROM = Prisma.sql`"Measurement" m
  JOIN "Job" j ON j.id = m."jobRef" AND j.state <> 'superseded'
  JOIN "Series" se ON se.id = j."seriesRef"
  JOIN "Study" st ON st.id = se."studyRef"`;

/** Newest first: the order that picks a patient's latest result. */
const NEWEST_RESULT_FIRST = Prisma.sql`${STUDY_DATE} DESC NULLS LAST, m."createdAt" DESC, m.id DESC`;

// ---------------------------------------------------------------------------------------------
// The patient list
// ---------------------------------------------------------------------------------------------

export interface PatientListQuery {
  q?: string;
  /** 1-based. */
  page?: number;
  /** Default 25, at most 100 (larger values are clamped). */
  pageSize?: number;
}

export interface LatestResult {
  measurementRef: string;
  studyRef: string;
  /** YYYY-MM-DD */
  studyDate: string | null;
  scarBurdenPercent: number | null;
  decaafStage: string | null;
  utahStage: string | null;
  burdenMethod: string;
  modelVersion: string;
  syntheticTraining: boolean;
  laVolumeMl: number;
  reviewState: ReviewState;
  qcFlags: string[];
}

export interface PatientListRow {
  /** Patient.id, internal. */
  id: string;
  patientId: string;
  patientName: string | null;
  studyCount: number;
  /** The newest study's date (YYYY-MM-DD), with or without a result: the list's order. */
  latestStudyDate: string | null;
  latest: LatestResult | null;
  previousBurdenPercent: number | null;
  /** latest - previous burden, percentage points (the previous result is another study's). */
  trendPoints: number | null;
  /** False when the two results were measured with another burden method or model version. */
  trendComparable: boolean | null;
  /** Results still pending sign-off (QC-flagged or not). */
  needsReviewCount: number;
  /** Some result pending sign-off carries QC flags. */
  qcFlagged: boolean;
  /** The QC flags of the results pending sign-off (each once), as stored: "<code>: <reason>". */
  qcFlags: string[];
}

export interface PatientListPage {
  rows: PatientListRow[];
  total: number;
  page: number;
  pageSize: number;
}

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;
const MAX_QUERY_LENGTH = 100;
// Walking studies newest first pays per patient passed; aggregating every patient's newest date
// pays for all of them. Past this many expected patients walked, the aggregate is cheaper.
const WALK_LIMIT = 400;
// Below this many matching patients, their newest dates are looked up one by one (index);
// above, one pass over all studies is cheaper.
const LOOKUP_LIMIT = 2000;

function pagingOf(query: PatientListQuery): { page: number; pageSize: number } {
  const page = query.page ?? 1;
  const requested = query.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(page) || page < 1) {
    throw new ClinicalError('invalid', `page must be a whole number from 1, got ${page}`);
  }
  if (!Number.isInteger(requested) || requested < 1) {
    throw new ClinicalError('invalid', `page size must be a whole number from 1, got ${requested}`);
  }
  return { page, pageSize: Math.min(requested, MAX_PAGE_SIZE) };
}

function likeEscaped(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The search as a condition on Patient p: the PatientID starts with the text, or every word of
 * it occurs in the name. DICOM names separate their parts with ^, so "smith john" and
 * "john smith" both find SMITH^JOHN.
 */
function patientSearchCondition(q: string | undefined): Prisma.Sql {
  const text = (q ?? '').trim();
  if (text === '') return Prisma.sql`TRUE`;
  if (text.length > MAX_QUERY_LENGTH) {
    throw new ClinicalError(
      'invalid',
      `search text is ${text.length} characters long; at most ${MAX_QUERY_LENGTH}`,
    );
  }
  const words = text.split(/[\s^,]+/).filter((w) => w !== '');
  // lower() LIKE lower() rather than ILIKE: the same match, measured here at half the cost.
  const byId = Prisma.sql`lower(p."patientId") LIKE lower(${likeEscaped(text) + '%'})`;
  if (words.length === 0) return byId;
  const byName = Prisma.join(
    words.map((w) => Prisma.sql`lower(p."patientName") LIKE lower(${'%' + likeEscaped(w) + '%'})`),
    ' AND ',
  );
  return Prisma.sql`(${byId} OR (${byName}))`;
}

/**
 * The page's patients, walking studies newest first and keeping each patient's newest one:
 * cheap for the first pages, since it stops after offset + limit patients.
 */
function walkNewestStudies(where: Prisma.Sql, limit: number, offset: number): Prisma.Sql {
  return Prisma.sql`
    SELECT p.id, p."patientId", p."patientName", st."studyDate" AS "lastStudyDate"
    FROM "Study" st JOIN "Patient" p ON p.id = st."patientRef"
    WHERE ${dated(Prisma.sql`st."studyDate"`)} AND ${where}
      AND NOT EXISTS (
        SELECT 1 FROM "Study" n
        WHERE n."patientRef" = st."patientRef" AND ${dated(Prisma.sql`n."studyDate"`)}
          AND (n."studyDate" > st."studyDate" OR (n."studyDate" = st."studyDate" AND n.id < st.id)))
    ORDER BY st."studyDate" DESC, p."patientId"
    LIMIT ${limit} OFFSET ${offset}`;
}

/** The page's patients from every matching patient's newest study date and one sort: any page. */
function sortByNewestStudy(
  where: Prisma.Sql,
  limit: number,
  offset: number,
  matching: number,
): Prisma.Sql {
  // Few matches: look each one's newest date up in the index; many: one pass over all studies.
  const newest =
    matching <= LOOKUP_LIMIT
      ? Prisma.sql`LEFT JOIN LATERAL (
          SELECT max(st."studyDate") AS d FROM "Study" st
          WHERE st."patientRef" = p.id AND ${dated(Prisma.sql`st."studyDate"`)}) l ON TRUE`
      : Prisma.sql`LEFT JOIN (
          SELECT st."patientRef", max(st."studyDate") AS d FROM "Study" st
          WHERE ${dated(Prisma.sql`st."studyDate"`)} GROUP BY st."patientRef") l
          ON l."patientRef" = p.id`;
  return Prisma.sql`
    SELECT p.id, p."patientId", p."patientName", l.d AS "lastStudyDate"
    FROM "Patient" p ${newest}
    WHERE ${where}
    ORDER BY l.d DESC NULLS LAST, p."patientId"
    LIMIT ${limit} OFFSET ${offset}`;
}

/** One result of a patient, as the list and the cohort weigh it (the shape of its latest). */
type PatientResultSummaryRow = LatestResult;

/**
 * A patient's latest result, the previous study's, the trend and the review counts, from the
 * patient's results ordered newest first (NEWEST_RESULT_FIRST).
 */
function summariseResults(
  newestFirst: readonly PatientResultSummaryRow[],
): Pick<
  PatientListRow,
  | 'latest'
  | 'previousBurdenPercent'
  | 'trendPoints'
  | 'trendComparable'
  | 'needsReviewCount'
  | 'qcFlagged'
  | 'qcFlags'
> {
  const standing = newestFirst.filter((r) => r.reviewState !== 'rejected');
  const latest = standing[0];
  const previous = latest ? standing.find((r) => r.studyRef !== latest.studyRef) : undefined;
  const pending = newestFirst.filter((r) => r.reviewState === 'pending');
  const both = latest && previous;
  return {
    latest: latest ? { ...latest, studyDate: isoStudyDate(latest.studyDate) } : null,
    previousBurdenPercent: previous?.scarBurdenPercent ?? null,
    trendPoints:
      latest?.scarBurdenPercent != null && previous?.scarBurdenPercent != null
        ? latest.scarBurdenPercent - previous.scarBurdenPercent
        : null,
    trendComparable: both
      ? latest.burdenMethod === previous.burdenMethod &&
        latest.modelVersion === previous.modelVersion
      : null,
    needsReviewCount: pending.length,
    qcFlagged: pending.some((r) => r.qcFlags.length > 0),
    qcFlags: [...new Set(pending.flatMap((r) => r.qcFlags))],
  };
}

const SUMMARY_COLUMNS = Prisma.sql`m.id::text AS "measurementRef", st.id::text AS "studyRef",
  ${STUDY_DATE} AS "studyDate", m."scarBurdenPercent", m."decaafStage", m."utahStage",
  m."burdenMethod", m."modelVersion", m."syntheticTraining", m."laVolumeMl",
  m."reviewState"::text AS "reviewState", m."qcFlags"`;

type PageRow = PatientResultSummaryRow & {
  id: string;
  patientId: string;
  patientName: string | null;
  lastStudyDate: string | null;
  studyCount: number;
};

/** The page's patients (in order) with their study counts and results, in one round trip. */
async function pageWithResults(prisma: PrismaClient, page: Prisma.Sql): Promise<PatientListRow[]> {
  const rows = await prisma.$queryRaw<
    (PageRow | Nullable<PageRow, keyof PatientResultSummaryRow>)[]
  >`
    WITH page AS MATERIALIZED (${page})
    SELECT page.id::text AS id, page."patientId", page."patientName", page."lastStudyDate",
           sc.n AS "studyCount", r.*
    FROM page
    CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM "Study" s WHERE s."patientRef" = page.id) sc
    LEFT JOIN LATERAL (
      SELECT ${SUMMARY_COLUMNS}, ${STUDY_DATE} AS "sortDate", m."createdAt" AS "sortCreated",
             m.id AS "sortId"
      FROM ${RESULT_FROM}
      WHERE st."patientRef" = page.id) r ON TRUE
    ORDER BY page."lastStudyDate" DESC NULLS LAST, page."patientId",
             r."sortDate" DESC NULLS LAST, r."sortCreated" DESC, r."sortId" DESC`;
  const patients = new Map<string, { row: PatientListRow; results: PatientResultSummaryRow[] }>();
  for (const r of rows) {
    let entry = patients.get(r.id);
    if (!entry) {
      entry = {
        row: {
          id: r.id,
          patientId: r.patientId,
          patientName: r.patientName,
          studyCount: r.studyCount,
          latestStudyDate: isoStudyDate(r.lastStudyDate),
          ...summariseResults([]),
        },
        results: [],
      };
      patients.set(r.id, entry);
    }
    if (r.measurementRef !== null) entry.results.push(summaryOf(r as PageRow));
  }
  return [...patients.values()].map(({ row, results }) => ({
    ...row,
    ...summariseResults(results),
  }));
}

type Nullable<T, K extends keyof T> = Omit<T, K> & { [P in K]: T[P] | null };

function summaryOf(r: PatientResultSummaryRow): PatientResultSummaryRow {
  return {
    measurementRef: r.measurementRef,
    studyRef: r.studyRef,
    studyDate: r.studyDate,
    scarBurdenPercent: r.scarBurdenPercent,
    decaafStage: r.decaafStage,
    utahStage: r.utahStage,
    burdenMethod: r.burdenMethod,
    modelVersion: r.modelVersion,
    syntheticTraining: r.syntheticTraining,
    laVolumeMl: r.laVolumeMl,
    reviewState: r.reviewState,
    qcFlags: r.qcFlags,
  };
}

/**
 * One page of patients, newest study first (undated last), then by PatientID. Paged in the
 * database: the page's patients are found first (walking the study-date index for early pages,
 * sorting the matching patients' newest dates otherwise), then only their results are read.
 */
export async function listPatients(
  prisma: PrismaClient,
  query: PatientListQuery,
): Promise<PatientListPage> {
  const { page, pageSize } = pagingOf(query);
  const where = patientSearchCondition(query.q);
  const [counts] = await prisma.$queryRaw<{ total: number; everyone: number }[]>`
    SELECT (count(*) FILTER (WHERE ${where}))::int AS total, count(*)::int AS everyone
    FROM "Patient" p`;
  const total = counts?.total ?? 0;
  const everyone = counts?.everyone ?? 0;
  const offset = (page - 1) * pageSize;
  const expected = Math.min(pageSize, total - offset);
  if (expected <= 0) return { rows: [], total, page, pageSize };

  // Matching patients are spread evenly among all, so reaching offset + pageSize of them walks
  // about (offset + pageSize) * everyone / total patients.
  const walk = ((offset + pageSize) * everyone) / total <= WALK_LIMIT;
  let rows = await pageWithResults(
    prisma,
    walk
      ? walkNewestStudies(where, pageSize, offset)
      : sortByNewestStudy(where, pageSize, offset, total),
  );
  // Short: the page reaches patients without a dated study, whom the walk cannot see.
  if (walk && rows.length < expected) {
    rows = await pageWithResults(prisma, sortByNewestStudy(where, pageSize, offset, total));
  }
  return { rows, total, page, pageSize };
}

// ---------------------------------------------------------------------------------------------
// A patient's timeline
// ---------------------------------------------------------------------------------------------

export interface TrendPoint {
  measurementRef: string;
  jobRef: string;
  studyRef: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  seriesDescription: string | null;
  /** YYYY-MM-DD */
  studyDate: string | null;
  measuredAt: Date;
  scarBurdenPercent: number | null;
  laVolumeMl: number;
  scarVolumeMl: number;
  wallVolumeMl: number;
  decaafStage: string | null;
  utahStage: string | null;
  burdenMethod: string;
  wallDefinition: string;
  modelVersion: string;
  syntheticTraining: boolean;
  reviewState: ReviewState;
  qcFlags: string[];
}

export interface ClinicalEventRow {
  id: string;
  kind: string;
  /** YYYY-MM-DD */
  date: string;
  note: string | null;
  createdById: string;
  createdAt: Date;
}

export interface PatientRef {
  id: string;
  patientId: string;
  patientName: string | null;
}

const POINT_COLUMNS = Prisma.sql`m.id::text AS "measurementRef", j.id::text AS "jobRef",
  st.id::text AS "studyRef", st."studyInstanceUid", se."seriesInstanceUid", se."seriesDescription",
  ${STUDY_DATE} AS "studyDate", m."createdAt" AS "measuredAt", m."scarBurdenPercent",
  m."laVolumeMl", m."scarVolumeMl", m."wallVolumeMl", m."decaafStage", m."utahStage",
  m."burdenMethod", m."wallDefinition", m."modelVersion", m."syntheticTraining",
  m."reviewState"::text AS "reviewState", m."qcFlags"`;

function pointOf<T extends TrendPoint>(row: T): T {
  return { ...row, studyDate: isoStudyDate(row.studyDate) };
}

function eventOf(e: {
  id: string;
  kind: string;
  date: Date;
  note: string | null;
  createdById: string;
  createdAt: Date;
}): ClinicalEventRow {
  return { ...e, date: e.date.toISOString().slice(0, 10) };
}

/**
 * Every result of a patient (rejected ones included, marked by reviewState), oldest study first
 * (undated last), then by when it was measured; and the patient's clinical events by date.
 */
export async function patientTimeline(
  prisma: PrismaClient,
  patientRef: string,
): Promise<{ patient: PatientRef; points: TrendPoint[]; events: ClinicalEventRow[] } | null> {
  if (!isUuid(patientRef)) return null;
  const [patient, points, events] = await Promise.all([
    prisma.patient.findUnique({
      where: { id: patientRef },
      select: { id: true, patientId: true, patientName: true },
    }),
    prisma.$queryRaw<TrendPoint[]>`
      SELECT ${POINT_COLUMNS} FROM ${RESULT_FROM}
      WHERE st."patientRef" = ${patientRef}::uuid
      ORDER BY ${STUDY_DATE} ASC NULLS LAST, m."createdAt" ASC, m.id ASC`,
    prisma.clinicalEvent.findMany({
      where: { patientRef },
      orderBy: [{ date: 'asc' }, { createdAt: 'asc' }],
      select: { id: true, kind: true, date: true, note: true, createdById: true, createdAt: true },
    }),
  ]);
  if (!patient) return null;
  return { patient, points: points.map(pointOf), events: events.map(eventOf) };
}

// ---------------------------------------------------------------------------------------------
// A study's results
// ---------------------------------------------------------------------------------------------

export interface StageTiming {
  stage: string;
  durationMs: number | null;
  startedAt: Date;
  error: string | null;
}

export interface ResultDetail extends TrendPoint {
  scarInShellMl: number | null;
  scarInCavityMl: number | null;
  executionProvider: string;
  provenance: unknown;
  jobState: string;
  attempts: number;
  segSeriesInstanceUid: string | null;
  segSopInstanceUid: string | null;
  srSeriesInstanceUid: string | null;
  srSopInstanceUid: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The last attempt's stages, in pipeline order. */
  stages: StageTiming[];
  /** Sum of the last attempt's stage durations (null without timings). */
  processingMs: number | null;
  overlays: { sliceIndex: number; width: number; height: number }[];
  reviewedById: string | null;
  reviewedByName: string | null;
  reviewedAt: Date | null;
  reviewReason: string | null;
  verifiedSrSopInstanceUid: string | null;
}

export interface StudyDetail {
  study: {
    id: string;
    studyInstanceUid: string;
    /** YYYY-MM-DD */
    studyDate: string | null;
    accessionNumber: string | null;
    patient: PatientRef | null;
  };
  /** Newest first. */
  results: ResultDetail[];
}

const STAGE_ORDER = ['retrieve', 'load', 'la_model', 'scar_model', 'write', 'store'];

type DetailRow = Omit<ResultDetail, 'stages' | 'processingMs' | 'overlays'>;

export async function studyDetail(
  prisma: PrismaClient,
  studyRef: string,
): Promise<StudyDetail | null> {
  if (!isUuid(studyRef)) return null;
  const [study, rows] = await Promise.all([
    prisma.study.findUnique({
      where: { id: studyRef },
      select: {
        id: true,
        studyInstanceUid: true,
        studyDate: true,
        accessionNumber: true,
        patient: { select: { id: true, patientId: true, patientName: true } },
      },
    }),
    prisma.$queryRaw<DetailRow[]>`
      SELECT ${POINT_COLUMNS}, m."scarInShellMl", m."scarInCavityMl", m."executionProvider",
             m.provenance, j.state::text AS "jobState", j.attempts, j."segSeriesInstanceUid",
             j."segSopInstanceUid", j."srSeriesInstanceUid", j."srSopInstanceUid", j."startedAt",
             j."finishedAt", m."reviewedById", m."reviewedByName", m."reviewedAt",
             m."reviewReason", m."verifiedSrSopInstanceUid"
      FROM ${RESULT_FROM}
      WHERE st.id = ${studyRef}::uuid
      ORDER BY m."createdAt" DESC, m.id DESC`,
  ]);
  if (!study) return null;
  const jobRefs = rows.map((r) => r.jobRef);
  const measurementRefs = rows.map((r) => r.measurementRef);
  const [stages, overlays] = await Promise.all([
    jobRefs.length
      ? prisma.jobStage.findMany({
          where: { jobRef: { in: jobRefs } },
          select: {
            jobRef: true,
            attempt: true,
            stage: true,
            durationMs: true,
            startedAt: true,
            error: true,
          },
        })
      : [],
    measurementRefs.length
      ? prisma.overlayImage.findMany({
          where: { measurementRef: { in: measurementRefs } },
          select: { measurementRef: true, sliceIndex: true, width: true, height: true },
          orderBy: { sliceIndex: 'asc' },
        })
      : [],
  ]);
  const results = rows.map((r): ResultDetail => {
    const mine = stages.filter((s) => s.jobRef === r.jobRef);
    const lastAttempt = Math.max(-Infinity, ...mine.map((s) => s.attempt));
    const last = mine
      .filter((s) => s.attempt === lastAttempt)
      .sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage))
      .map((s) => ({
        stage: s.stage,
        durationMs: s.durationMs,
        startedAt: s.startedAt,
        error: s.error,
      }));
    const timed = last.filter((s) => s.durationMs !== null);
    return {
      ...pointOf(r),
      stages: last,
      processingMs: timed.length ? timed.reduce((sum, s) => sum + (s.durationMs ?? 0), 0) : null,
      overlays: overlays
        .filter((o) => o.measurementRef === r.measurementRef)
        .map(({ sliceIndex, width, height }) => ({ sliceIndex, width, height })),
    };
  });
  return {
    study: {
      id: study.id,
      studyInstanceUid: study.studyInstanceUid,
      studyDate: isoStudyDate(study.studyDate),
      accessionNumber: study.accessionNumber,
      patient: study.patient,
    },
    results,
  };
}

/** A key-slice picture, with the patient and study it shows (for the audit row). */
export async function overlayPng(
  prisma: PrismaClient,
  measurementRef: string,
  sliceIndex: number,
): Promise<{ png: Uint8Array; patientRef: string | null; studyRef: string } | null> {
  if (!isUuid(measurementRef) || !Number.isInteger(sliceIndex) || sliceIndex < 0) return null;
  if (sliceIndex > 2_147_483_647) return null;
  const row = await prisma.overlayImage.findUnique({
    where: { measurementRef_sliceIndex: { measurementRef, sliceIndex } },
    select: {
      png: true,
      measurement: {
        select: {
          job: {
            select: {
              state: true,
              series: { select: { study: { select: { id: true, patientRef: true } } } },
            },
          },
        },
      },
    },
  });
  // A superseded result is in no clinical view, and its pictures are not served either.
  if (!row || row.measurement.job.state === 'superseded') return null;
  const study = row.measurement.job.series.study;
  return { png: new Uint8Array(row.png), patientRef: study.patientRef, studyRef: study.id };
}

// ---------------------------------------------------------------------------------------------
// The cohort
// ---------------------------------------------------------------------------------------------

export interface CohortSummary {
  /** Latest results per DECAAF stage, stages 1-4 always listed (then any other label found). */
  decaaf: { stage: string; count: number }[];
  /** Latest results per Utah stage, I-IV always listed. */
  utah: { stage: string; count: number }[];
  /** Latest results without a burden (no wall found), hence no stage. */
  unstaged: number;
  /** Latest result per patient (newest studies first), at most 5000, burden known. */
  points: {
    patientRef: string;
    studyRef: string;
    scarBurdenPercent: number;
    laVolumeMl: number;
    decaafStage: string | null;
  }[];
  patients: number;
  withResult: number;
}

const DECAAF_STAGES = ['1', '2', '3', '4'];
const UTAH_STAGES = ['I', 'II', 'III', 'IV'];
const MAX_COHORT_POINTS = 5000;

function stageCounts(
  known: readonly string[],
  found: readonly { stage: string | null; count: number }[],
): { stage: string; count: number }[] {
  const counts = new Map(known.map((s) => [s, 0]));
  for (const f of found) {
    if (f.stage !== null) counts.set(f.stage, (counts.get(f.stage) ?? 0) + f.count);
  }
  return [...counts].map(([stage, count]) => ({ stage, count }));
}

export async function cohortSummary(prisma: PrismaClient): Promise<CohortSummary> {
  const [row] = await prisma.$queryRaw<
    {
      patients: number;
      withResult: number;
      decaaf: { stage: string | null; count: number }[];
      utah: { stage: string | null; count: number }[];
      points: CohortSummary['points'];
    }[]
  >`
    WITH latest AS MATERIALIZED (
      SELECT DISTINCT ON (st."patientRef") st."patientRef", st.id AS "studyRef",
             ${STUDY_DATE} AS "studyDate", m."scarBurdenPercent", m."laVolumeMl",
             m."decaafStage", m."utahStage"
      FROM ${RESULT_FROM}
      WHERE st."patientRef" IS NOT NULL AND m."reviewState" <> 'rejected'
      ORDER BY st."patientRef", ${NEWEST_RESULT_FIRST}
    )
    SELECT
      (SELECT count(*)::int FROM "Patient") AS patients,
      (SELECT count(*)::int FROM latest) AS "withResult",
      (SELECT coalesce(json_agg(json_build_object('stage', s, 'count', n)), '[]'::json)
         FROM (SELECT "decaafStage" AS s, count(*)::int AS n FROM latest GROUP BY 1) d) AS decaaf,
      (SELECT coalesce(json_agg(json_build_object('stage', s, 'count', n)), '[]'::json)
         FROM (SELECT "utahStage" AS s, count(*)::int AS n FROM latest GROUP BY 1) u) AS utah,
      (SELECT coalesce(json_agg(json_build_object(
                'patientRef', "patientRef", 'studyRef', "studyRef",
                'scarBurdenPercent', "scarBurdenPercent", 'laVolumeMl', "laVolumeMl",
                'decaafStage', "decaafStage")), '[]'::json)
         FROM (SELECT * FROM latest WHERE "scarBurdenPercent" IS NOT NULL
               ORDER BY "studyDate" DESC NULLS LAST, "patientRef"
               LIMIT ${MAX_COHORT_POINTS}) x) AS points`;
  if (!row) throw new Error('the cohort query returned no row');
  const decaaf = stageCounts(DECAAF_STAGES, row.decaaf);
  return {
    decaaf,
    utah: stageCounts(UTAH_STAGES, row.utah),
    unstaged: row.decaaf.filter((d) => d.stage === null).reduce((s, d) => s + d.count, 0),
    points: row.points,
    patients: row.patients,
    withResult: row.withResult,
  };
}

// ---------------------------------------------------------------------------------------------
// The CSV export
// ---------------------------------------------------------------------------------------------

export interface ResultCsvRow {
  /** Empty when the study came without a PatientID. */
  patientId: string;
  patientName: string | null;
  /** YYYY-MM-DD */
  studyDate: string | null;
  accessionNumber: string | null;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  laVolumeMl: number;
  scarVolumeMl: number;
  wallVolumeMl: number;
  scarBurdenPercent: number | null;
  burdenMethod: string;
  decaafStage: string | null;
  utahStage: string | null;
  modelVersion: string;
  syntheticTraining: boolean;
  reviewState: string;
  reviewedByName: string | null;
  reviewedAt: Date | null;
  qcFlags: string[];
}

const CSV_PAGE = 1000;

const CSV_COLUMNS = Prisma.sql`st."studyDate" AS "rawStudyDate", st."accessionNumber",
  st."studyInstanceUid", se."seriesInstanceUid", m."laVolumeMl", m."scarVolumeMl",
  m."wallVolumeMl", m."scarBurdenPercent", m."burdenMethod", m."decaafStage", m."utahStage",
  m."modelVersion", m."syntheticTraining", m."reviewState"::text AS "reviewState",
  m."reviewedByName", m."reviewedAt", m."qcFlags", m.id::text AS "keyId",
  m."createdAt"::text AS "keyCreated"`;

type CsvQueryRow = Omit<ResultCsvRow, 'studyDate' | 'patientId' | 'patientName'> & {
  rawStudyDate: string | null;
  keyId: string;
  keyCreated: string;
};

function csvRowOf(
  r: CsvQueryRow,
  patientId: string | null,
  patientName: string | null,
): ResultCsvRow {
  return {
    patientId: patientId ?? '',
    patientName,
    studyDate: isoStudyDate(r.rawStudyDate),
    accessionNumber: r.accessionNumber,
    studyInstanceUid: r.studyInstanceUid,
    seriesInstanceUid: r.seriesInstanceUid,
    laVolumeMl: r.laVolumeMl,
    scarVolumeMl: r.scarVolumeMl,
    wallVolumeMl: r.wallVolumeMl,
    scarBurdenPercent: r.scarBurdenPercent,
    burdenMethod: r.burdenMethod,
    decaafStage: r.decaafStage,
    utahStage: r.utahStage,
    modelVersion: r.modelVersion,
    syntheticTraining: r.syntheticTraining,
    reviewState: r.reviewState,
    reviewedByName: r.reviewedByName,
    reviewedAt: r.reviewedAt,
    qcFlags: r.qcFlags,
  };
}

/**
 * Every result, by PatientID, then study date (undated last), then measurement time; read in
 * pages of 1000 with a keyset (each page is one indexed range, however deep), so an export never
 * holds the whole table or a long transaction. Results of studies without a patient come last.
 */
export async function* resultCsvRows(prisma: PrismaClient): AsyncGenerator<ResultCsvRow> {
  const sortDate = Prisma.sql`coalesce(${STUDY_DATE}, '99999999')`;
  let after: { patientId: string; date: string; created: string; id: string } | undefined;
  for (;;) {
    const keyset = after
      ? Prisma.sql`AND p."patientId" >= ${after.patientId}
          AND (p."patientId", ${sortDate}, m."createdAt", m.id)
            > (${after.patientId}, ${after.date}, ${after.created}::timestamp, ${after.id}::uuid)`
      : Prisma.empty;
    const rows = await prisma.$queryRaw<
      (CsvQueryRow & { patientId: string; patientName: string | null; keyDate: string })[]
    >`
      SELECT p."patientId", p."patientName", ${sortDate} AS "keyDate", ${CSV_COLUMNS}
      FROM "Patient" p JOIN "Study" st ON st."patientRef" = p.id
        JOIN "Series" se ON se."studyRef" = st.id
        JOIN "Job" j ON j."seriesRef" = se.id AND j.state <> 'superseded'
        JOIN "Measurement" m ON m."jobRef" = j.id
      WHERE TRUE ${keyset}
      ORDER BY p."patientId", ${sortDate}, m."createdAt", m.id
      LIMIT ${CSV_PAGE}`;
    for (const r of rows) yield csvRowOf(r, r.patientId, r.patientName);
    const last = rows.at(-1);
    if (!last || rows.length < CSV_PAGE) break;
    after = {
      patientId: last.patientId,
      date: last.keyDate,
      created: last.keyCreated,
      id: last.keyId,
    };
  }
  let afterId: string | undefined;
  for (;;) {
    const rows = await prisma.$queryRaw<CsvQueryRow[]>`
      SELECT ${CSV_COLUMNS} FROM ${RESULT_FROM}
      WHERE st."patientRef" IS NULL
        ${afterId ? Prisma.sql`AND m.id > ${afterId}::uuid` : Prisma.empty}
      ORDER BY m.id LIMIT ${CSV_PAGE}`;
    for (const r of rows) yield csvRowOf(r, null, null);
    const last = rows.at(-1);
    if (!last || rows.length < CSV_PAGE) break;
    afterId = last.keyId;
  }
}

const CSV_HEADER: (keyof ResultCsvRow)[] = [
  'patientId',
  'patientName',
  'studyDate',
  'accessionNumber',
  'studyInstanceUid',
  'seriesInstanceUid',
  'laVolumeMl',
  'scarVolumeMl',
  'wallVolumeMl',
  'scarBurdenPercent',
  'burdenMethod',
  'decaafStage',
  'utahStage',
  'modelVersion',
  'syntheticTraining',
  'reviewState',
  'reviewedByName',
  'reviewedAt',
  'qcFlags',
];

/**
 * One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula (starting with = + - @,
 * or a tab or carriage return that hides one) gets a leading apostrophe (OWASP's advice); numbers
 * are written as numbers.
 */
export function csvCell(value: ResultCsvRow[keyof ResultCsvRow]): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text =
    value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(';') : value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV text, a line at a time (CRLF line ends), starting with the header. */
export async function* toCsv(rows: AsyncIterable<ResultCsvRow>): AsyncGenerator<string> {
  yield `${CSV_HEADER.join(',')}\r\n`;
  for await (const row of rows) {
    yield `${CSV_HEADER.map((k) => csvCell(row[k])).join(',')}\r\n`;
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-off, clinical events, audit
// ---------------------------------------------------------------------------------------------

export interface AuditEntry {
  userId?: string;
  userEmail?: string;
  role?: string;
  action: string;
  patientRef?: string;
  studyRef?: string;
  clientAddress?: string;
  outcome: 'ok' | 'denied' | 'failed';
  detail?: string;
}

export interface ReviewInput {
  state: 'accepted' | 'rejected';
  reviewerId: string;
  reviewerName: string;
  /** Required (non-empty) to reject. */
  reason?: string;
  /** The VERIFIED SR stored at sign-off (accept only). */
  verifiedSrSopInstanceUid?: string;
  /**
   * When given, this audit row is appended in the same transaction as the decision (its
   * patientRef and studyRef default to the result's).
   */
  audit?: AuditEntry;
}

const MAX_REASON = 2000;

/**
 * Signs a pending result off (accepted, or rejected with a reason). A decision is final: a result
 * that was already accepted or rejected is refused (`conflict`), so two cardiologists signing at
 * once cannot both win, and the verified SR in the PACS always matches the database.
 */
export async function recordReview(
  prisma: PrismaClient,
  measurementRef: string,
  review: ReviewInput,
): Promise<void> {
  if (review.state !== 'accepted' && review.state !== 'rejected') {
    throw new ClinicalError(
      'invalid',
      `review state must be accepted or rejected, got ${String(review.state)}`,
    );
  }
  const reason = review.reason?.trim() ?? '';
  if (review.state === 'rejected' && reason === '') {
    throw new ClinicalError('invalid', 'a rejected result needs a reason');
  }
  if (reason.length > MAX_REASON) {
    throw new ClinicalError(
      'invalid',
      `the reason is ${reason.length} characters long; at most ${MAX_REASON}`,
    );
  }
  if (!review.reviewerId.trim() || !review.reviewerName.trim()) {
    throw new ClinicalError('invalid', 'a review needs the reviewer id and name');
  }
  const srUid = review.verifiedSrSopInstanceUid;
  if (srUid !== undefined) {
    if (review.state !== 'accepted') {
      throw new ClinicalError('invalid', 'a verified SR belongs to an accepted result only');
    }
    if (srUid.length > 64 || !DICOM_UID.test(srUid)) {
      throw new ClinicalError('invalid', `"${srUid.slice(0, 70)}" is not a DICOM UID`);
    }
  }
  if (review.audit) auditData(review.audit); // refuse a bad audit row before deciding anything
  if (!isUuid(measurementRef)) {
    throw new ClinicalError('not-found', `no result ${measurementRef.slice(0, 40)}`);
  }
  await prisma.$transaction(async (tx) => {
    // A superseded result cannot be signed off: its series has a newer result to look at.
    const { count } = await tx.measurement.updateMany({
      where: { id: measurementRef, reviewState: 'pending', job: { state: { not: 'superseded' } } },
      data: {
        reviewState: review.state,
        reviewedById: review.reviewerId,
        reviewedByName: review.reviewerName,
        reviewedAt: new Date(),
        reviewReason: reason === '' ? null : reason,
        ...(srUid !== undefined ? { verifiedSrSopInstanceUid: srUid } : {}),
      },
    });
    const current = await tx.measurement.findUnique({
      where: { id: measurementRef },
      select: {
        reviewState: true,
        reviewedByName: true,
        reviewedAt: true,
        job: {
          select: {
            state: true,
            series: { select: { study: { select: { id: true, patientRef: true } } } },
          },
        },
      },
    });
    if (!current) throw new ClinicalError('not-found', `no result ${measurementRef}`);
    if (count === 0 && current.job.state === 'superseded') {
      throw new ClinicalError(
        'conflict',
        'this result was superseded by a newer result of the same series (its instances changed): sign off the newer one',
      );
    }
    if (count === 0) {
      throw new ClinicalError(
        'conflict',
        `this result was already ${current.reviewState} by ${current.reviewedByName ?? 'someone'} at ${current.reviewedAt?.toISOString() ?? 'an unknown time'}`,
      );
    }
    if (review.audit) {
      const study = current.job.series.study;
      await tx.auditEvent.create({
        data: auditData({
          ...review.audit,
          patientRef: review.audit.patientRef ?? study.patientRef ?? undefined,
          studyRef: review.audit.studyRef ?? study.id,
        }),
      });
    }
  });
}

/**
 * Records the VERIFIED SR of a result accepted without one (the dashboard may store the SR in the
 * PACS after the decision). Idempotent for the same UID; refused for a result that is not
 * accepted or already names another SR.
 */
export async function recordVerifiedSr(
  prisma: PrismaClient,
  measurementRef: string,
  sopInstanceUid: string,
): Promise<void> {
  if (sopInstanceUid.length > 64 || !DICOM_UID.test(sopInstanceUid)) {
    throw new ClinicalError('invalid', `"${sopInstanceUid.slice(0, 70)}" is not a DICOM UID`);
  }
  if (!isUuid(measurementRef)) {
    throw new ClinicalError('not-found', `no result ${measurementRef.slice(0, 40)}`);
  }
  const { count } = await prisma.measurement.updateMany({
    where: {
      id: measurementRef,
      reviewState: 'accepted',
      OR: [{ verifiedSrSopInstanceUid: null }, { verifiedSrSopInstanceUid: sopInstanceUid }],
    },
    data: { verifiedSrSopInstanceUid: sopInstanceUid },
  });
  if (count === 1) return;
  const current = await prisma.measurement.findUnique({
    where: { id: measurementRef },
    select: { reviewState: true, verifiedSrSopInstanceUid: true },
  });
  if (!current) throw new ClinicalError('not-found', `no result ${measurementRef}`);
  throw new ClinicalError(
    'conflict',
    current.reviewState !== 'accepted'
      ? `this result is ${current.reviewState}, not accepted: it has no verified SR`
      : `this result's verified SR is already ${current.verifiedSrSopInstanceUid ?? ''}`,
  );
}

export type ClinicalEventKind = 'ablation' | 'cardioversion' | 'other';
const EVENT_KINDS: readonly string[] = ['ablation', 'cardioversion', 'other'];
const MAX_NOTE = 2000;

function todayIso(now: Date): string {
  // The latest "today" anywhere the server might mean: its local date or UTC's.
  const local = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
  const utc = now.toISOString().slice(0, 10);
  return local > utc ? local : utc;
}

export async function addClinicalEvent(
  prisma: PrismaClient,
  e: {
    patientRef: string;
    kind: ClinicalEventKind;
    date: string;
    note?: string;
    createdById: string;
  },
): Promise<ClinicalEventRow> {
  if (!EVENT_KINDS.includes(e.kind)) {
    throw new ClinicalError(
      'invalid',
      `event kind must be one of ${EVENT_KINDS.join(', ')}, got "${String(e.kind).slice(0, 40)}"`,
    );
  }
  if (typeof e.date !== 'string' || !isCalendarDate(e.date)) {
    throw new ClinicalError(
      'invalid',
      `event date must be a date as YYYY-MM-DD, got "${String(e.date).slice(0, 40)}"`,
    );
  }
  if (e.date < '1900-01-01')
    throw new ClinicalError('invalid', `event date ${e.date} is before 1900`);
  if (e.date > todayIso(new Date())) {
    throw new ClinicalError('invalid', `event date ${e.date} is in the future`);
  }
  const note = e.note?.trim() ?? '';
  if (note.length > MAX_NOTE) {
    throw new ClinicalError(
      'invalid',
      `the note is ${note.length} characters long; at most ${MAX_NOTE}`,
    );
  }
  if (!e.createdById.trim()) throw new ClinicalError('invalid', 'an event needs its author');
  if (!isUuid(e.patientRef))
    throw new ClinicalError('not-found', `no patient ${e.patientRef.slice(0, 40)}`);
  const patient = await prisma.patient.findUnique({
    where: { id: e.patientRef },
    select: { id: true },
  });
  if (!patient) throw new ClinicalError('not-found', `no patient ${e.patientRef}`);
  const row = await prisma.clinicalEvent.create({
    data: {
      patientRef: e.patientRef,
      kind: e.kind,
      date: new Date(`${e.date}T00:00:00Z`),
      note: note === '' ? null : note,
      createdById: e.createdById,
    },
    select: { id: true, kind: true, date: true, note: true, createdById: true, createdAt: true },
  });
  return eventOf(row);
}

const AUDIT_OUTCOMES: readonly string[] = ['ok', 'denied', 'failed'];

function clip(text: string | undefined, max: number): string | null {
  if (text === undefined) return null;
  return text.length > max ? text.slice(0, max) : text;
}

/**
 * The audit row. Refs that are not row ids (a forged URL, say) are kept in the detail rather
 * than refused: a denied or failed request must still leave its trace.
 */
function auditData(entry: AuditEntry): Prisma.AuditEventCreateInput {
  if (!entry.action?.trim()) throw new ClinicalError('invalid', 'an audit row needs an action');
  if (!AUDIT_OUTCOMES.includes(entry.outcome)) {
    throw new ClinicalError(
      'invalid',
      `audit outcome must be ok, denied or failed, got "${String(entry.outcome).slice(0, 20)}"`,
    );
  }
  const notes: string[] = [];
  const ref = (name: string, value: string | undefined) => {
    if (value === undefined) return null;
    if (isUuid(value)) return value;
    notes.push(`${name}=${value.slice(0, 80)}`);
    return null;
  };
  const patientRef = ref('patientRef', entry.patientRef);
  const studyRef = ref('studyRef', entry.studyRef);
  const detail = [entry.detail, ...notes].filter((d) => d !== undefined && d !== '').join('; ');
  return {
    userId: clip(entry.userId, 200),
    userEmail: clip(entry.userEmail, 320),
    role: clip(entry.role, 50),
    action: entry.action.slice(0, 100),
    patientRef,
    studyRef,
    clientAddress: clip(entry.clientAddress, 100),
    outcome: entry.outcome,
    detail: detail === '' ? null : detail.slice(0, 2000),
  };
}

/** Appends one row to the append-only audit trail. */
export async function appendAudit(prisma: PrismaClient, entry: AuditEntry): Promise<void> {
  await prisma.auditEvent.create({ data: auditData(entry) });
}

/** Failed logins since `since` for this email (any case) or from this client address. */
export async function recentLoginFailures(
  prisma: PrismaClient,
  email: string,
  clientAddress: string | undefined,
  since: Date,
): Promise<number> {
  return prisma.auditEvent.count({
    where: {
      action: 'login.failure',
      at: { gte: since },
      OR: [
        { userEmail: { equals: email, mode: 'insensitive' } },
        ...(clientAddress ? [{ clientAddress }] : []),
      ],
    },
  });
}
