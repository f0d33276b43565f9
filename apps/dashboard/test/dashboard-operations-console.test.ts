// The admins' operations console end to end, on a real worker, Orthanc and PostgreSQL: a corrupt
// series fails and shows its error on /admin/jobs; "Retry" (double-clicked) queues it once; a
// cine series the selection rules skipped is on /admin/series with its reason, and "Process
// anyway" runs it and records who overrode the rule; the overview's counts equal the database's,
// and it lists the worker processes by their heartbeats and flags one that died holding a job;
// a cardiologist is refused every admin URL; axe finds no serious violation.
import { phantomSeries, waitFor, type PhantomSeries } from '@lascar/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible } from './accessibility.js';
import { screenshots, startDashboardStack, type DashboardStack } from './dashboard-fixture.js';

let stack: DashboardStack;
let corrupt: PhantomSeries;
let cine: PhantomSeries;
let corruptJobId: string;
/** The corrupt study's accession: a job that fails must still show it (recorded at intake). */
const ACCESSION = 'ACC202CORRUPT';

interface JobRow {
  id: string;
  jobKey: string;
  state: string;
  attempts: number;
  error: string | null;
}

async function jobOf(seriesInstanceUid: string): Promise<JobRow | undefined> {
  const [row] = await stack.query<JobRow>(
    `SELECT j.id, j."jobKey", j.state::text AS state, j.attempts, j.error
       FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef"
      WHERE s."seriesInstanceUid" = $1`,
    [seriesInstanceUid],
  );
  return row;
}

async function queueEntries(jobKey: string): Promise<number> {
  const [row] = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'jobKey' = $1`,
    [jobKey],
  );
  return row!.n;
}

beforeAll(async () => {
  stack = await startDashboardStack({ withWorker: true });
  // An LGE study with a slice missing in the middle: the volume cannot be built (a data error).
  const whole = phantomSeries(202, { scale: 0.25, identity: { accessionNumber: ACCESSION } });
  const middle = Math.floor(whole.instances.length / 2);
  corrupt = { ...whole, instances: whole.instances.filter((_, n) => n !== middle) };
  // A series the rules skip by its description (its pixels are a real LGE phantom).
  cine = phantomSeries(101, {
    scale: 0.5,
    acquisition: {
      seriesInstanceUid: '2.25.2020202020202020202',
      seriesNumber: 3,
      seriesDescription: 'CINE SAX retro',
      protocolName: 'cine_sax',
      sequenceName: 'tfi2d1_12',
    },
  });
  await stack.store([...corrupt.instances, ...cine.instances]);
  const failed = await waitFor(
    'the corrupt job to fail',
    async () => {
      const j = await jobOf(corrupt.seriesInstanceUid);
      return j?.state === 'failed' ? j : undefined;
    },
    300_000,
  );
  corruptJobId = failed.id;
  await waitFor(
    'the cine series to be skipped',
    async () =>
      (
        await stack.query(
          `SELECT 1 FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
            WHERE s."seriesInstanceUid" = $1 AND NOT d.selected`,
          [cine.seriesInstanceUid],
        )
      ).length > 0 || undefined,
    120_000,
  );
}, 600_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('the operations console', () => {
  it('shows the corrupt series failed with its error, found by its UIDs, classified as a data error', async () => {
    const page = await stack.page(stack.accounts.admin);
    await page.goto('/admin/jobs?state=failed');
    const row = page.locator(`[data-series-uid="${corrupt.seriesInstanceUid}"]`);
    await row.waitFor();
    expect(await row.getByTestId('job-state').textContent()).toBe('failed');
    expect(await row.getByTestId('job-error').textContent()).toMatch(
      /^load: unusable DICOM series \(IRREGULAR_SPACING\)/,
    );
    expect(await row.getByTestId('job-attempts').textContent()).toBe('1');
    await expectAccessible(page);
    await screenshots(page, 'admin-jobs');
    expect(await row.textContent()).toContain(`Accession ${ACCESSION}`);
    await page.goto(`/admin/jobs?q=${ACCESSION}`);
    await expect.poll(() => page.locator('[data-job-row]').count()).toBe(1);

    await page.goto(`/admin/jobs?q=${corrupt.seriesInstanceUid}`);
    await expect.poll(() => page.locator('[data-job-row]').count()).toBe(1);
    await page.goto(`/admin/jobs?q=${corrupt.studyInstanceUid}`);
    await expect.poll(() => page.locator('[data-job-row]').count()).toBe(1);

    await page.goto(`/admin/jobs/${corruptJobId}`);
    expect(await page.getByTestId('failure-class').textContent()).toMatch(/^Data error/);
    expect(await page.getByTestId('attempt').count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Study page' }).getAttribute('href')).toMatch(
      /^\/studies\/[0-9a-f-]{36}$/,
    );
    await expectAccessible(page);
    await screenshots(page, 'admin-job');
    const [audited] = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "AuditEvent" WHERE action = 'jobs.view' AND "userEmail" = $1`,
      [stack.accounts.admin.email],
    );
    expect(audited!.n).toBeGreaterThan(0);
    await page.context().close();
  });

  it('queues the failed job once on a double click of Retry', async () => {
    const before = (await jobOf(corrupt.seriesInstanceUid))!;
    const page = await stack.page(stack.accounts.admin);
    await page.goto('/admin/jobs?state=failed');
    const row = page.locator(`[data-series-uid="${corrupt.seriesInstanceUid}"]`);
    await row.getByTestId('retry-job').dblclick();
    await waitFor(
      'the retry to be audited',
      async () =>
        (
          await stack.query(
            `SELECT 1 FROM "AuditEvent" WHERE action = 'job.retry' AND detail LIKE '%: queued'`,
          )
        ).length > 0 || undefined,
      30_000,
    );
    const retries = await stack.query<{ detail: string }>(
      `SELECT detail FROM "AuditEvent" WHERE action = 'job.retry' ORDER BY at`,
    );
    expect(retries.filter((r) => r.detail.endsWith(': queued'))).toHaveLength(1);
    expect(retries.every((r) => /: (queued|busy)$/.test(r.detail))).toBe(true);
    expect(await queueEntries(before.jobKey)).toBe(1);
    // The worker runs it again; the series is still corrupt, so it fails again, once.
    const again = await waitFor(
      'the retried job to fail again',
      async () => {
        const [j] = await stack.query<JobRow & { finished: boolean }>(
          `SELECT state::text AS state, attempts, error FROM "Job" WHERE id = $1`,
          [before.id],
        );
        return j?.state === 'failed' ? j : undefined;
      },
      120_000,
    );
    expect(again.error).toMatch(/IRREGULAR_SPACING/);
    expect(await queueEntries(before.jobKey)).toBe(1);
    await page.context().close();
  });

  it('lists the skipped cine series with its reason; "Process anyway" runs it and records who', async () => {
    const page = await stack.page(stack.accounts.admin);
    await page.goto('/admin/series?decision=skipped');
    // Each discovery path (webhook, change feed) that saw it recorded its decision.
    const row = page.locator(`[data-series-uid="${cine.seriesInstanceUid}"]`).first();
    await row.waitFor();
    const reason = (await row.getByTestId('decision-reason').textContent())!;
    expect(reason).toMatch(/CINE|cine/);
    await expectAccessible(page);
    await screenshots(page, 'admin-series');
    await row.getByTestId('process-anyway').dblclick();
    const job = await waitFor(
      'the overridden series to be segmented',
      async () => {
        const j = await jobOf(cine.seriesInstanceUid);
        if (j?.state === 'failed') throw new Error(`the cine job failed: ${j.error}`);
        return j?.state === 'completed' ? j : undefined;
      },
      600_000,
    );
    expect(await queueEntries(job.jobKey)).toBe(1);
    const manual = await stack.query<{ selected: boolean; reason: string }>(
      `SELECT d.selected, d.reason FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
        WHERE s."seriesInstanceUid" = $1 AND d.source = 'manual'`,
      [cine.seriesInstanceUid],
    );
    expect(manual).toEqual([
      {
        selected: true,
        reason: `processed anyway by ${stack.accounts.admin.email}; overrode: ${reason}`,
      },
    ]);
    const audited = await stack.query<{ outcome: string; detail: string }>(
      `SELECT outcome, detail FROM "AuditEvent" WHERE action = 'series.process-anyway'`,
    );
    expect(audited.filter((a) => a.detail.includes(': queued job '))).toHaveLength(1);
    await page.context().close();
  }, 700_000);

  it("shows the database's counts on the overview", async () => {
    const page = await stack.page(stack.accounts.admin);
    // A worker on another host that died in the middle of the corrupt series' job: its last beat
    // is five minutes old and it still holds the job.
    const corruptJob = (await jobOf(corrupt.seriesInstanceUid))!;
    await stack.query(
      `INSERT INTO "WorkerHeartbeat" (id, host, pid, version, "modelVersion", "executionProvider",
                                      concurrency, "intervalSeconds", "jobKeys", "startedAt", "lastBeatAt")
       VALUES ('00000000-0000-4000-8000-00000000dead', 'lost-host', 4711, '0.1.0', 'm', 'cuda', 1, 5,
               ARRAY[$1], (now() AT TIME ZONE 'UTC') - interval '1 hour',
               (now() AT TIME ZONE 'UTC') - interval '5 minutes')`,
      [corruptJob.jobKey],
    );
    await page.goto('/admin/overview');
    // The real worker process beats every 5 s: listed as running, with what it runs on.
    const running = page.locator('[data-testid="worker-row"][data-status="running"]');
    await expect.poll(() => running.count()).toBe(1);
    const [beat] = await stack.query<{
      host: string;
      executionProvider: string;
      concurrency: number;
    }>(
      `SELECT host, "executionProvider", concurrency FROM "WorkerHeartbeat" WHERE "stoppedAt" IS NULL AND host <> 'lost-host'`,
    );
    expect(beat!.executionProvider).toBe('cpu');
    const runningText = await running.textContent();
    expect(runningText).toContain(beat!.host);
    expect(runningText).toContain('cpu');
    const stuck = page.getByTestId('worker-stuck');
    expect(await stuck.textContent()).toContain(
      `Worker lost-host (pid 4711) stopped beating 5 min ago while holding a job: ${corruptJob.jobKey} (failed).`,
    );
    expect(await stuck.getByRole('link').getAttribute('href')).toBe(`/admin/jobs/${corruptJob.id}`);
    expect(
      await page.locator('[data-testid="worker-row"][data-status="silent"]').textContent(),
    ).toContain('lost-host');
    const states = await stack.query<{ state: string; n: number }>(
      `SELECT state::text AS state, count(*)::int AS n FROM "Job" GROUP BY state`,
    );
    const n = (s: string) => states.find((r) => r.state === s)?.n ?? 0;
    expect(n('completed')).toBe(1);
    expect(n('failed')).toBe(1);
    for (const s of ['queued', 'active', 'retrying', 'failed', 'completed']) {
      expect(await page.getByTestId(`count-${s}`).textContent(), s).toBe(String(n(s)));
    }
    const [day] = await stack.query<{ completed: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed,
              count(*) FILTER (WHERE state = 'failed')::int AS failed
         FROM "Job" WHERE "finishedAt" >= now() - interval '24 hours'`,
    );
    expect(await page.getByTestId('last-24h-completed').textContent()).toBe(String(day!.completed));
    expect(await page.getByTestId('last-24h-failed').textContent()).toBe(String(day!.failed));
    // The discovery paths keep recording decisions on the cine series (each path that sees it):
    // compare the page with the table as they stand together (the page refreshes every 5 s).
    const decisionsAgree = async () => {
      const [d] = await stack.query<{ selected: number; skipped: number }>(
        `SELECT count(*) FILTER (WHERE selected)::int AS selected,
                count(*) FILTER (WHERE NOT selected)::int AS skipped FROM "SelectionDecision"`,
      );
      const shown = [
        await page.getByTestId('count-selected').textContent(),
        await page.getByTestId('count-skipped').textContent(),
      ];
      return shown[0] === String(d!.selected) && shown[1] === String(d!.skipped)
        ? true
        : `page ${shown.join('/')}, table ${d!.selected}/${d!.skipped}`;
    };
    await expect.poll(decisionsAgree, { timeout: 30_000 }).toBe(true);
    expect(await page.getByTestId('latency-count').textContent()).toBe('1');
    expect(await page.getByTestId('database-status').textContent()).toMatch(/^Database: reachable/);
    await expectAccessible(page);
    await screenshots(page, 'admin-overview');
    await page.context().close();
  });

  it("lists the admins' actions in the audit log, filtered by user and action", async () => {
    const page = await stack.page(stack.accounts.admin);
    await page.goto(
      `/admin/audit?user=${encodeURIComponent(stack.accounts.admin.email)}&action=job.`,
    );
    const shown = await page
      .locator('[data-audit-row]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-audit-row')));
    const [expected] = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "AuditEvent" WHERE "userEmail" = $1 AND action LIKE 'job.%'`,
      [stack.accounts.admin.email],
    );
    expect(shown.length).toBe(expected!.n);
    expect(shown).toContain('job.retry');
    expect(shown).toContain('job.view');
    expect(shown.every((a) => a!.startsWith('job.'))).toBe(true);
    await expectAccessible(page);
    await screenshots(page, 'admin-audit');
    await page.context().close();
  });

  it('refuses a cardiologist every admin URL with 403', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    for (const url of [
      '/admin/overview',
      '/admin/jobs',
      '/admin/jobs?state=failed',
      `/admin/jobs/${corruptJobId}`,
      '/admin/series',
      '/admin/users',
      '/admin/audit',
      '/admin/audit?action=job.',
    ]) {
      const response = await page.goto(url);
      expect(response!.status(), url).toBe(403);
    }
    const nav = await page.getByRole('navigation', { name: 'Main' }).textContent();
    expect(nav).not.toMatch(/Jobs|Series|Overview|Audit/);
    await page.context().close();
  });
});
