/**
 * Runs one queued job and keeps the Job row (what /jobs and the dashboard show) in step with
 * pg-boss: active while it runs, its stages as they finish, completed with one result row, or
 * retrying / failed with the error. A permanent failure (corrupt or unsuitable series) is not
 * retried; a retryable one is thrown back to pg-boss, which retries it with backoff.
 */
import type { StudyIdentity } from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import type PgBoss from 'pg-boss';
import { markJob, recordSeries, recordStage, saveResult, type PatientIdentity } from '@lascar/db';
import type { PrismaClient } from '@lascar/db';
import type { Logger } from './log.js';
import type { WorkerMetrics } from './metrics.js';
import type { PacsClient } from '@lascar/pacs';
import { PermanentJobError, processSeries } from './process-series.js';
import { REQUEUE_SELECT, requeueData } from '@lascar/queue';
import { SEGMENT_QUEUE, sendSegmentJob, type SegmentJobData } from './queue.js';

export interface JobDeps {
  readonly prisma: PrismaClient;
  readonly pacs: PacsClient;
  readonly networks: LoadedNetworks;
  readonly modelVersion: string;
  readonly log: Logger;
  readonly metrics?: WorkerMetrics;
}

export type JobOutcome = 'completed' | 'failed' | 'retrying' | 'missing';

/** The identity fields the database keeps, without the absent ones. */
function identityRecord(identity: StudyIdentity): PatientIdentity {
  const { patientId, patientName, studyDate, accessionNumber } = identity;
  return Object.fromEntries(
    Object.entries({ patientId, patientName, studyDate, accessionNumber }).filter(([, v]) => v),
  ) as PatientIdentity;
}

export async function runSegmentJob(
  job: PgBoss.JobWithMetadata<SegmentJobData>,
  deps: JobDeps,
): Promise<JobOutcome> {
  const { jobKey, studyInstanceUid, seriesInstanceUid } = job.data;
  const attempt = job.retryCount + 1;
  const log = deps.log.child({ jobKey, studyInstanceUid, seriesInstanceUid, attempt });
  const row = await deps.prisma.job.findUnique({ where: { jobKey }, select: { id: true } });
  if (!row) {
    log.error('queued job has no job row; dropped');
    return 'missing';
  }
  await markJob(deps.prisma, jobKey, {
    state: 'active',
    attempts: attempt,
    startedAt: new Date(),
    error: null,
    finishedAt: null,
  });
  log.info('job started');
  try {
    const out = await processSeries(
      { studyInstanceUid, seriesInstanceUid },
      {
        pacs: deps.pacs,
        networks: deps.networks,
        modelVersion: deps.modelVersion,
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
    await saveResult(deps.prisma, row.id, { ...out.measurement, report: out.report }, out.overlays);
    await markJob(deps.prisma, jobKey, {
      state: 'completed',
      finishedAt: new Date(),
      error: null,
      segSeriesInstanceUid: out.segSeriesInstanceUid,
      segSopInstanceUid: out.segSopInstanceUid,
      srSeriesInstanceUid: out.srSeriesInstanceUid,
      srSopInstanceUid: out.srSopInstanceUid,
    });
    log.info(
      {
        segSeriesInstanceUid: out.segSeriesInstanceUid,
        segStored: out.segStored,
        laVolumeMl: out.measurement.laVolumeMl,
        scarBurdenPercent: out.measurement.scarBurdenPercent,
      },
      'job completed',
    );
    return 'completed';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof PermanentJobError) {
      await markJob(deps.prisma, jobKey, {
        state: 'failed',
        error: message,
        finishedAt: new Date(),
      });
      log.warn({ error: message }, 'job failed (not retried)');
      return 'failed';
    }
    const last = job.retryCount >= job.retryLimit;
    await markJob(deps.prisma, jobKey, {
      state: last ? 'failed' : 'retrying',
      error: message,
      ...(last ? { finishedAt: new Date() } : {}),
    });
    log.warn(
      { error: message, retriesLeft: job.retryLimit - job.retryCount },
      last ? 'job failed after its last retry' : 'job will be retried',
    );
    throw error;
  }
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
      await markJob(prisma, j.jobKey, { state: 'failed', error: why, finishedAt: new Date() });
      log.warn({ jobKey: j.jobKey }, why);
    }
  }
}
