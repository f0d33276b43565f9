// A `lascar worker` process keeps running when PostgreSQL goes away under it in the middle of a
// job and comes back (pg_ctl stop -m fast, start), and the job still ends with exactly one SEG
// and one result. Found by `npm run drill:faults` (c):
// pg-boss 10 does not await its own complete/fail after a handler, so the lost write was an
// unhandled rejection that killed the process.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectOneSegAndOneResult,
  expectResultLikeTruth,
  jobOf,
  spawnWorkerProcess,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let worker: ChildProcess | undefined;
const output: string[] = [];

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
});

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await stack?.dispose();
});

describe('a worker process', () => {
  it(
    'stays up when PostgreSQL stops mid-job and starts again; the job completes once',
    {
      timeout: 720_000,
    },
    async () => {
      worker = spawnWorkerProcess(
        stack.env({
          LASCAR_HTTP_PORT: '0',
          // The lease also bounds one attempt (an attempt past it records nothing): long enough
          // for a whole attempt on a loaded 2-core machine.
          LASCAR_JOB_TIMEOUT_SECONDS: '120',
          LASCAR_LOG_LEVEL: 'info',
        }),
      );
      worker.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
      worker.stderr?.on('data', (b: Buffer) => output.push(b.toString()));
      await waitFor('the worker process to be ready', () => {
        if (worker!.exitCode !== null) throw new Error(`worker exited:\n${output.join('')}`);
        return output.join('').includes('"msg":"worker ready"') ? true : undefined;
      });
      // Scale 0.5: the LA network runs for seconds, so the restart lands inside it.
      const lge = phantomSeries(808, { scale: 0.5 });
      await stack.store(lge.instances);
      await waitFor(
        'the job to be in the middle of segmentation',
        async () => {
          const rows = await stack.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM "JobStage" st JOIN "Job" j ON j.id = st."jobRef"
            WHERE st.stage = 'load' AND st.error IS NULL AND j.state = 'active'`,
          );
          return rows[0]!.n > 0 ? true : undefined;
        },
        90_000,
      );
      // Down until the job ends: its last writes (the Job row, pg-boss's own complete or fail)
      // find no database. Up again once the worker has said so, or after two minutes.
      await stack.postgres.pause();
      await waitFor(
        'the job to end while the database is away',
        () => {
          if (worker!.exitCode !== null || worker!.signalCode !== null) return true;
          return output.join('').includes('queue update was lost') ? true : undefined;
        },
        120_000,
      ).catch(() => undefined);
      await stack.postgres.resume();
      // The lost attempt's lease (120 s) expires and the job is retried; the process must not die.
      const done = await waitFor(
        'the job to complete in the same worker process',
        async () => {
          if (worker!.exitCode !== null || worker!.signalCode !== null)
            throw new Error(
              `the worker exited (${worker!.exitCode}):\n${output.join('').slice(-3000)}`,
            );
          const j = await jobOf(stack, lge.seriesInstanceUid);
          if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
          return j?.state === 'completed' ? j : undefined;
        },
        480_000,
      );
      const job = await completedJob(stack, lge.seriesInstanceUid);
      expect(job.id).toBe(done.id);
      expect(worker.exitCode, output.join('').slice(-4000)).toBeNull();
      expect(worker.signalCode).toBeNull();
      await expectOneSegAndOneResult(stack, lge.studyInstanceUid, job.id);
      await expectResultLikeTruth(stack, lge);
    },
  );
});
