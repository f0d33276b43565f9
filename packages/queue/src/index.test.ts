// A queue handle whose database connections are cut (a PostgreSQL restart, a failover, a test
// dropping its database) must report it and carry on: pg-boss emits 'error', and with no
// listener that event throws and ends the worker or the dashboard. Real PostgreSQL and pg-boss.
import { createTestDatabase, type TestDatabase } from '@lascar/db/test-database';
import type PgBoss from 'pg-boss';
import { waitFor } from '@lascar/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSendOnlyQueue, SEGMENT_QUEUE, sendSegmentJob, startQueue } from './index.js';

const APP = 'lascar-queue-under-test';
let db: TestDatabase;
const handles: PgBoss[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  for (const boss of handles) await boss.stop({ graceful: false, wait: true, timeout: 5_000 });
  await db?.drop();
});

/** Ends every server session the handles under test hold (not the test's own Prisma client). */
async function cutQueueConnections(): Promise<number> {
  const rows = await db.prisma.$queryRaw<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE datname = ${db.name} AND application_name = ${APP}`;
  for (const { pid } of rows) await db.prisma.$queryRaw`SELECT pg_terminate_backend(${pid}::int)`;
  return rows.length;
}

describe('queue handles', () => {
  it('report cut connections to their error handler and keep working', async () => {
    const url = new URL(db.url);
    url.searchParams.set('application_name', APP);
    const workerErrors: Error[] = [];
    const dashboardErrors: Error[] = [];
    const worker = await startQueue(
      url.toString(),
      { retryLimit: 1, retryDelaySeconds: 1, jobTimeoutSeconds: 60, maintenanceSeconds: 3600 },
      2,
      (e) => workerErrors.push(e),
    );
    handles.push(worker);
    const dashboard = await openSendOnlyQueue(url.toString(), (e) => dashboardErrors.push(e));
    handles.push(dashboard);
    const send = (boss: PgBoss, n: number) =>
      sendSegmentJob(boss, {
        jobKey: `series-${n}@model`,
        studyInstanceUid: `1.2.826.0.9.${n}`,
        seriesInstanceUid: `1.2.826.0.9.${n}.1`,
        modelVersion: 'model',
      });
    // Both pools now hold idle connections.
    expect(await send(worker, 1)).toBe(true);
    expect(await send(dashboard, 2)).toBe(true);

    expect(await cutQueueConnections()).toBeGreaterThanOrEqual(2);
    await waitFor('both handles to report the cut', async () =>
      workerErrors.length > 0 && dashboardErrors.length > 0 ? true : undefined,
    );
    for (const e of [...workerErrors, ...dashboardErrors]) {
      expect(e.message).toMatch(/terminat/i);
    }
    // The pools open new connections: sending works again on both.
    expect(await send(worker, 3)).toBe(true);
    expect(await send(dashboard, 4)).toBe(true);
    const queued = await db.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM pgboss.job WHERE name = ${SEGMENT_QUEUE}`;
    expect(Number(queued[0]!.n)).toBe(4);
  }, 60_000);
});
