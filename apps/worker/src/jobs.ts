/**
 * Runs one queued job and keeps the Job row (what /jobs and the dashboard show) in step with
 * pg-boss: active while it runs, its stages as they finish, completed with one result row, or
 * retrying / failed with the error. A permanent failure (corrupt or unsuitable series) is not
 * retried; a retryable one is thrown back to pg-boss, which retries it with backoff.
 *
 * A job is for one instance set of its series. Its result, when it completes, supersedes the
 * results of older instance sets (their SEG/SR are retired in the same transaction); a job whose
 * series changed under it, or that a newer job superseded, stops without a result.
 */
import type { MethodSettings, StudyIdentity } from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import type PgBoss from 'pg-boss';
import {
  markJob,
  moveStoredObjects,
  newerCompletedJob,
  recordSeries,
  recordStage,
  registerStoredObjects,
  saveResult,
  supersedeOlderJobs,
  type PatientIdentity,
} from '@lascar/db';
import type { Prisma, PrismaClient } from '@lascar/db';
import { withKnownPhi, type Logger } from './log.js';
import type { WorkerMetrics } from './metrics.js';
import type { PacsClient } from '@lascar/pacs';
import { PacsConfigurationJobError, PermanentJobError, processSeries } from './process-series.js';
import { REQUEUE_SELECT, requeueData } from '@lascar/queue';
import { forInstanceSet, SeriesChangedError, worthRechecking } from './series-changes.js';
import {
  lockAttempt,
  SEGMENT_QUEUE,
  sendSegmentJob,
  settleAttempt,
  type SegmentJobData,
} from './queue.js';

export interface JobDeps {
  readonly prisma: PrismaClient;
  readonly pacs: PacsClient;
  readonly networks: LoadedNetworks;
  readonly modelVersion: string;
  readonly method?: MethodSettings;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
  /** The PACS refused the worker's credentials: stop taking jobs until it accepts them. */
  readonly onPacsRefused?: (reason: string) => void;
  /** Look at the series again after the quiet period (a gap, a single slice, a changed series). */
  readonly recheck?: (series: {
    readonly studyInstanceUid: string;
    readonly seriesInstanceUid: string;
    readonly fingerprint: string | null;
  }) => Promise<void>;
  /** SEG/SR objects were retired: delete them from the PACS where it allows that. */
  readonly onRetired?: () => void;
}

/** `abandoned`: the queue gave the job up under this attempt (its lease ran out); not recorded. */
export type JobOutcome =
  'completed' | 'failed' | 'retrying' | 'missing' | 'abandoned' | 'superseded';

/** The identity fields the database keeps, without the absent ones. */
function identityRecord(identity: StudyIdentity): PatientIdentity {
  const { patientId, patientName, studyDate, accessionNumber } = identity;
  return Object.fromEntries(
    Object.entries({ patientId, patientName, studyDate, accessionNumber }).filter(([, v]) => v),
  ) as PatientIdentity;
}

const JOB_ROW_SELECT = {
  id: true,
  state: true,
  instanceFingerprint: true,
  instanceCount: true,
  series: {
    select: {
      study: {
        select: {
          accessionNumber: true,
          patient: { select: { patientId: true, patientName: true } },
        },
      },
    },
  },
} satisfies Prisma.JobSelect;

export async function runSegmentJob(
  job: PgBoss.JobWithMetadata<SegmentJobData>,
  deps: JobDeps,
): Promise<JobOutcome> {
  const { jobKey, studyInstanceUid, seriesInstanceUid } = job.data;
  // After a manual retry the count goes on from the earlier attempts (their stages are kept).
  const attempt = (job.data.attemptsBefore ?? 0) + job.retryCount + 1;
  const jobLog = deps.log.child({ jobKey, studyInstanceUid, seriesInstanceUid, attempt });
  const row = await deps.prisma.job.findUnique({ where: { jobKey }, select: JOB_ROW_SELECT });
  if (!row) {
    jobLog.error('queued job has no job row; dropped');
    return 'missing';
  }
  // Errors from the PACS or the files may quote this patient's data in any form.
  const { study } = row.series;
  const log = withKnownPhi(jobLog, {
    ...(study.patient?.patientId ? { patientId: study.patient.patientId } : {}),
    ...(study.patient?.patientName ? { patientName: study.patient.patientName } : {}),
    ...(study.accessionNumber ? { accessionNumber: study.accessionNumber } : {}),
  });
  if (row.state === 'superseded') {
    // A newer instance set's job took its place before it ran: nothing to do, nothing to retry.
    const held = await lockedSettle(deps.prisma, job, 'completed');
    log.info({ held }, 'job superseded before it ran; skipped');
    return 'superseded';
  }
  await markJob(deps.prisma, jobKey, {
    state: 'active',
    attempts: attempt,
    startedAt: new Date(),
    error: null,
    finishedAt: null,
  });
  log.info('job started');
  /**
   * Writes this attempt's outcome only while it still holds the job in the queue, in one
   * transaction with the queue entry (queue.ts): the Job table and pg-boss never disagree, and
   * an attempt that outlived its lease cannot overwrite what a later attempt recorded.
   */
  const settle = (
    queueState: 'completed' | 'failed' | undefined,
    write: (tx: Prisma.TransactionClient) => Promise<unknown>,
  ): Promise<boolean> =>
    deps.prisma.$transaction(
      async (tx) => {
        const entry = await lockAttempt(tx, job);
        if (!entry.held) {
          // The Job row follows what the queue decided for this attempt.
          if (entry.state === 'retry' || entry.state === 'failed') {
            await markJob(tx, jobKey, {
              state: entry.state === 'retry' ? 'retrying' : 'failed',
              error: `the attempt ran past the job time limit (${Number(job.expireInSeconds)} s, LASCAR_JOB_TIMEOUT_SECONDS)`,
              ...(entry.state === 'failed' ? { finishedAt: new Date() } : {}),
            });
          }
          return false;
        }
        if (queueState) await settleAttempt(tx, job, queueState);
        await write(tx);
        return true;
      },
      // Overlays are a few hundred kB; a loaded machine must not time the write out.
      { maxWait: 30_000, timeout: 60_000 },
    );
  const abandoned = (): JobOutcome => {
    log.warn(
      'this attempt outlived its lease: the queue gave the job to another attempt, which records the outcome',
    );
    return 'abandoned';
  };
  try {
    const out = await processSeries(
      { studyInstanceUid, seriesInstanceUid },
      {
        pacs: forInstanceSet(deps.pacs, {
          fingerprint: row.instanceFingerprint,
          count: row.instanceCount,
        }),
        // Named in the registry before the store: a crash after it leaves nothing unaccounted.
        beforeStore: (objects) => registerStoredObjects(deps.prisma, row.id, objects),
        networks: deps.networks,
        modelVersion: deps.modelVersion,
        ...(deps.method ? { method: deps.method } : {}),
        onStage: async (s) => {
          deps.metrics?.stageSeconds.observe(
            { stage: s.stage, outcome: s.error ? 'error' : 'ok' },
            s.ms / 1000,
          );
          await recordStage(deps.prisma, row.id, attempt, s.stage, s.startedAt, s.ms, s.error);
          log.info(
            { stage: s.stage, ms: Math.round(s.ms), ...(s.error ? { error: s.error } : {}) },
            'stage',
          );
        },
      },
    );
    // The name is for display in the dashboard; it is never logged.
    await recordSeries(
      deps.prisma,
      { studyInstanceUid, seriesInstanceUid },
      identityRecord(out.source.identity),
    );
    let supersededBy: string | undefined;
    let retired = 0;
    const held = await settle('completed', async (tx) => {
      await saveResult(tx, row.id, { ...out.measurement, report: out.report }, out.overlays);
      const stored = {
        finishedAt: new Date(),
        // A completion without a normal result (no LA found) says so where the admins look.
        error: out.outcome ?? null,
        segSeriesInstanceUid: out.segSeriesInstanceUid,
        segSopInstanceUid: out.segSopInstanceUid,
        srSeriesInstanceUid: out.srSeriesInstanceUid,
        srSopInstanceUid: out.srSopInstanceUid,
      };
      // A newer instance set finished first (this one ran on instances read before it changed):
      // its result stays current, and this one's objects are retired at once.
      supersededBy = await newerCompletedJob(tx, row.id);
      if (supersededBy) {
        await markJob(tx, jobKey, { state: 'superseded', ...stored });
        await tx.job.update({
          where: { id: row.id },
          data: { supersededAt: new Date(), supersededById: supersededBy },
        });
        retired = await moveStoredObjects(tx, { jobRefs: [row.id] }, 'retired');
        return;
      }
      await markJob(tx, jobKey, { state: 'completed', ...stored });
      const older = await supersedeOlderJobs(tx, row.id);
      if (older.length > 0) retired = await moveStoredObjects(tx, { jobRefs: older }, 'retired');
      // No LA found: nothing was stored, so nothing becomes current (the older objects retire).
      const storedUids = [out.segSopInstanceUid, out.srSopInstanceUid].filter(
        (u): u is string => u !== undefined,
      );
      if (storedUids.length > 0) {
        await moveStoredObjects(tx, { jobRefs: [row.id], sopInstanceUids: storedUids }, 'current');
      }
    });
    if (!held) return abandoned();
    if (retired > 0) deps.onRetired?.();
    if (supersededBy) {
      log.info({ supersededBy }, 'job finished after a newer instance set: result superseded');
      return 'superseded';
    }
    log.info(
      {
        segSeriesInstanceUid: out.segSeriesInstanceUid,
        segStored: out.segStored,
        laVolumeMl: out.measurement.laVolumeMl,
        scarBurdenPercent: out.measurement.scarBurdenPercent,
        qcFlags: out.measurement.qcFlags?.length ?? 0,
        ...(out.outcome ? { outcome: out.outcome } : {}),
      },
      'job completed',
    );
    return 'completed';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof SeriesChangedError) {
      // Not a failure: the series is not what this job was made for. The job for its new
      // instance set runs (intake makes it; the recheck below finds it if discovery does not).
      let retired = 0;
      const held = await settle('completed', async (tx) => {
        await markJob(tx, jobKey, { state: 'superseded', error: message, finishedAt: new Date() });
        await tx.job.update({ where: { id: row.id }, data: { supersededAt: new Date() } });
        retired = await moveStoredObjects(tx, { jobRefs: [row.id] }, 'retired');
      });
      if (!held) return abandoned();
      if (retired > 0) deps.onRetired?.();
      log.info({ instances: error.found.count }, 'series changed under the job; superseded');
      await requestRecheck(deps, log, {
        studyInstanceUid,
        seriesInstanceUid,
        fingerprint: row.instanceFingerprint,
      });
      return 'superseded';
    }
    if (error instanceof PermanentJobError) {
      const held = await settle('failed', (tx) =>
        markJob(tx, jobKey, { state: 'failed', error: message, finishedAt: new Date() }),
      );
      if (!held) return abandoned();
      log.warn({ error: message }, 'job failed (not retried)');
      // A gap or a single slice may be an instance still on its way: look again later.
      if (worthRechecking(error)) {
        await requestRecheck(deps, log, {
          studyInstanceUid,
          seriesInstanceUid,
          fingerprint: row.instanceFingerprint,
        });
      }
      return 'failed';
    }
    if (error instanceof PacsConfigurationJobError) deps.onPacsRefused?.(message);
    const last = job.retryCount >= job.retryLimit;
    // The queue entry stays active: pg-boss fails it (for retry) when this throws.
    const held = await settle(undefined, (tx) =>
      markJob(tx, jobKey, {
        state: last ? 'failed' : 'retrying',
        error: message,
        ...(last ? { finishedAt: new Date() } : {}),
      }),
    );
    if (!held) return abandoned();
    log.warn(
      { error: message, retriesLeft: job.retryLimit - job.retryCount },
      last ? 'job failed after its last retry' : 'job will be retried',
    );
    throw error;
  }
}

/** Asks for a recheck; a failure to ask is logged (the job's own outcome is recorded already). */
async function requestRecheck(
  deps: JobDeps,
  log: Logger,
  series: Parameters<NonNullable<JobDeps['recheck']>>[0],
): Promise<void> {
  if (!deps.recheck) return;
  try {
    await deps.recheck(series);
  } catch (error) {
    log.warn(
      { error: error instanceof Error ? error.message : String(error) },
      'could not schedule a recheck of the series',
    );
  }
}

/** Ends an attempt's queue entry if this attempt still holds it (a job with nothing to do). */
async function lockedSettle(
  prisma: PrismaClient,
  job: PgBoss.JobWithMetadata<SegmentJobData>,
  state: 'completed' | 'failed',
): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const entry = await lockAttempt(tx, job);
    if (!entry.held) return false;
    await settleAttempt(tx, job, state);
    return true;
  });
}

/**
 * Brings Job rows and pg-boss back in step after crashes: a queued row whose queue entry was
 * never written (a crash between the two) is sent again; a row still active or retrying whose
 * queue entry has failed for good (a worker killed during the last attempt) is marked failed.
 */
export async function reconcileJobs(
  prisma: PrismaClient,
  boss: PgBoss,
  log: Logger,
): Promise<void> {
  const open = await prisma.job.findMany({
    where: { state: { in: ['queued', 'active', 'retrying'] } },
    select: REQUEUE_SELECT,
    take: 500,
  });
  for (const j of open) {
    if (!j.queueJobId) continue;
    const queued = await boss.getJobById<SegmentJobData>(SEGMENT_QUEUE, j.queueJobId, {
      includeArchive: true,
    });
    if (!queued && j.state === 'queued') {
      await sendSegmentJob(boss, requeueData(j));
      log.warn({ jobKey: j.jobKey }, 'queued job had no queue entry; sent again');
    } else if (queued && queued.state === 'failed' && j.state !== 'queued') {
      const why = 'the worker stopped during the last attempt (lease expired, no retries left)';
      // Only a row still open: the attempt may have recorded its own, clearer failure since.
      const { count } = await prisma.job.updateMany({
        where: { jobKey: j.jobKey, state: { in: ['active', 'retrying'] } },
        data: { state: 'failed', error: why, finishedAt: new Date() },
      });
      if (count > 0) log.warn({ jobKey: j.jobKey }, why);
    }
  }
}
