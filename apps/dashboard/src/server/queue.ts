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
  holder.lascarQueue ??= openSendOnlyQueue(db.url).catch((error: unknown) => {
    holder.lascarQueue = undefined;
    throw error;
  });
  return holder.lascarQueue;
}
