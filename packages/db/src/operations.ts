/**
 * What the admins' operations console reads: jobs (filtered, searched, paged in SQL), one job's
 * attempts, the selection decisions, and the overview's counts and timings. Access control is the
 * caller's (the dashboard's data layer). Lists carry internal row ids and DICOM UIDs, never
 * patient names.
 */
import { Prisma, type PrismaClient } from './generated/prisma/client.js';
import type { JobState, StageName } from './generated/prisma/enums.js';
import { ClinicalError } from './clinical.js';
import { keptInPacs } from './records.js';

export const JOB_STATES = [
  'queued',
  'active',
  'retrying',
  'completed',
  'failed',
  'superseded',
] as const;
export const STAGE_ORDER: readonly StageName[] = [
  'retrieve',
  'load',
  'la_model',
  'scar_model',
  'write',
  'store',
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PAGE_SIZE = 100;
const MAX_SEARCH_LENGTH = 200;

export interface JobFilter {
  state?: JobState;
  /** Jobs queued at or after. */
  from?: Date;
  /** Jobs queued before. */
  to?: Date;
  /** Any UID (study, series, SEG, SR, job, queue id), an accession number or a patient ID. */
  q?: string;
}

export interface JobListQuery extends JobFilter {
  page?: number;
  pageSize?: number;
}

export interface JobStageTiming {
  stage: StageName;
  durationMs: number | null;
  error: string | null;
}

export interface JobListRow {
  id: string;
  state: JobState;
  attempts: number;
  error: string | null;
  modelVersion: string;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  studyRef: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  accessionNumber: string | null;
  seriesDescription: string | null;
  /** How the worker found the series (webhook, change feed, poll, manual): its selecting decision. */
  discoveredBy: string | null;
  /** The last attempt's stages, in pipeline order. */
  stages: JobStageTiming[];
}

export interface JobListPage {
  rows: JobListRow[];
  total: number;
  page: number;
  pageSize: number;
}

function paging(page = 1, pageSize = 25): { page: number; pageSize: number } {
  if (!Number.isInteger(page) || page < 1) {
    throw new ClinicalError('invalid', `page must be a whole number from 1, got ${page}`);
  }
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new ClinicalError('invalid', `page size must be a whole number from 1, got ${pageSize}`);
  }
  return { page, pageSize: Math.min(pageSize, MAX_PAGE_SIZE) };
}

const JOB_FROM = Prisma.sql`"Job" j
  JOIN "Series" se ON se.id = j."seriesRef"
  JOIN "Study" st ON st.id = se."studyRef"
  LEFT JOIN "Patient" p ON p.id = st."patientRef"`;

/** The filter as a condition on Job j, Series se, Study st, Patient p. */
function jobCondition(filter: JobFilter): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (filter.state) parts.push(Prisma.sql`j.state = ${filter.state}::"JobState"`);
  if (filter.from) parts.push(Prisma.sql`j."createdAt" >= ${filter.from}`);
  if (filter.to) parts.push(Prisma.sql`j."createdAt" < ${filter.to}`);
  const q = filter.q?.trim() ?? '';
  if (q.length > MAX_SEARCH_LENGTH) {
    throw new ClinicalError('invalid', `search text is ${q.length} characters; at most 200`);
  }
  if (q) {
    // Exact matches: identifiers are looked up, not browsed (and each has its index or is small).
    const byText = [
      Prisma.sql`st."studyInstanceUid" = ${q}`,
      Prisma.sql`se."seriesInstanceUid" = ${q}`,
      Prisma.sql`j."segSeriesInstanceUid" = ${q}`,
      Prisma.sql`j."srSeriesInstanceUid" = ${q}`,
      Prisma.sql`st."accessionNumber" = ${q}`,
      Prisma.sql`p."patientId" = ${q}`,
    ];
    if (UUID.test(q)) {
      byText.push(Prisma.sql`j.id = ${q}::uuid`, Prisma.sql`j."queueJobId" = ${q}::uuid`);
    }
    parts.push(Prisma.sql`(${Prisma.join(byText, ' OR ')})`);
  }
  return parts.length ? Prisma.join(parts, ' AND ') : Prisma.sql`TRUE`;
}

export async function listJobs(
  prisma: PrismaClient,
  query: JobListQuery = {},
): Promise<JobListPage> {
  const { page, pageSize } = paging(query.page, query.pageSize);
  const where = jobCondition(query);
  const [rows, [count]] = await Promise.all([
    prisma.$queryRaw<Omit<JobListRow, 'stages'>[]>`
      SELECT j.id, j.state::text AS state, j.attempts, j.error, j."modelVersion",
             j."createdAt" AS "queuedAt", j."startedAt", j."finishedAt",
             st.id AS "studyRef", st."studyInstanceUid", se."seriesInstanceUid",
             st."accessionNumber", se."seriesDescription",
             (SELECT d.source FROM "SelectionDecision" d
               WHERE d."seriesRef" = se.id AND d.selected
               ORDER BY d."decidedAt" ASC LIMIT 1) AS "discoveredBy"
      FROM ${JOB_FROM}
      WHERE ${where}
      ORDER BY j."createdAt" DESC, j.id
      LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    prisma.$queryRaw<{ total: number }[]>`
      SELECT count(*)::int AS total FROM ${JOB_FROM} WHERE ${where}`,
  ]);
  const stages =
    rows.length === 0
      ? []
      : await prisma.$queryRaw<(JobStageTiming & { jobRef: string })[]>`
          SELECT s."jobRef", s.stage::text AS stage, s."durationMs", s.error
          FROM "JobStage" s JOIN "Job" j ON j.id = s."jobRef" AND s.attempt = j.attempts
          WHERE s."jobRef" IN (${Prisma.join(rows.map((r) => Prisma.sql`${r.id}::uuid`))})`;
  return {
    rows: rows.map((r) => ({
      ...r,
      stages: stages
        .filter((s) => s.jobRef === r.id)
        .map(({ stage, durationMs, error }) => ({ stage, durationMs, error }))
        .sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage)),
    })),
    total: count?.total ?? 0,
    page,
    pageSize,
  };
}

/** The failed jobs a filter shows (for "retry all failed"), oldest first, at most `limit`. */
export async function failedJobIds(
  prisma: PrismaClient,
  filter: JobFilter,
  limit = 500,
): Promise<string[]> {
  const where = jobCondition({ ...filter, state: 'failed' });
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    SELECT j.id FROM ${JOB_FROM} WHERE ${where} ORDER BY j."createdAt" LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

/** Why a job failed, in the terms of what to do about it. */
export type FailureClass = 'data' | 'transient' | 'cancelled';

// The worker's permanent errors (process-series.ts classifyError) say what is wrong with the
// series itself; they are never retried.
const DATA_ERROR = /unusable DICOM series|no longer in the PACS|not an MR|is modality /i;

/**
 * Classifies a job's error from what the worker records: a data error fails at once and is not
 * retried; PACS or database trouble is retried (state `retrying`, or failed after more than one
 * attempt); a cancelled job says who cancelled it.
 */
export function classifyFailure(job: {
  state: JobState;
  attempts: number;
  error: string | null;
}): FailureClass | null {
  // A completed job's text is its outcome (e.g. no LA found), not a failure; a superseded job's
  // series changed: not a failure to act on either.
  if (!job.error || job.state === 'completed' || job.state === 'superseded') return null;
  if (/^cancelled by /.test(job.error)) return 'cancelled';
  if (DATA_ERROR.test(job.error)) return 'data';
  if (job.state === 'retrying' || job.attempts > 1) return 'transient';
  if (/worker stopped during the last attempt/.test(job.error)) return 'transient';
  return job.state === 'failed' ? 'data' : 'transient';
}

export interface JobAttempt {
  attempt: number;
  stages: (JobStageTiming & { startedAt: Date })[];
  error: string | null;
}

export interface JobDetail extends Omit<JobListRow, 'stages'> {
  jobKey: string;
  queueJobId: string | null;
  patientRef: string | null;
  modality: string | null;
  segSeriesInstanceUid: string | null;
  srSeriesInstanceUid: string | null;
  /** Instances in the set this job is for (QIDO-RS at intake); null for older jobs. */
  instanceCount: number | null;
  /** The newer job of the series whose result replaced this one's. */
  supersededById: string | null;
  supersededAt: Date | null;
  /** The SEG/SR objects this job stored, and where each stands (current, retired, deleted). */
  storedObjects: { kind: string; sopInstanceUid: string; state: string; kept?: string }[];
  failureClass: FailureClass | null;
  attemptsRecorded: JobAttempt[];
  decisions: { selected: boolean; reason: string; source: string; decidedAt: Date }[];
}

export async function jobDetail(prisma: PrismaClient, id: string): Promise<JobDetail | null> {
  if (!UUID.test(id)) return null;
  const j = await prisma.job.findUnique({
    where: { id },
    include: {
      stages: { orderBy: [{ attempt: 'asc' }, { startedAt: 'asc' }] },
      series: {
        include: {
          study: true,
          decisions: { orderBy: { decidedAt: 'asc' } },
        },
      },
      storedObjects: {
        orderBy: [{ createdAt: 'asc' }, { kind: 'asc' }],
        select: { kind: true, sopInstanceUid: true, state: true },
      },
      measurement: { select: { reviewState: true } },
    },
  });
  if (!j) return null;
  const attempts = new Map<number, JobAttempt>();
  for (const s of j.stages) {
    const a = attempts.get(s.attempt) ?? { attempt: s.attempt, stages: [], error: null };
    a.stages.push({
      stage: s.stage,
      startedAt: s.startedAt,
      durationMs: s.durationMs,
      error: s.error,
    });
    if (s.error) a.error = s.error;
    attempts.set(s.attempt, a);
  }
  const selecting = j.series.decisions.find((d) => d.selected);
  return {
    id: j.id,
    jobKey: j.jobKey,
    queueJobId: j.queueJobId,
    state: j.state,
    attempts: j.attempts,
    error: j.error,
    modelVersion: j.modelVersion,
    queuedAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    studyRef: j.series.study.id,
    patientRef: j.series.study.patientRef,
    studyInstanceUid: j.series.study.studyInstanceUid,
    seriesInstanceUid: j.series.seriesInstanceUid,
    accessionNumber: j.series.study.accessionNumber,
    seriesDescription: j.series.seriesDescription,
    modality: j.series.modality,
    segSeriesInstanceUid: j.segSeriesInstanceUid,
    srSeriesInstanceUid: j.srSeriesInstanceUid,
    instanceCount: j.instanceCount,
    supersededById: j.supersededById,
    supersededAt: j.supersededAt,
    storedObjects: j.storedObjects.map((o) => {
      const kept =
        o.state === 'retired' ? keptInPacs(o.kind, j.measurement?.reviewState) : undefined;
      return kept ? { ...o, kept } : o;
    }),
    discoveredBy: selecting?.source ?? null,
    failureClass: classifyFailure(j),
    attemptsRecorded: [...attempts.values()].sort((a, b) => a.attempt - b.attempt),
    decisions: j.series.decisions.map(({ selected, reason, source, decidedAt }) => ({
      selected,
      reason,
      source,
      decidedAt,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Selection decisions
// ---------------------------------------------------------------------------------------------

export interface DecisionQuery {
  selected?: boolean;
  /** Words in the reason, series description or protocol; or an exact UID / accession. */
  q?: string;
  page?: number;
  pageSize?: number;
}

export interface DecisionRow {
  id: string;
  seriesRef: string;
  studyRef: string;
  selected: boolean;
  reason: string;
  source: string;
  decidedAt: Date;
  modality: string | null;
  seriesDescription: string | null;
  protocolName: string | null;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  accessionNumber: string | null;
  /** The series' newest job, if any. */
  jobId: string | null;
  jobState: JobState | null;
}

export async function listDecisions(
  prisma: PrismaClient,
  query: DecisionQuery = {},
): Promise<{ rows: DecisionRow[]; total: number; page: number; pageSize: number }> {
  const { page, pageSize } = paging(query.page, query.pageSize);
  const parts: Prisma.Sql[] = [];
  if (query.selected !== undefined) parts.push(Prisma.sql`d.selected = ${query.selected}`);
  const q = query.q?.trim() ?? '';
  if (q.length > MAX_SEARCH_LENGTH) {
    throw new ClinicalError('invalid', `search text is ${q.length} characters; at most 200`);
  }
  if (q) {
    const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(Prisma.sql`(d.reason ILIKE ${like} OR se."seriesDescription" ILIKE ${like}
      OR se."protocolName" ILIKE ${like} OR d.source = ${q}
      OR se."seriesInstanceUid" = ${q} OR st."studyInstanceUid" = ${q}
      OR st."accessionNumber" = ${q})`);
  }
  const where = parts.length ? Prisma.join(parts, ' AND ') : Prisma.sql`TRUE`;
  const from = Prisma.sql`"SelectionDecision" d
    JOIN "Series" se ON se.id = d."seriesRef"
    JOIN "Study" st ON st.id = se."studyRef"`;
  const [rows, [count]] = await Promise.all([
    prisma.$queryRaw<DecisionRow[]>`
      SELECT d.id, d."seriesRef", st.id AS "studyRef", d.selected, d.reason, d.source,
             d."decidedAt", se.modality, se."seriesDescription", se."protocolName",
             st."studyInstanceUid", se."seriesInstanceUid", st."accessionNumber",
             lj.id AS "jobId", lj.state::text AS "jobState"
      FROM ${from}
      LEFT JOIN LATERAL (
        SELECT j.id, j.state FROM "Job" j WHERE j."seriesRef" = se.id
        ORDER BY j."createdAt" DESC LIMIT 1) lj ON TRUE
      WHERE ${where}
      ORDER BY d."decidedAt" DESC, d.id
      LIMIT ${pageSize} OFFSET ${(page - 1) * pageSize}`,
    prisma.$queryRaw<
      { total: number }[]
    >`SELECT count(*)::int AS total FROM ${from} WHERE ${where}`,
  ]);
  return { rows, total: count?.total ?? 0, page, pageSize };
}

/** The model version the worker runs now: the one its newest job was created for. */
export async function currentModelVersion(prisma: PrismaClient): Promise<string | null> {
  const j = await prisma.job.findFirst({
    orderBy: { createdAt: 'desc' },
    select: { modelVersion: true },
  });
  return j?.modelVersion ?? null;
}

// ---------------------------------------------------------------------------------------------
// The overview
// ---------------------------------------------------------------------------------------------

export interface ThroughputBucket {
  /** Start of the hour (24 h view) or day (30 day view), UTC. */
  at: Date;
  completed: number;
  failed: number;
}

export interface OperationsOverview {
  jobsByState: Record<JobState, number>;
  perHour: ThroughputBucket[];
  perDay: ThroughputBucket[];
  /** Series first seen to SEG stored, completed jobs of the last 30 days, seconds. */
  latency: { count: number; p50Seconds: number | null; p95Seconds: number | null };
  /**
   * Failed jobs' errors grouped with UIDs and numbers masked (`reason`), most frequent first;
   * `example` is the group's latest error as it was written, which is what an admin reads.
   */
  failureReasons: { reason: string; count: number; example: string }[];
  decisions: { selected: number; skipped: number };
  cursors: { name: string; value: string; updatedAt: Date }[];
  database: { ok: boolean; version: string; sizeBytes: number; roundTripMs: number };
}

export async function operationsOverview(
  prisma: PrismaClient,
  now: Date = new Date(),
): Promise<OperationsOverview> {
  const t0 = performance.now();
  const [db] = await prisma.$queryRaw<{ version: string; sizeBytes: bigint }[]>`
    SELECT current_setting('server_version') AS version,
           pg_database_size(current_database()) AS "sizeBytes"`;
  const roundTripMs = performance.now() - t0;
  const dayAgo = new Date(now.getTime() - 24 * 3600_000);
  const monthAgo = new Date(now.getTime() - 30 * 24 * 3600_000);
  const bucket = (unit: 'hour' | 'day', since: Date) => prisma.$queryRaw<ThroughputBucket[]>`
      SELECT date_trunc(${unit}, j."finishedAt" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS at,
             count(*) FILTER (WHERE j.state = 'completed')::int AS completed,
             count(*) FILTER (WHERE j.state = 'failed')::int AS failed
      FROM "Job" j
      WHERE j."finishedAt" >= ${since} AND j.state IN ('completed', 'failed')
      GROUP BY 1 ORDER BY 1`;
  const [states, perHour, perDay, [latency], failureReasons, decisions, cursors] =
    await Promise.all([
      prisma.$queryRaw<{ state: JobState; n: number }[]>`
        SELECT state::text AS state, count(*)::int AS n FROM "Job" GROUP BY state`,
      bucket('hour', dayAgo),
      bucket('day', monthAgo),
      prisma.$queryRaw<{ count: number; p50: number | null; p95: number | null }[]>`
        SELECT count(*)::int AS count,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY x.s) AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY x.s) AS p95
        FROM (SELECT extract(epoch FROM j."finishedAt" - se."firstSeenAt")::float8 AS s
              FROM "Job" j JOIN "Series" se ON se.id = j."seriesRef"
              WHERE j.state = 'completed' AND j."finishedAt" >= ${monthAgo}) x`,
      prisma.$queryRaw<{ reason: string; count: number; example: string }[]>`
        SELECT regexp_replace(j.error, '[0-9]+(\\.[0-9]+)+|[0-9]+', '#', 'g') AS reason,
               count(*)::int AS count,
               (array_agg(j.error ORDER BY j."finishedAt" DESC NULLS LAST))[1] AS example
        FROM "Job" j WHERE j.state = 'failed' AND j.error IS NOT NULL
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
      prisma.$queryRaw<{ selected: number; skipped: number }[]>`
        SELECT count(*) FILTER (WHERE selected)::int AS selected,
               count(*) FILTER (WHERE NOT selected)::int AS skipped
        FROM "SelectionDecision"`,
      prisma.discoveryCursor.findMany({ orderBy: { name: 'asc' } }),
    ]);
  const jobsByState = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const s of states) jobsByState[s.state] = s.n;
  return {
    jobsByState,
    perHour,
    perDay,
    latency: {
      count: latency?.count ?? 0,
      p50Seconds: latency?.p50 ?? null,
      p95Seconds: latency?.p95 ?? null,
    },
    failureReasons,
    decisions: decisions[0] ?? { selected: 0, skipped: 0 },
    cursors: cursors.map(({ name, value, updatedAt }) => ({ name, value, updatedAt })),
    database: {
      ok: true,
      version: db?.version ?? 'unknown',
      sizeBytes: Number(db?.sizeBytes ?? 0),
      roundTripMs,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The audit log
// ---------------------------------------------------------------------------------------------

export interface AuditQuery {
  /** The user's email, any case. */
  userEmail?: string;
  /** A patient: its PatientID (as the PACS has it) or its internal id. */
  patient?: string;
  /** An action name, e.g. "study.view", or a prefix ending in "." ("job."). */
  action?: string;
  page?: number;
  pageSize?: number;
}

export interface AuditRow {
  id: string;
  at: Date;
  userEmail: string | null;
  role: string | null;
  action: string;
  outcome: string;
  patientRef: string | null;
  studyRef: string | null;
  clientAddress: string | null;
  detail: string | null;
}

/** The audit log newest first, filtered by user, patient and action; a patient not found matches nothing. */
export async function listAudit(
  prisma: PrismaClient,
  query: AuditQuery = {},
): Promise<{ rows: AuditRow[]; total: number; page: number; pageSize: number }> {
  const { page, pageSize } = paging(query.page, query.pageSize);
  const where: Prisma.AuditEventWhereInput = {};
  const email = query.userEmail?.trim();
  if (email) where.userEmail = { equals: email, mode: 'insensitive' };
  const action = query.action?.trim();
  if (action) where.action = action.endsWith('.') ? { startsWith: action } : action;
  const patient = query.patient?.trim();
  if (patient) {
    const found = UUID.test(patient)
      ? { id: patient }
      : await prisma.patient.findUnique({ where: { patientId: patient }, select: { id: true } });
    if (!found) return { rows: [], total: 0, page, pageSize };
    where.patientRef = found.id;
  }
  const [rows, total] = await Promise.all([
    prisma.auditEvent.findMany({
      where,
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      skip: (page - 1) * pageSize,
      take: pageSize,
      select: {
        id: true,
        at: true,
        userEmail: true,
        role: true,
        action: true,
        outcome: true,
        patientRef: true,
        studyRef: true,
        clientAddress: true,
        detail: true,
      },
    }),
    prisma.auditEvent.count({ where }),
  ]);
  return { rows, total, page, pageSize };
}
