// A worker configured with the wrong PACS password, against a real Orthanc that answers 401: the
// job is not failed and not hammered (the worker stops taking jobs, the job stays in the queue),
// /readyz names a configuration problem rather than an outage, and a worker with the right
// password then completes the job: one SEG, one result. Every log line of the three worker
// processes is kept: none carries the patient's data or a database password.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  completedJob,
  expectOneSegAndOneResult,
  jobOf,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let refused: RunningWorker;
let lge: PhantomSeries;

const REFUSED = 'retrieve: configuration: PACS refused the credentials (HTTP 401)';
const PATIENT = {
  patientName: 'Testperson^Harriet',
  patientId: 'PID-808-HT',
  patientBirthDate: '19470321',
  accessionNumber: 'ACC-808-77',
};
// The test cluster trusts every local connection: it ignores these passwords, as the logs must.
const DB_PASSWORDS = ['db-secret-userinfo', 'db-secret-query'];
const logLines: string[] = [];
const logs = {
  log: createLogger(
    'debug',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  ),
};
const withPassword = (form: 'userinfo' | 'query') =>
  form === 'userinfo'
    ? stack.postgres.url.replace('postgres@', `postgres:${DB_PASSWORDS[0]}@`)
    : `${stack.postgres.url}?password=${DB_PASSWORDS[1]}`;

beforeAll(async () => {
  stack = await startStack({ webhook: 'dropped' });
  lge = phantomSeries(808, { scale: 0.5, identity: PATIENT });
  await stack.store(lge.instances);
  // The series is queued by a process with the right credentials that takes no jobs itself.
  const intakeOnly = await stack.startWorker(
    {
      LASCAR_CHANGES_POLL_SECONDS: '0',
      LASCAR_HTTP_PORT: '0',
      DATABASE_URL: withPassword('userinfo'),
    },
    { consume: false, discover: false, ...logs },
  );
  const result = await intakeOnly.intake({
    series: { studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: lge.seriesInstanceUid },
    source: 'manual',
    seenAt: new Date(),
  });
  expect(result.selected).toBe(true);
  await intakeOnly.stop();
  refused = await stack.startWorker(
    {
      LASCAR_CHANGES_POLL_SECONDS: '0',
      LASCAR_HTTP_PORT: '0',
      LASCAR_PACS_PASSWORD: 'wrong',
      DATABASE_URL: withPassword('query'),
    },
    { discover: false, ...logs },
  );
});

afterAll(async () => {
  await stack?.dispose();
});

describe('a PACS that refuses the worker credentials', () => {
  it('is a configuration problem on /readyz, and the job is neither failed nor hammered', async () => {
    const job = await waitFor('the first attempt to be refused', async () => {
      const j = await jobOf(stack, lge.seriesInstanceUid);
      if (j?.state === 'failed') throw new Error(`job failed: ${j.error}`);
      return j?.state === 'retrying' ? j : undefined;
    });
    expect(job.error).toBe(REFUSED);
    const ready = await fetch(`${refused.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'not ready',
      database: 'ok',
      pacs: 'configuration: PACS refused the credentials (HTTP 401)',
    });
    // Retries come after 1 s (LASCAR_RETRY_DELAY_SECONDS), doubling: a worker still taking jobs
    // would have tried three more times in 8 s. This one took none: the job waits in the queue.
    await new Promise((r) => setTimeout(r, 8_000));
    const later = await jobOf(stack, lge.seriesInstanceUid);
    expect(later).toMatchObject({ state: 'retrying', attempts: 1, error: REFUSED });
    const [queued] = await stack.query<{ state: string; retry_count: number }>(
      `SELECT state::text AS state, retry_count FROM pgboss.job WHERE name = 'segment-series'`,
    );
    expect(queued).toEqual({ state: 'retry', retry_count: 0 });
    const attempts = await stack.query<{ stage: string; error: string }>(
      `SELECT stage::text AS stage, error FROM "JobStage" WHERE "jobRef" = $1`,
      [job.id],
    );
    expect(attempts).toEqual([{ stage: 'retrieve', error: REFUSED }]);
  });

  it('completes the job once a worker has the right credentials', async () => {
    await refused.stop();
    const worker = await stack.startWorker(
      { LASCAR_CHANGES_POLL_SECONDS: '0', LASCAR_HTTP_PORT: '0' },
      { discover: false, ...logs },
    );
    const job = await completedJob(stack, lge.seriesInstanceUid);
    expect(job.attempts).toBe(2);
    expect(job.error).toBeNull();
    await expectOneSegAndOneResult(stack, lge.studyInstanceUid, job.id);
    await worker.stop();
  });

  it('logged none of the patient data or database passwords', () => {
    const text = logLines.join('');
    // The run was logged (the job went through) ...
    expect(text).toContain('"msg":"job completed"');
    expect(text).toContain(lge.seriesInstanceUid);
    // ... without a trace of who the patient is, or of a password.
    for (const secret of [...Object.values(PATIENT), 'Testperson', ...DB_PASSWORDS])
      expect(text).not.toContain(secret);
  });
});
