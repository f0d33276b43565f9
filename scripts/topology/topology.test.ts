// The deployment across hosts (run by scripts/topology/run.sh: npm run test:topology). Five
// private hosts on one bridge: PACS, database, two GPU hosts with a worker each, the dashboard.
// Every service listens on its own host's address; this test is the hospital network.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchChromium,
  phantomSeries,
  storeInOrthanc,
  waitFor,
  type PhantomSeries,
} from '@lascar/testkit';
import {
  addUser,
  cable,
  DATABASE_URL,
  HOSTS,
  PACS,
  scratch,
  SECRETS,
  startDashboard,
  startOrthanc,
  startPostgres,
  startWorker,
  waitForLog,
  type Service,
} from './hosts.js';

const services: Service[] = [];
let db: pg.Client;
let workers: Record<'gpu1' | 'gpu2', Service>;
let dashboard: Service;
let browser: Browser | undefined;
let page: Page;

interface JobView {
  state: string;
  attempts: number;
  error: string | null;
  segSeriesInstanceUid: string | null;
}

async function jobsOf(seriesInstanceUid: string): Promise<JobView[]> {
  const { rows } = await db.query<JobView>(
    `SELECT j.state::text AS state, j.attempts, j.error, j."segSeriesInstanceUid"
       FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef" WHERE s."seriesInstanceUid" = $1`,
    [seriesInstanceUid],
  );
  return rows;
}

async function completed(s: PhantomSeries, timeoutMs = 240_000): Promise<JobView> {
  return waitFor(
    `the job of ${s.seriesInstanceUid} to complete`,
    async () => {
      const jobs = await jobsOf(s.seriesInstanceUid);
      expect(jobs.length).toBeLessThanOrEqual(1);
      const job = jobs[0];
      if (job?.state === 'failed') throw new Error(`job failed: ${job.error}`);
      return job?.state === 'completed' ? job : undefined;
    },
    timeoutMs,
  );
}

const pacsAuth = `Basic ${Buffer.from(`${PACS.username}:${PACS.password}`).toString('base64')}`;

async function segsInPacs(studyInstanceUid: string): Promise<number> {
  const res = await fetch(`${PACS.url}/dicom-web/studies/${studyInstanceUid}/series?Modality=SEG`, {
    headers: { authorization: pacsAuth, accept: 'application/dicom+json' },
  });
  if (res.status === 204) return 0;
  expect(res.status).toBe(200);
  return ((await res.json()) as unknown[]).length;
}

async function workerLogsNaming(uid: string): Promise<('gpu1' | 'gpu2')[]> {
  const found: ('gpu1' | 'gpu2')[] = [];
  for (const host of ['gpu1', 'gpu2'] as const) {
    const lines = (await workers[host].log()).split('\n');
    if (lines.some((l) => l.includes(uid) && l.includes('job started'))) found.push(host);
  }
  return found;
}

beforeAll(async () => {
  console.log(`topology: service logs in ${await scratch()}`);
  services.push(await startPostgres());
  const orthanc = await startOrthanc();
  services.push(orthanc);
  await waitFor('Orthanc on the pacs host', async () => {
    const res = await fetch(`${PACS.url}/system`).catch(() => undefined);
    return res ? true : undefined;
  });
  // The first worker applies the migrations; the second starts once they are there.
  const gpu1 = await startWorker('gpu1');
  services.push(gpu1);
  await waitForLog(gpu1, /worker ready/, 180_000);
  const gpu2 = await startWorker('gpu2');
  services.push(gpu2);
  await waitForLog(gpu2, /worker ready/, 180_000);
  workers = { gpu1, gpu2 };
  dashboard = await startDashboard();
  services.push(dashboard);
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
});

afterAll(async () => {
  await browser?.close();
  await db?.end().catch(() => undefined);
  for (const s of services.reverse()) await s.stop();
  // The logs stay (scratch folder named in each failure); the data goes.
  const dir = await scratch();
  await rm(path.join(dir, 'pg'), { recursive: true, force: true });
  await rm(path.join(dir, 'orthanc'), { recursive: true, force: true });
});

describe('LA scar across five hosts', () => {
  it('each service answers on its own host address only', async () => {
    for (const host of ['gpu1', 'gpu2'] as const) {
      const res = await fetch(`http://${HOSTS[host]}:8300/healthz`);
      expect(res.status).toBe(200);
    }
    const ready = await fetch(`http://${HOSTS.gpu2}:8300/readyz`);
    expect(await ready.json()).toMatchObject({ database: 'ok', pacs: 'ok' });
    // The database refuses a wrong password from another host.
    const intruder = new pg.Client({
      connectionString: DATABASE_URL.replace(SECRETS.postgres, 'wrong-password'),
    });
    await expect(intruder.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('the webhook refuses posts without the secret, across hosts', async () => {
    const body = JSON.stringify({
      seriesId: 'x',
      seriesInstanceUid: '1.2.3',
      studyInstanceUid: '1.2',
    });
    const without = await fetch(`http://${HOSTS.gpu1}:8300/webhook/orthanc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(without.status).toBe(401);
    const wrong = await fetch(`http://${HOSTS.gpu1}:8300/webhook/orthanc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-lascar-webhook-secret': 'not-the-secret' },
      body,
    });
    expect(wrong.status).toBe(401);
    // Orthanc refuses the PACS API without its credentials.
    expect((await fetch(`${PACS.url}/studies`)).status).toBe(401);
  });

  it("the worker API answers another host only with the worker's bearer token", async () => {
    const jobs = (authorization?: string) =>
      fetch(`http://${HOSTS.gpu2}:8300/jobs`, {
        headers: authorization ? { authorization } : {},
      });
    expect((await jobs()).status).toBe(401);
    expect((await jobs('Bearer not-the-token')).status).toBe(401);
    expect((await jobs(`Bearer ${SECRETS.apiToken}x`)).status).toBe(401);
    const allowed = await jobs(`Bearer ${SECRETS.apiToken}`);
    expect(allowed.status).toBe(200);
    expect(Array.isArray(await allowed.json())).toBe(true);
  });

  // Scale 0.5: fine enough (about 1.3 mm) for the shipped LA model to find the LA, so SEGs are stored.
  const studies = [303, 808, 901].map((seed) => phantomSeries(seed, { scale: 0.5 }));

  it('studies stored into the PACS are processed once across the two workers, SEGs stored back', async () => {
    for (const s of studies) await storeInOrthanc(PACS, s.instances);
    for (const s of studies) {
      const job = await completed(s);
      expect(job.attempts).toBe(1);
      expect(await segsInPacs(s.studyInstanceUid)).toBe(1);
      expect(await workerLogsNaming(s.seriesInstanceUid)).toHaveLength(1);
    }
  });

  it('the dashboard on the web host shows the results to a signed-in user', async () => {
    expect(addUser('admin@topology.test', 'topology-admin-password', 'admin')).toMatch(/created/);
    await waitForLog(dashboard, /Ready|started server|Local:/i, 120_000);
    // The web host's address is the one name allowed to resolve.
    browser = (await launchChromium(HOSTS.web)).browser;
    const context = await browser.newContext({ baseURL: `http://${HOSTS.web}:3000` });
    page = await context.newPage();
    await page.goto('/login');
    await page.getByLabel('Email').fill('admin@topology.test');
    await page.getByLabel('Password').fill('topology-admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 60_000 });
    const csv = await (await page.request.get('/api/export/results')).text();
    for (const s of studies) expect(csv).toContain(s.seriesInstanceUid);
    // Without a session the export is refused.
    expect((await fetch(`http://${HOSTS.web}:3000/api/export/results`)).status).toBe(401);
  });

  it('a worker host cut off mid-job loses nothing: the other finishes it after the lease expires', async () => {
    const s = phantomSeries(404, { scale: 0.5 });
    await storeInOrthanc(PACS, s.instances);
    const [holder] = await waitFor(`a worker to start ${s.seriesInstanceUid}`, async () => {
      const found = await workerLogsNaming(s.seriesInstanceUid);
      return found.length > 0 ? found : undefined;
    });
    const other = holder === 'gpu1' ? 'gpu2' : 'gpu1';
    cable(holder!, 'down');
    try {
      const job = await completed(s, 480_000);
      expect(job.attempts).toBeGreaterThanOrEqual(2);
      expect(await workerLogsNaming(s.seriesInstanceUid)).toContain(other);
      expect(await segsInPacs(s.studyInstanceUid)).toBe(1);
      const csv = await (await page.request.get('/api/export/results')).text();
      expect(csv.split('\n').filter((l) => l.includes(s.seriesInstanceUid))).toHaveLength(1);
    } finally {
      // The cut-off worker's attempt is over for the queue: stop it before it comes back.
      await workers[holder!].stop();
      cable(holder!, 'up');
    }
  });

  it('the PACS host unreachable for a while: the workers retry, then everything is processed', async () => {
    const s = phantomSeries(101, { scale: 0.5 });
    await storeInOrthanc(PACS, s.instances);
    // Cut before the series is stable (StableAge 3 s): no webhook, no change-feed entry reaches a worker.
    cable('pacs', 'down');
    const liveWorker = Object.values(workers).find(
      (w) => w.child.exitCode === null && w.child.signalCode === null,
    )!;
    try {
      await waitFor(
        'the worker to notice the PACS is unreachable',
        async () =>
          /"level":(40|50).*PACS unreachable: GET http:\/\/10\.77\.0\.2:8042/.test(
            await liveWorker.log(),
          )
            ? true
            : undefined,
        60_000,
      );
    } finally {
      cable('pacs', 'up');
    }
    const job = await completed(s, 300_000);
    expect(job.state).toBe('completed');
    expect(await segsInPacs(s.studyInstanceUid)).toBe(1);
  });
});
