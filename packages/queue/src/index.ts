/**
 * The durable job queue: pg-boss in the worker's PostgreSQL (schema "pgboss"), shared by the
 * worker (which works it) and the dashboard (which only sends to it). Every way a job enters or
 * leaves the queue outside the worker's own run (retry, cancel, process anyway) is written once
 * here, so `POST /jobs/:id/retry` and the admins' buttons cannot drift apart.
 *
 * pg-boss 10.4 is used, not 12: 10.x declares Node >= 20 (the machines that build and test this
 * run Node 20; users run 22/24, which 10.x also supports), while 12.x requires Node 22.
 *
 * Exactly-once intent: each job's pg-boss id is derived from its job key (series + model
 * version), so sending it again (webhook and change feed both seeing a series, a restart, a
 * double click) is a no-op while pg-boss holds it. Retries: retryLimit with exponential backoff
 * from retryDelay. A worker killed mid-job leaves its job `active`; pg-boss's maintenance fails
 * it once expireInSeconds pass and it is retried like any failure.
 */
import { createHash } from 'node:crypto';
import PgBoss from 'pg-boss';

export const SEGMENT_QUEUE = 'segment-series';
/** Series to look at again after a quiet period (a gap failure, a series that changed). */
export const RECHECK_QUEUE = 'recheck-series';

export interface SegmentJobData {
  readonly jobKey: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modelVersion: string;
  /**
   * Attempts the job had before this send (a manual retry of a finished job): the worker numbers
   * this send's attempts after them, so an earlier attempt's stage timings are kept.
   */
  readonly attemptsBefore?: number;
}

/** A UUID (version-5 layout) from the job key: the same key always gives the same queue id. */
export function queueJobId(jobKey: string): string {
  const h = createHash('sha1').update(`lascar-worker:${jobKey}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export interface RecheckData {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** The instance set the failed job had: the recheck acts only on a different one. */
  readonly fingerprint: string | null;
  /** 1, 2, 3: the quiet period is recheckSeconds x1, x2, x4. */
  readonly round: number;
  /** The quiet period of round 1 (seconds). */
  readonly recheckSeconds: number;
}

/** Rounds of rechecks before a series that does not change is left as it is. */
export const RECHECK_ROUNDS = 3;

/**
 * Schedules round `data.round` (recheckSeconds x 2^(round-1) from now); one per series, instance
 * set and round, however many jobs ask. False when there is no such round or it is queued already.
 */
export async function sendRecheck(boss: PgBoss, data: RecheckData): Promise<boolean> {
  if (data.round < 1 || data.round > RECHECK_ROUNDS || data.recheckSeconds <= 0) return false;
  const key = `${data.seriesInstanceUid}@${data.fingerprint ?? '-'}#${data.round}`;
  const id = await boss.send(
    RECHECK_QUEUE,
    { ...data },
    {
      id: queueJobId(`recheck:${key}`),
      startAfter: data.recheckSeconds * 2 ** (data.round - 1),
      retryLimit: 5,
      retryDelay: 30,
      retryBackoff: true,
    },
  );
  return id !== null;
}

export interface QueueSettings {
  readonly retryLimit: number;
  readonly retryDelaySeconds: number;
  readonly jobTimeoutSeconds: number;
  readonly maintenanceSeconds: number;
}

/**
 * Where pg-boss's background errors go: a connection the database dropped, a maintenance or
 * polling query that failed. pg-boss is an EventEmitter, and an 'error' event nobody listens to
 * throws and ends the process, so every handle gets a listener before it starts.
 */
export type QueueErrorHandler = (error: Error) => void;

/** The worker's queue: creates (or updates) the segmentation queue and runs maintenance. */
export async function startQueue(
  url: string,
  settings: QueueSettings,
  poolSize: number,
  onError: QueueErrorHandler,
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    max: poolSize,
    maintenanceIntervalSeconds: settings.maintenanceSeconds,
    monitorStateIntervalSeconds: Math.max(settings.maintenanceSeconds, 10),
    schedule: false,
  });
  boss.on('error', onError);
  await boss.start();
  await boss.createQueue(SEGMENT_QUEUE, {
    name: SEGMENT_QUEUE,
    policy: 'standard',
    retryLimit: settings.retryLimit,
    retryDelay: settings.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: settings.jobTimeoutSeconds,
    retentionDays: 14,
  });
  // createQueue keeps an existing queue's options: apply the configured ones.
  await boss.updateQueue(SEGMENT_QUEUE, {
    name: SEGMENT_QUEUE,
    retryLimit: settings.retryLimit,
    retryDelay: settings.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: settings.jobTimeoutSeconds,
    retentionDays: 14,
  });
  await boss.createQueue(RECHECK_QUEUE, {
    name: RECHECK_QUEUE,
    policy: 'standard',
    retentionDays: 14,
  });
  return boss;
}

/**
 * A send-only handle for another process (the dashboard): no maintenance, no schema changes, no
 * work(). The worker owns the queue's settings; jobs sent here get the queue's retry policy.
 */
export async function openSendOnlyQueue(url: string, onError: QueueErrorHandler): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    max: 2,
    supervise: false,
    schedule: false,
    migrate: false,
  });
  boss.on('error', onError);
  await boss.start();
  return boss;
}

/** Queues a segmentation job; false when pg-boss already holds it (same key). */
export async function sendSegmentJob(boss: PgBoss, data: SegmentJobData): Promise<boolean> {
  const id = await boss.send(SEGMENT_QUEUE, { ...data }, { id: queueJobId(data.jobKey) });
  return id !== null;
}

export * from './actions.js';
