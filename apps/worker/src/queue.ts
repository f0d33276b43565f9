/**
 * The queue lives in @lascar/queue, shared with the dashboard (one implementation of send,
 * retry and cancel); this module re-exports it and adds what only the worker's own attempts need:
 * keeping an attempt's queue entry and its Job row in step, and surviving a lost database.
 */
import type { Prisma } from '@lascar/db';
import { SEGMENT_QUEUE } from '@lascar/queue';

export {
  SEGMENT_QUEUE,
  queueJobId,
  sendSegmentJob,
  startQueue,
  type QueueSettings,
  type SegmentJobData,
} from '@lascar/queue';

/** One attempt at a job, as its handler got it: pg-boss's id and the retry count fetched with. */
export interface QueueAttempt {
  readonly id: string;
  readonly retryCount: number;
}

/** A queue entry's state (pg-boss's job_state). */
export type QueueEntryState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';

/**
 * Locks an attempt's queue entry until the caller's transaction ends and says whether this
 * attempt still holds it (active, with the retry count it was fetched with), or else the state
 * the queue has moved it to. pg-boss gives an attempt up when its lease (expireInSeconds) runs
 * out even while the handler still runs: the job is failed for retry, or fetched again, and that
 * attempt must not record its outcome, or the Job table would say one thing and the queue another.
 */
export async function lockAttempt(
  tx: Prisma.TransactionClient,
  attempt: QueueAttempt,
): Promise<{ held: boolean; state?: QueueEntryState }> {
  const [entry] = await tx.$queryRaw<{ state: QueueEntryState; retry_count: number }[]>`
    SELECT state::text AS state, retry_count FROM pgboss.job
     WHERE name = ${SEGMENT_QUEUE} AND id = ${attempt.id}::uuid
       FOR UPDATE`;
  if (!entry) return { held: false };
  return {
    held: entry.state === 'active' && entry.retry_count === attempt.retryCount,
    state: entry.state,
  };
}

/**
 * Ends a held attempt's queue entry (locked by lockAttempt) with the Job row's outcome:
 * completed, or failed for good. pg-boss's own completion after the handler returns then finds
 * nothing active and changes nothing.
 */
export async function settleAttempt(
  tx: Prisma.TransactionClient,
  attempt: QueueAttempt,
  state: 'completed' | 'failed',
): Promise<void> {
  await tx.$executeRaw`
    UPDATE pgboss.job SET state = ${state}::pgboss.job_state, completed_on = now()
     WHERE name = ${SEGMENT_QUEUE} AND id = ${attempt.id}::uuid`;
}

/** Socket errors and PostgreSQL SQLSTATEs of a database connection lost or refused. */
const CONNECTION_LOST_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown (pg_ctl stop/restart -m fast)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'P1001', // Prisma: can't reach database server
  'P1017', // Prisma: server has closed the connection
]);

/** Whether `error` says the database connection went away (not that a statement was wrong). */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_LOST_CODES.has(code)) return true;
  return /Connection terminated|connection error and is not queryable|terminating connection due to administrator command|the database system is (shutting down|starting up)/.test(
    error.message,
  );
}

/**
 * pg-boss 10 does not await its own complete()/fail() once a job handler returns (manager.js,
 * watch): when the database is away at that moment, the lost write surfaces as an unhandled
 * rejection, which ends a Node process. The job is safe without that write: its lease expires
 * and it is retried, and storing its SEG is idempotent. So a lost connection there is logged, not
 * fatal; any other unhandled rejection still ends the process, as Node's default does.
 * Returns the function that removes the guard.
 */
export function guardLostQueueWrites(log: { warn(obj: object, msg: string): void }): () => void {
  const onRejection = (reason: unknown) => {
    if (isConnectionLost(reason)) {
      log.warn(
        { error: reason instanceof Error ? reason.message : String(reason) },
        'a queue update was lost while the database was away; the job lease expires and it is retried',
      );
      return;
    }
    // Another listener (a test runner) decides; alone, behave as Node does without listeners.
    if (process.listenerCount('unhandledRejection') > 1) return;
    throw reason;
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}
