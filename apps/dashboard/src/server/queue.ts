import 'server-only';
/**
 * The dashboard's handle on the worker's queue: pg-boss on the same database, send-only (the
 * worker works the queue and owns its settings). One per process, kept on globalThis like the
 * database handle. All queue logic is @lascar/queue's, shared with the worker.
 */
import { openSendOnlyQueue } from '@lascar/queue';
import type PgBoss from 'pg-boss';
import { config } from './config';

const holder = globalThis as unknown as { lascarQueue?: Promise<PgBoss> };

export function queue(): Promise<PgBoss> {
  const db = config().database;
  if (db.kind !== 'postgres') throw new Error('the dashboard needs DATABASE_URL for the queue');
  // A dropped connection is reported and pg-boss reconnects; the next send fails or succeeds on its own.
  holder.lascarQueue ??= openSendOnlyQueue(db.url, (error) =>
    console.error('queue connection error:', error.message),
  ).catch((error: unknown) => {
    holder.lascarQueue = undefined;
    throw error;
  });
  return holder.lascarQueue;
}
