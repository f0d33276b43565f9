/**
 * The stack the worker's integration tests run against: a real Orthanc (Debian package, with the
 * Lua webhook), a private PostgreSQL cluster, and the worker itself (in this process, or as a
 * separate `lascar worker` process for the kill test). Only inside a private network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect } from 'vitest';
import { loadConfig, type WorkerConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DicomWebPacsClient } from '@lascar/pacs';
import { startWorker, type RunningWorker, type StartOptions } from '../src/worker.js';
import {
  freePort,
  startOrthanc,
  storeInOrthanc,
  waitFor,
  workerPacsEnv,
  type OrthancInstance,
} from '@lascar/testkit';

export { waitFor };
import { startPostgres, type PhantomSeries, type PostgresCluster } from '@lascar/testkit';

/** The workers' LASCAR_API_TOKEN in these tests; apiFetch sends it. */
export const API_TOKEN = randomBytes(32).toString('hex');

/** fetch with the worker API's bearer token. */
export function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${API_TOKEN}` },
  });
}

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Stack {
  readonly orthanc: OrthancInstance;
  readonly postgres: PostgresCluster;
  readonly secret: string;
  /** The port the worker's HTTP service listens on (the Lua webhook posts there when live). */
  readonly workerPort: number;
  readonly pacs: DicomWebPacsClient;
  /** Environment for loadConfig / a `lascar worker` process. */
  env(overrides?: Record<string, string>): Record<string, string>;
  startWorker(overrides?: Record<string, string>, options?: StartOptions): Promise<RunningWorker>;
  store(instances: readonly Uint8Array[]): Promise<void>;
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  dispose(): Promise<void>;
}

export interface StackOptions {
  /** 'dropped': the Lua script posts to a port nobody listens on (the change feed must find it). */
  readonly webhook: 'live' | 'dropped';
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const secret = randomBytes(18).toString('hex');
  const workerPort = await freePort();
  const hookPort = options.webhook === 'live' ? workerPort : await freePort();
  const postgres = await startPostgres();
  const orthanc = await startOrthanc({
    webhookUrl: `http://127.0.0.1:${hookPort}/webhook/orthanc`,
    secret,
    stableAgeSeconds: 1,
  });
  // The tests' own look into the PACS: patient with a busy Orthanc (two workers retrieving and
  // storing on a 2-core CI machine once kept a QIDO waiting past the 30 s default).
  const pacs = new DicomWebPacsClient({
    url: orthanc.dicomWebUrl,
    username: orthanc.username,
    password: orthanc.password,
    timeoutMs: 120_000,
  });
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  // A restarted PostgreSQL cuts the pool's idle connections; the next query opens new ones.
  db.on('error', () => undefined);
  const workers: RunningWorker[] = [];
  const env = (overrides: Record<string, string> = {}) => ({
    ...workerPacsEnv(orthanc, secret),
    DATABASE_URL: postgres.url,
    LASCAR_API_TOKEN: API_TOKEN,
    LASCAR_MODELS_DIR: path.join(REPO, 'models'),
    LASCAR_EXECUTION_PROVIDER: 'cpu',
    LASCAR_HTTP_PORT: String(workerPort),
    LASCAR_CHANGES_POLL_SECONDS: '1',
    LASCAR_RETRY_LIMIT: '6',
    LASCAR_RETRY_DELAY_SECONDS: '1',
    LASCAR_MAINTENANCE_SECONDS: '1',
    LASCAR_SHUTDOWN_GRACE_SECONDS: '30',
    LASCAR_LOG_LEVEL: process.env.LASCAR_TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
  return {
    orthanc,
    postgres,
    secret,
    workerPort,
    pacs,
    env,
    async startWorker(overrides = {}, startOptions = {}) {
      const config: WorkerConfig = loadConfig(env(overrides));
      const w = await startWorker(config, {
        log: createLogger(config.logLevel, process.stderr),
        ...startOptions,
      });
      workers.push(w);
      return w;
    },
    store: (instances) => storeInOrthanc(orthanc, instances),
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await db.query<T>(sql, params)).rows;
    },
    async dispose() {
      for (const w of workers) await w.stop().catch(() => undefined);
      await db.end();
      await orthanc.dispose();
      await postgres.stop();
    },
  };
}

export interface JobRowView {
  id: string;
  state: string;
  attempts: number;
  error: string | null;
  segSeriesInstanceUid: string | null;
  srSeriesInstanceUid: string | null;
}

export async function jobOf(
  stack: Stack,
  seriesInstanceUid: string,
): Promise<JobRowView | undefined> {
  // A job superseded by a newer instance set (Orthanc called the series stable before its last
  // instance arrived, on a loaded machine) is history: the series' job is the one not superseded.
  const rows = await stack.query<JobRowView>(
    `SELECT j.id, j.state::text AS state, j.attempts, j.error, j."segSeriesInstanceUid", j."srSeriesInstanceUid"
       FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef"
      WHERE s."seriesInstanceUid" = $1 AND j.state <> 'superseded'`,
    [seriesInstanceUid],
  );
  if (rows.length > 1) throw new Error(`${rows.length} jobs for series ${seriesInstanceUid}`);
  return rows[0];
}

/** Waits for the series' job to complete; a failed job fails the wait with its error. */
export async function completedJob(
  stack: Stack,
  seriesInstanceUid: string,
  timeoutMs = 120_000,
): Promise<JobRowView> {
  return waitFor(
    'the job to complete',
    async () => {
      const j = await jobOf(stack, seriesInstanceUid);
      if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
      return j?.state === 'completed' ? j : undefined;
    },
    timeoutMs,
  );
}

/** The invariant of every re-delivery: exactly one SEG and one SR in the study, one result row. */
export async function expectOneSegAndOneResult(
  stack: Stack,
  studyInstanceUid: string,
  jobId: string,
): Promise<void> {
  const segs = await stack.pacs.searchSeries({
    StudyInstanceUID: studyInstanceUid,
    Modality: 'SEG',
  });
  expect(segs).toHaveLength(1);
  const srs = await stack.pacs.searchSeries({ StudyInstanceUID: studyInstanceUid, Modality: 'SR' });
  expect(srs).toHaveLength(1);
  const results = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "Measurement" WHERE "jobRef" = $1`,
    [jobId],
  );
  expect(results[0]!.n).toBe(1);
}

/**
 * The series' result row, checked against the phantom's truth: the LA volume within 25 % (the
 * shipped networks on 0.5-scale phantoms with pixels of about 1.4 mm or finer) and no QC flag.
 */
export async function expectResultLikeTruth(
  stack: Stack,
  series: Pick<PhantomSeries, 'seriesInstanceUid' | 'truth'>,
): Promise<{ laVolumeMl: number; qcFlags: string[] }> {
  const rows = await stack.query<{ laVolumeMl: number; qcFlags: string[] }>(
    `SELECT m."laVolumeMl", m."qcFlags" FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef"
       JOIN "Series" s ON s.id = j."seriesRef" WHERE s."seriesInstanceUid" = $1`,
    [series.seriesInstanceUid],
  );
  expect(rows).toHaveLength(1);
  const m = rows[0]!;
  expect(
    Math.abs(m.laVolumeMl / series.truth.laVolumeMl - 1),
    `LA ${m.laVolumeMl} mL vs truth ${series.truth.laVolumeMl} mL`,
  ).toBeLessThan(0.25);
  expect(m.qcFlags).toEqual([]);
  return m;
}

/** A `lascar worker` process (the built CLI), for tests that kill it. */
export function spawnWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(REPO, 'apps/cli/bin/lascar.js'), 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
