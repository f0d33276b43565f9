// Worker processes (`lascar worker`, as deployed) on one PostgreSQL: one is killed with SIGKILL
// in the middle of a job; a second process picks the job up once its lease expires and finishes
// it: exactly one SEG and one result, and the queue entry completed with the Job row. A SIGTERM in
// the middle of a job lets it finish first.
//
// The lease (LASCAR_JOB_TIMEOUT_SECONDS) is how long a killed worker's job waits before another
// takes it, and also the longest an attempt may run: pg-boss gives up an attempt that outlives
// it, and that attempt records nothing (jobs.ts). It is set so that an attempt on this small
// series fits with room to spare on a busy 2-core machine (25..45 s measured there, at a load
// average of 11..14).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectOneSegAndOneResult,
  jobOf,
  spawnWorkerProcess,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

const LEASE_SECONDS = 90;
/** Killed-worker detection (one lease) plus a whole retry, with room for a loaded machine. */
const RECOVERY_MS = 4 * LEASE_SECONDS * 1000;

let stack: Stack;
const processes: { proc: ChildProcess; output: string[] }[] = [];

function start(): { proc: ChildProcess; output: string[] } {
  const output: string[] = [];
  const proc = spawnWorkerProcess(
    stack.env({
      LASCAR_HTTP_PORT: '0',
      LASCAR_CHANGES_POLL_SECONDS: '1',
      LASCAR_JOB_TIMEOUT_SECONDS: String(LEASE_SECONDS),
      LASCAR_SHUTDOWN_GRACE_SECONDS: String(LEASE_SECONDS),
      LASCAR_LOG_LEVEL: 'info',
    }),
  );
  proc.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
  proc.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
  const entry = { proc, output };
  processes.push(entry);
  return entry;
}

/** Waits for a worker process's "worker ready" log line (database migrated, consumers on). */
function ready(worker: { proc: ChildProcess; output: string[] }) {
  return waitFor('the worker process to be ready', () => {
    if (worker.proc.exitCode !== null) throw new Error(`worker exited:\n${worker.output.join('')}`);
    return worker.output.join('').includes('"msg":"worker ready"') ? true : undefined;
  });
}

const exited = (proc: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null)
      resolve({ code: proc.exitCode, signal: proc.signalCode });
    else proc.once('exit', (code, signal) => resolve({ code, signal }));
  });

async function midJob(series: PhantomSeries): Promise<void> {
  // "Mid-job": the series is retrieved and loaded, the networks are running.
  await waitFor(
    'the job to be in the middle of segmentation',
    async () => {
      const rows = await stack.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "JobStage" st JOIN "Job" j ON j.id = st."jobRef"
         JOIN "Series" s ON s.id = j."seriesRef"
        WHERE s."seriesInstanceUid" = $1 AND st.stage = 'load' AND st.error IS NULL AND j.state = 'active'`,
        [series.seriesInstanceUid],
      );
      return rows[0]!.n > 0 ? true : undefined;
    },
    90_000,
  );
}

async function oneSegOneResult(series: PhantomSeries) {
  const job = await completedJob(stack, series.seriesInstanceUid, RECOVERY_MS);
  await expectOneSegAndOneResult(stack, series.studyInstanceUid, job.id);
  return job;
}

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
});

afterAll(async () => {
  for (const { proc } of processes)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  await stack?.dispose();
});

describe('worker processes', { timeout: RECOVERY_MS + 120_000 }, () => {
  it('lose nothing when one is killed with SIGKILL mid-job', async () => {
    // Scale 0.5: the LA network runs for seconds, long enough to be killed inside it.
    const lge = phantomSeries(606, { scale: 0.5, slices: 16 });
    const first = start();
    await ready(first);
    await stack.store(lge.instances);
    await midJob(lge);
    first.proc.kill('SIGKILL');
    expect((await exited(first.proc)).signal).toBe('SIGKILL');
    expect((await jobOf(stack, lge.seriesInstanceUid))?.state).toBe('active');
    const second = start();
    const job = await oneSegOneResult(lge).catch((error: unknown) => {
      throw new Error(
        `${String(error)}\nsecond worker output:\n${second.output.join('').slice(-4000)}`,
      );
    });
    // The killed attempt was retried. The Job row was completed in one transaction with the
    // queue entry, by the attempt that held it: reading the queue now cannot find it behind.
    expect(job.attempts).toBeGreaterThanOrEqual(2);
    const [queued] = await stack.query<{ retry_count: number; state: string }>(
      `SELECT retry_count, state::text AS state FROM pgboss.job WHERE name = 'segment-series'`,
    );
    expect(queued).toEqual({ state: 'completed', retry_count: job.attempts - 1 });
  });

  it('finish the running job on SIGTERM before they exit', async () => {
    const running = processes.find((p) => p.proc.exitCode === null && p.proc.signalCode === null);
    expect(running).toBeDefined();
    const lge = phantomSeries(707, { scale: 0.5, slices: 16 });
    await stack.store(lge.instances);
    await midJob(lge);
    running!.proc.kill('SIGTERM');
    const { code } = await exited(running!.proc);
    expect(code, running!.output.join('').slice(-4000)).toBe(0);
    const job = await oneSegOneResult(lge);
    expect(job.attempts).toBe(1);
  });
});
