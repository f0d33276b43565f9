/**
 * What people do to the queue, written once for the worker's HTTP API and the dashboard: retry a
 * job, retry many, cancel a waiting job, process a series the selection rules skipped.
 *
 * Idempotent by construction: a job is claimed with one conditional UPDATE (state must still be
 * what the action expects), so of two clicks racing only one changes the row and sends; the
 * other sees `busy`. pg-boss's id is derived from the job key, so even a repeated send holds one
 * queue entry.
 */
import { ensureJob, jobKeyOf, recordDecision } from '@lascar/db';
import type { Prisma, PrismaClient } from '@lascar/db';
import type PgBoss from 'pg-boss';
import { queueJobId, SEGMENT_QUEUE, sendSegmentJob, type SegmentJobData } from './index.js';

/** What putting a job (back) in the queue needs to know of it. */
export const REQUEUE_SELECT = {
  id: true,
  jobKey: true,
  state: true,
  attempts: true,
  queueJobId: true,
  modelVersion: true,
  series: { select: { seriesInstanceUid: true, study: { select: { studyInstanceUid: true } } } },
} satisfies Prisma.JobSelect;

export type RequeueRow = Prisma.JobGetPayload<{ select: typeof REQUEUE_SELECT }>;

export function requeueData(j: RequeueRow): SegmentJobData {
  return {
    jobKey: j.jobKey,
    studyInstanceUid: j.series.study.studyInstanceUid,
    seriesInstanceUid: j.series.seriesInstanceUid,
    modelVersion: j.modelVersion,
    ...(j.attempts > 0 ? { attemptsBefore: j.attempts } : {}),
  };
}

export type RetryOutcome = 'queued' | 'not-found' | 'busy';

/** Puts a failed (or completed) job back in the queue: POST /jobs/:id/retry and "Retry". */
export async function retryJob(
  prisma: PrismaClient,
  boss: PgBoss,
  id: string,
): Promise<RetryOutcome> {
  const j = await prisma.job.findUnique({ where: { id }, select: REQUEUE_SELECT });
  if (!j) return 'not-found';
  // The claim: only the caller whose UPDATE still finds the job finished goes on to send.
  const { count } = await prisma.job.updateMany({
    where: { id, state: { in: ['failed', 'completed'] } },
    data: { state: 'queued', error: null, finishedAt: null },
  });
  if (count === 0) return 'busy';
  // pg-boss keeps a finished job under its id until it is archived: free the id, then send.
  const queueId = j.queueJobId ?? queueJobId(j.jobKey);
  await boss.deleteJob(SEGMENT_QUEUE, queueId);
  await sendSegmentJob(boss, requeueData(j));
  return 'queued';
}

export interface BulkRetryOutcome {
  readonly queued: number;
  readonly busy: number;
  readonly notFound: number;
}

/** "Retry all failed": each job through retryJob, so each is claimed and queued at most once. */
export async function retryJobs(
  prisma: PrismaClient,
  boss: PgBoss,
  ids: readonly string[],
): Promise<BulkRetryOutcome> {
  let queued = 0;
  let busy = 0;
  let notFound = 0;
  for (const id of ids) {
    const outcome = await retryJob(prisma, boss, id);
    if (outcome === 'queued') queued++;
    else if (outcome === 'busy') busy++;
    else notFound++;
  }
  return { queued, busy, notFound };
}

export type CancelOutcome = 'cancelled' | 'not-found' | 'busy';

/** The error text a cancelled job carries (there is no separate state: it will not run). */
export function cancelledError(by: string): string {
  return `cancelled by ${by} before it ran`;
}

/**
 * Takes a waiting job (queued, or waiting for its next retry) out of the queue; it ends failed
 * with who cancelled it, and can be retried later. A job already running is not interrupted.
 */
export async function cancelJob(
  prisma: PrismaClient,
  boss: PgBoss,
  id: string,
  by: string,
): Promise<CancelOutcome> {
  const j = await prisma.job.findUnique({ where: { id }, select: REQUEUE_SELECT });
  if (!j) return 'not-found';
  const { count } = await prisma.job.updateMany({
    where: { id, state: { in: ['queued', 'retrying'] } },
    data: { state: 'failed', error: cancelledError(by), finishedAt: new Date() },
  });
  if (count === 0) return 'busy';
  await boss.cancel(SEGMENT_QUEUE, j.queueJobId ?? queueJobId(j.jobKey));
  return 'cancelled';
}

export type ProcessAnywayOutcome =
  | { readonly outcome: 'queued'; readonly jobId: string; readonly overruled: string }
  | { readonly outcome: 'exists'; readonly jobId: string; readonly state: string }
  | { readonly outcome: 'not-found' };

/** The reason recorded when an admin overrides the selection rules. */
export function overrideReason(by: string, overruled: string): string {
  return `processed anyway by ${by}; overrode: ${overruled}`;
}

/**
 * Processes a series the selection rules skipped: records who overrode which rule (a decision
 * with source "manual"), creates its job for the given model version and queues it. The decision
 * is recorded only by the call that created the job, so a double click leaves one of each.
 */
export async function processAnyway(
  prisma: PrismaClient,
  boss: PgBoss,
  seriesRef: string,
  modelVersion: string,
  by: string,
): Promise<ProcessAnywayOutcome> {
  const series = await prisma.series.findUnique({
    where: { id: seriesRef },
    select: {
      seriesInstanceUid: true,
      study: { select: { studyInstanceUid: true } },
      decisions: { orderBy: { decidedAt: 'desc' }, take: 1, select: { reason: true } },
    },
  });
  if (!series) return { outcome: 'not-found' };
  const jobKey = jobKeyOf(series.seriesInstanceUid, modelVersion);
  const { job, created } = await ensureJob(
    prisma,
    seriesRef,
    series.seriesInstanceUid,
    modelVersion,
    queueJobId(jobKey),
  );
  if (!created) return { outcome: 'exists', jobId: job.id, state: job.state };
  const overruled = series.decisions[0]?.reason ?? 'no recorded rule';
  await recordDecision(
    prisma,
    seriesRef,
    { selected: true, reason: overrideReason(by, overruled) },
    'manual',
  );
  await sendSegmentJob(boss, {
    jobKey,
    studyInstanceUid: series.study.studyInstanceUid,
    seriesInstanceUid: series.seriesInstanceUid,
    modelVersion,
  });
  return { outcome: 'queued', jobId: job.id, overruled };
}
