// Without DATABASE_URL the worker keeps its database in a data folder (PGlite served on
// loopback): a series is processed end to end, another process can read the same database over
// the PostgreSQL protocol while the worker runs, and a restarted worker reopens the folder with
// its jobs and results (migrations already applied, nothing processed twice).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import { startStack, waitFor, type Stack } from './worker-fixture.js';

let stack: Stack;
let dataDir: string;
let lge: PhantomSeries;

const embedded = (): Record<string, string> => ({
  DATABASE_URL: '',
  LASCAR_DATA_DIR: dataDir,
  LASCAR_EMBEDDED_DB_PORT: '0',
  LASCAR_CHANGES_POLL_SECONDS: '1',
  LASCAR_HTTP_PORT: '0',
});

async function jobs(worker: RunningWorker) {
  return worker.db.prisma.job.findMany({ include: { measurement: true, series: true } });
}

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  dataDir = await mkdtemp(path.join(tmpdir(), 'lascar-embedded-'));
  // Scale 0.5: a study on which the shipped networks find the LA (checked against the truth).
  lge = phantomSeries(808, { scale: 0.5 });
});

afterAll(async () => {
  await stack?.dispose();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the embedded database', () => {
  it('holds the jobs and results of a processed series, readable by another client', async () => {
    const worker = await stack.startWorker(embedded());
    expect(worker.db.embedded).toBe(true);
    expect(worker.db.migrations.applied.length).toBeGreaterThan(0);
    await stack.store(lge.instances);
    await waitFor(
      'the job to complete',
      async () => {
        const [j] = await jobs(worker);
        if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
        return j?.state === 'completed' ? j : undefined;
      },
      120_000,
    );
    // A dashboard process would connect like this.
    const client = new pg.Client({ connectionString: worker.db.url });
    await client.connect();
    const { rows } = await client.query<{ laVolumeMl: number; qcFlags: string[] }>(
      'SELECT "laVolumeMl", "qcFlags" FROM "Measurement"',
    );
    await client.end();
    expect(rows).toHaveLength(1);
    expect(Math.abs(rows[0]!.laVolumeMl / lge.truth.laVolumeMl - 1)).toBeLessThan(0.25);
    expect(rows[0]!.qcFlags).toEqual([]);
    await worker.stop();
  });

  it('reopens the data folder after a restart without processing anything again', async () => {
    const worker = await stack.startWorker(embedded());
    expect(worker.db.migrations.applied).toEqual([]);
    await new Promise((r) => setTimeout(r, 3_000));
    const all = await jobs(worker);
    expect(all).toHaveLength(1);
    expect(all[0]!.state).toBe('completed');
    expect(all[0]!.attempts).toBe(1);
    expect(all[0]!.series.seriesInstanceUid).toBe(lge.seriesInstanceUid);
    expect(all[0]!.measurement).not.toBeNull();
    const segs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
    await worker.stop();
  });
});
