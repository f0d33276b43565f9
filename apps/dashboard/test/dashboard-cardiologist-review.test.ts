// The cardiologists' review end to end, on real worker runs: phantom LGE studies of one patient
// over time are stored in Orthanc, the worker measures them, and the dashboard shows the patient
// list, the trend (its points equal the database rows), the study page (its numbers equal the
// worker's measurement, overlays at full resolution), sign-off (a VERIFIED SR in Orthanc,
// dciodvfy clean, and the audit row), clinical events, the cohort and the CSV export.
import { generatePhantom, phantomDicomDescription, writeMrSeries } from '@lascar/core';
import dcmjs from 'dcmjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy } from '../../../packages/core/test-data/dciodvfy.js';
import { expectAccessible } from './accessibility.js';
import { screenshots, startDashboardStack, type DashboardStack } from './dashboard-fixture.js';
import { waitFor } from '@lascar/testkit';

const PATIENT = {
  patientId: 'TREND-0001',
  patientName: 'TREND^PAT^E2E',
  patientBirthDate: '19600101',
};
const DATES = ['20240110', '20240720', '20250115'];

interface ResultRow {
  measurementRef: string;
  studyRef: string;
  studyInstanceUid: string;
  studyDate: string;
  scarBurdenPercent: number | null;
  laVolumeMl: number;
  scarVolumeMl: number;
}

let stack: DashboardStack;
let patientRef: string;
let results: ResultRow[];

function lgeStudy(seed: number, identity: Record<string, string>): Uint8Array[] {
  const phantom = generatePhantom(seed, { scale: 0.5 });
  const d = phantomDicomDescription(phantom.truth, `e2e-${seed}`);
  return writeMrSeries(phantom.image, { ...d.identity, ...identity }, d.acquisition);
}

function parse(bytes: Uint8Array): Record<string, unknown> {
  const copy = bytes.slice().buffer;
  const dict = dcmjs.data.DicomMessage.readFile(copy).dict;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, unknown>;
}

beforeAll(async () => {
  stack = await startDashboardStack({ withWorker: true });
  const instances = [
    ...DATES.flatMap((date, n) => lgeStudy(301 + n, { ...PATIENT, studyDate: date })),
    ...lgeStudy(399, {}),
  ];
  await stack.store(instances);
  await waitFor(
    'the worker to measure the four studies',
    async () => {
      const rows = await stack.query<{ state: string; error: string | null }>(
        `SELECT state::text AS state, error FROM "Job"`,
      );
      const failed = rows.find((r) => r.state === 'failed');
      if (failed) throw new Error(`a job failed: ${failed.error}`);
      return rows.length === 4 && rows.every((r) => r.state === 'completed') ? true : undefined;
    },
    900_000,
  );
  const [patient] = await stack.query<{ id: string }>(
    `SELECT id FROM "Patient" WHERE "patientId" = $1`,
    [PATIENT.patientId],
  );
  patientRef = patient!.id;
  results = await stack.query<ResultRow>(
    `SELECT m.id AS "measurementRef", st.id AS "studyRef", st."studyInstanceUid", st."studyDate",
            m."scarBurdenPercent", m."laVolumeMl", m."scarVolumeMl"
       FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef" JOIN "Series" s ON s.id = j."seriesRef"
       JOIN "Study" st ON st.id = s."studyRef" WHERE st."patientRef" = $1 ORDER BY st."studyDate"`,
    [patientRef],
  );
}, 1_000_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('a cardiologist reviewing scar burden', () => {
  it('finds the patient in the list with the latest burden, study count and review flag', async () => {
    expect(results.map((r) => r.studyDate)).toEqual(DATES);
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto('/patients?q=trend');
    const row = page.locator(`[data-patient-row="${patientRef}"]`);
    await row.waitFor();
    const latest = results.at(-1)!;
    const cells = await row.locator('td').allTextContents();
    expect(cells[2]).toContain(
      latest.scarBurdenPercent === null ? '–' : `${latest.scarBurdenPercent.toFixed(1)} %`,
    );
    expect(cells[4]).toBe('3');
    expect(cells[6]).toContain('3 to review');
    await page.goto('/patients');
    await expectAccessible(page);
    await screenshots(page, 'patients');
    await page.context().close();
  });

  it('draws the trend with one point per result, equal to the database rows', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto(`/patients/${patientRef}`);
    await page.getByTestId('trend-point').first().waitFor();
    const points = await page.getByTestId('trend-point').evaluateAll((els) =>
      els.map((e) => ({
        study: e.getAttribute('data-study'),
        burden: e.getAttribute('data-burden'),
      })),
    );
    const expected = results
      .filter((r) => r.scarBurdenPercent !== null)
      .map((r) => ({ study: r.studyRef, burden: r.scarBurdenPercent }));
    expect(points.map((p) => p.study).sort()).toEqual(expected.map((e) => e.study).sort());
    for (const e of expected) {
      const p = points.find((x) => x.study === e.study)!;
      expect(Number(p.burden)).toBeCloseTo(e.burden!, 6);
    }
    expect(await page.getByTestId('study-count').textContent()).toBe('3');
    // A clinical event on the timeline, added by the cardiologist.
    await page.getByLabel('Event').selectOption('ablation');
    await page.getByLabel('Date').fill('2024-05-02');
    await page.getByLabel('Note (optional)').fill('PVI, cryoballoon');
    await page.getByRole('button', { name: 'Add event' }).click();
    await expect
      .poll(() => page.getByTestId('event-list').textContent())
      .toContain('PVI, cryoballoon');
    const events = await stack.query<{ kind: string; date: Date }>(
      `SELECT kind, date FROM "ClinicalEvent" WHERE "patientRef" = $1`,
      [patientRef],
    );
    expect(events.map((e) => e.kind)).toEqual(['ablation']);
    await page.reload();
    await page.getByTestId('trend-point').first().waitFor();
    await expectAccessible(page);
    await screenshots(page, 'patient-trend');
    await page.context().close();
  });

  it("shows the study's numbers as the worker measured them, with its overlays", async () => {
    const latest = results.at(-1)!;
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto(`/studies/${latest.studyRef}`);
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('la-volume').textContent()).toBe(
      `${latest.laVolumeMl.toFixed(1)} mL`,
    );
    expect(await page.getByTestId('scar-volume').textContent()).toBe(
      `${latest.scarVolumeMl.toFixed(2)} mL`,
    );
    expect(await page.getByTestId('burden').textContent()).toBe(
      latest.scarBurdenPercent === null ? '–' : `${latest.scarBurdenPercent.toFixed(1)} %`,
    );
    await expect.poll(() => page.getByTestId('synthetic-banner').count()).toBe(1);
    const overlays = await stack.query<{ width: number; n: number }>(
      `SELECT max(width) AS width, count(*)::int AS n FROM "OverlayImage" WHERE "measurementRef" = $1`,
      [latest.measurementRef],
    );
    const images = page.locator('figure img');
    expect(await images.count()).toBe(overlays[0]!.n);
    await expect
      .poll(() =>
        images.first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth),
      )
      .toBe(overlays[0]!.width);
    const viewer = await page.getByRole('link', { name: /Open in viewer/ }).getAttribute('href');
    expect(viewer).toContain(latest.studyInstanceUid);
    await expectAccessible(page);
    await screenshots(page, 'study');
    await page.context().close();
  });

  it('signs a result off: a VERIFIED SR lands in Orthanc and the audit log has the row', async () => {
    const latest = results.at(-1)!;
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto(`/studies/${latest.studyRef}`);
    await page.getByRole('button', { name: 'Accept and sign' }).click();
    await expect
      .poll(() => page.getByTestId('signed-by').textContent(), { timeout: 30_000 })
      .toContain('Signed off by Carla Cardio');
    const [m] = await stack.query<{ reviewState: string; reviewedByName: string; sr: string }>(
      `SELECT "reviewState"::text AS "reviewState", "reviewedByName", "verifiedSrSopInstanceUid" AS sr
         FROM "Measurement" WHERE id = $1`,
      [latest.measurementRef],
    );
    expect(m).toMatchObject({ reviewState: 'accepted', reviewedByName: 'Carla Cardio' });
    const srSeries = await stack.pacs!.searchSeries({
      StudyInstanceUID: latest.studyInstanceUid,
      Modality: 'SR',
    });
    expect(srSeries).toHaveLength(2);
    const reports = (
      await Promise.all(
        srSeries.map((s) =>
          stack.pacs!.retrieveSeries({
            studyInstanceUid: latest.studyInstanceUid,
            seriesInstanceUid: s.seriesInstanceUid,
          }),
        ),
      )
    ).flat();
    const parsed = reports.map((r) => ({ bytes: r.bytes, ds: parse(r.bytes) }));
    const verified = parsed.filter((p) => p.ds.VerificationFlag === 'VERIFIED');
    expect(verified).toHaveLength(1);
    expect(verified[0]!.ds.SOPInstanceUID).toBe(m!.sr);
    const observer = verified[0]!.ds.VerifyingObserverSequence as
      Record<string, unknown>[] | Record<string, unknown>;
    const first = Array.isArray(observer) ? observer[0]! : observer;
    expect(JSON.stringify(first.VerifyingObserverName)).toContain('Cardio');
    const check = dciodvfy(verified[0]!.bytes);
    expect(check.errors, check.output).toEqual([]);
    const audit = await stack.query<{
      outcome: string;
      role: string;
      patientRef: string;
      studyRef: string;
    }>(
      `SELECT outcome, role, "patientRef", "studyRef" FROM "AuditEvent"
        WHERE action = 'result.accept' AND "userEmail" = $1`,
      [stack.accounts.cardiologist.email],
    );
    expect(audit).toEqual([
      { outcome: 'ok', role: 'cardiologist', patientRef, studyRef: latest.studyRef },
    ]);
    await page.context().close();
  });

  it('rejects a result with its reason; an admin sees no sign-off controls', async () => {
    const first = results[0]!;
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto(`/studies/${first.studyRef}`);
    await page.getByRole('button', { name: 'Reject…' }).click();
    await page.getByLabel('Reason for rejecting').fill('Motion artefact on the roof slices');
    await page.getByRole('button', { name: 'Reject result' }).click();
    await expect
      .poll(() => page.getByTestId('signed-by').textContent())
      .toContain('Rejected by Carla Cardio');
    const [m] = await stack.query<{ reviewState: string; reviewReason: string }>(
      `SELECT "reviewState"::text AS "reviewState", "reviewReason" FROM "Measurement" WHERE id = $1`,
      [first.measurementRef],
    );
    expect(m).toEqual({
      reviewState: 'rejected',
      reviewReason: 'Motion artefact on the roof slices',
    });
    const admin = await stack.page(stack.accounts.admin);
    await admin.goto(`/studies/${results[1]!.studyRef}`);
    await admin.getByTestId('result').waitFor();
    expect(await admin.getByRole('button', { name: 'Accept and sign' }).count()).toBe(0);
    await page.context().close();
    await admin.context().close();
  });

  it('shows a QC-flagged result as "needs review" with its reason in words, in the list and on the study', async () => {
    // The worker's quality control stores "<code>: <reason>"; flag the one result still pending.
    const pending = results[1]!;
    const reason = 'LA volume 12.0 mL is outside the plausible range 20-300 mL';
    await stack.query(`UPDATE "Measurement" SET "qcFlags" = $2 WHERE id = $1`, [
      pending.measurementRef,
      [`la-volume: ${reason}`],
    ]);
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto('/patients?q=trend');
    const row = page.locator(`[data-patient-row="${patientRef}"]`);
    await row.waitFor();
    expect(await row.getByTestId('qc-reasons').textContent()).toBe(`needs review: ${reason}`);
    await page.goto(`/studies/${pending.studyRef}`);
    const flags = page.getByTestId('qc-flags');
    await flags.waitFor();
    const text = (await flags.textContent()) ?? '';
    expect(text).toContain('Needs review');
    expect(text).toContain(reason);
    expect(text).not.toContain('la-volume');
    await expectAccessible(page);
    await page.context().close();
  });

  it('shows the cohort and exports the results as CSV, audited', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    await page.goto('/cohort');
    const counts = await stack.query<{ stage: string; n: number }>(
      `SELECT "decaafStage" AS stage, count(*)::int AS n FROM "Measurement" m
        WHERE "reviewState" <> 'rejected' AND "decaafStage" IS NOT NULL AND m."createdAt" = (
          SELECT max(m2."createdAt") FROM "Measurement" m2 JOIN "Job" j2 ON j2.id = m2."jobRef"
            JOIN "Series" s2 ON s2.id = j2."seriesRef" JOIN "Study" st2 ON st2.id = s2."studyRef"
           WHERE m2."reviewState" <> 'rejected' AND st2."patientRef" = (
             SELECT st."patientRef" FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef"
               JOIN "Study" st ON st.id = s."studyRef" WHERE j.id = m."jobRef"))
        GROUP BY 1`,
    );
    for (const c of counts) {
      expect(await page.getByTestId(`stage-count-DECAAF-${c.stage}`).textContent()).toBe(
        String(c.n),
      );
    }
    await expectAccessible(page);
    await screenshots(page, 'cohort');
    const response = await page.request.get('/api/export/results');
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toContain('text/csv');
    expect(response.headers()['cache-control']).toContain('no-store');
    const lines = (await response.text()).trim().split(/\r?\n/);
    const total = await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Measurement"`);
    expect(lines).toHaveLength(1 + total[0]!.n);
    expect(lines.filter((l) => l.includes(PATIENT.patientId))).toHaveLength(3);
    await expect
      .poll(
        async () =>
          (
            await stack.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM "AuditEvent" WHERE action = 'cohort.export' AND outcome = 'ok'`,
            )
          )[0]!.n,
      )
      .toBe(1);
    await page.context().close();
  });

  it('audited every view of this patient with who, role, patient, study and client', async () => {
    const rows = await stack.query<{ action: string; role: string }>(
      `SELECT DISTINCT action, role FROM "AuditEvent" WHERE "patientRef" = $1`,
      [patientRef],
    );
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        'patient.view',
        'study.view',
        'overlay.view',
        'event.add',
        'result.accept',
        'result.reject',
      ]),
    );
  });
});
