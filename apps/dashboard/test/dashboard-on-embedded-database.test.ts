// The embedded database serves the worker and the dashboard AT THE SAME TIME (the quick start's
// set-up): the worker owns it and writes results while the dashboard, attached to the same data
// folder, serves pages the whole time; no request fails, and every result arrives whole.
import { generatePhantom, phantomDicomDescription, writeMrSeries } from '@lascar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardStack, type DashboardStack } from './dashboard-fixture.js';

let stack: DashboardStack;

beforeAll(async () => {
  stack = await startDashboardStack({ withWorker: true, embedded: true });
}, 600_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('the embedded database shared by the worker and the dashboard', () => {
  it('serves dashboard pages without an error while the worker writes results', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    // Seeds on which the shipped networks find the LA at scale 0.5 (502, with 1.9 mm pixels, gives
    // none: a flagged result with no pictures, not what this test is about).
    const seeds = [501, 808];
    const instances = seeds.flatMap((seed) => {
      const phantom = generatePhantom(seed, { scale: 0.5 });
      const d = phantomDicomDescription(phantom.truth, `embedded-${seed}`);
      return writeMrSeries(phantom.image, d.identity, d.acquisition);
    });
    await stack.store(instances);
    const statuses: number[] = [];
    let done = false;
    const deadline = Date.now() + 600_000;
    while (!done && Date.now() < deadline) {
      // The dashboard reads (list, then every patient page) while the worker writes.
      const res = await page.request.get('/patients');
      statuses.push(res.status());
      const patients = await stack.query<{ id: string }>(`SELECT id FROM "Patient"`);
      for (const p of patients)
        statuses.push((await page.request.get(`/patients/${p.id}`)).status());
      const jobs = await stack.query<{ state: string; error: string | null }>(
        `SELECT state::text AS state, error FROM "Job"`,
      );
      const failed = jobs.find((j) => j.state === 'failed');
      if (failed) throw new Error(`a job failed: ${failed.error}`);
      done = jobs.length === seeds.length && jobs.every((j) => j.state === 'completed');
    }
    expect(done).toBe(true);
    expect(statuses.length).toBeGreaterThan(4);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Every result is whole: one measurement with its overlays per job, shown on the list.
    const rows = await stack.query<{ n: number; overlays: number }>(
      `SELECT count(*)::int AS n, sum((SELECT count(*) FROM "OverlayImage" o WHERE o."measurementRef" = m.id))::int AS overlays
         FROM "Measurement" m`,
    );
    expect(rows[0]!.n).toBe(seeds.length);
    expect(rows[0]!.overlays).toBeGreaterThanOrEqual(seeds.length);
    const flagged = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "Measurement" WHERE cardinality("qcFlags") > 0`,
    );
    expect(flagged[0]!.n).toBe(0);
    await page.goto('/patients');
    expect(await page.locator('[data-patient-row]').count()).toBe(seeds.length);
    await page.context().close();
  }, 900_000);
});
