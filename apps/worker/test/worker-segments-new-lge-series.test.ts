// The main job end to end: an LGE study arrives in Orthanc, the Lua webhook tells the worker, the
// worker segments it and stores one DICOM SEG in the same study (found by QIDO Modality=SEG,
// referencing the source series, dciodvfy clean) and one result row; a non-LGE series in the same
// study is skipped with its reason; a corrupt series fails with a clear error, not retried, and
// the worker keeps working. The result is checked against the phantom's truth; a series in which
// no LA is found completes with a "needs review" flag and stores nothing in the PACS.
import { readDicomSeries } from '@lascar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy } from '../../../packages/core/test-data/dciodvfy.js';
import type { RunningWorker } from '../src/worker.js';
import { phantomSeries, type PhantomSeries } from '@lascar/testkit';
import {
  apiFetch,
  expectOneSegAndOneResult,
  expectResultLikeTruth,
  jobOf,
  type Stack,
  startStack,
  waitFor,
} from './worker-fixture.js';

let stack: Stack;
let worker: RunningWorker;
let lge: PhantomSeries;
let cine: PhantomSeries;
let corrupt: PhantomSeries;
let blank: PhantomSeries;

beforeAll(async () => {
  stack = await startStack({ webhook: 'live' });
  worker = await stack.startWorker({ LASCAR_CHANGES_POLL_SECONDS: '0' });
  // Scale 0.5 (1.38 mm pixels): the shipped networks find the LA (76 mL vs 89 mL truth); on
  // coarser phantoms (0.25: 2 mm pixels) they find a speck or nothing.
  lge = phantomSeries(101, { scale: 0.5 });
  // Same study, a cine series: not LGE by its description.
  cine = phantomSeries(101, {
    scale: 0.5,
    acquisition: {
      seriesInstanceUid: '2.25.1010101010101010101',
      seriesNumber: 3,
      seriesDescription: 'CINE SAX retro',
      protocolName: 'cine_sax',
      sequenceName: 'tfi2d1_12',
    },
  });
  // Another LGE study with a slice missing in the middle: the volume cannot be built.
  const whole = phantomSeries(202, { scale: 0.25 });
  const middle = Math.floor(whole.instances.length / 2);
  corrupt = { ...whole, instances: whole.instances.filter((_, n) => n !== middle) };
  // A third study: an LGE series with nothing in it, so no LA to find.
  blank = phantomSeries(111, { scale: 0.25, blank: true });
  await stack.store([
    ...corrupt.instances,
    ...cine.instances,
    ...lge.instances,
    ...blank.instances,
  ]);
});

afterAll(async () => {
  await stack?.dispose();
});

describe('the worker, told by the Orthanc webhook about new series', () => {
  it('segments the LGE series and stores exactly one SEG in the same study', async () => {
    const job = await waitFor(
      'the LGE job to complete',
      async () => {
        const j = await jobOf(stack, lge.seriesInstanceUid);
        if (j?.state === 'failed') throw new Error(`LGE job failed: ${j.error}`);
        return j?.state === 'completed' ? j : undefined;
      },
      120_000,
    );
    expect(job.attempts).toBe(1);
    const segs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
    expect(segs[0]!.seriesInstanceUid).toBe(job.segSeriesInstanceUid);
    const [seg] = await stack.pacs.retrieveSeries({
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: segs[0]!.seriesInstanceUid,
    });
    expect(seg).toBeDefined();
    const bytes = seg!.bytes;
    // The SEG names the source series it was computed on.
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).toContain(lge.seriesInstanceUid);
    const validation = dciodvfy(bytes);
    expect(validation.errors, validation.output).toEqual([]);
    // Beside it, one UNVERIFIED measurement report (DICOM SR) with the same numbers, dciodvfy clean.
    const srs = await stack.pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SR',
    });
    expect(srs).toHaveLength(1);
    expect(srs[0]!.seriesInstanceUid).toBe(job.srSeriesInstanceUid);
    const [sr] = await stack.pacs.retrieveSeries({
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: srs[0]!.seriesInstanceUid,
    });
    const srCheck = dciodvfy(sr!.bytes);
    expect(srCheck.errors, srCheck.output).toEqual([]);
    const srText = Buffer.from(sr!.bytes).toString('latin1');
    expect(srText).toContain('UNVERIFIED');
    expect(srText).toContain(job.segSeriesInstanceUid!);
    // And the source series itself is untouched.
    const source = readDicomSeries(await stack.pacs.retrieveSeries(lge));
    expect(source.source.seriesInstanceUid).toBe(lge.seriesInstanceUid);
  });

  it('records one result row with volumes, burden, stages, provenance and key-slice pictures', async () => {
    const rows = await stack.query<{
      laVolumeMl: number;
      scarBurdenPercent: number | null;
      burdenMethod: string;
      utahStage: string | null;
      syntheticTraining: boolean;
      modelVersion: string;
      overlays: number;
    }>(
      `SELECT m."laVolumeMl", m."scarBurdenPercent", m."burdenMethod", m."utahStage", m."syntheticTraining",
              m."modelVersion", (SELECT count(*)::int FROM "OverlayImage" o WHERE o."measurementRef" = m.id) AS overlays
         FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef" JOIN "Series" s ON s.id = j."seriesRef"
        WHERE s."seriesInstanceUid" = $1`,
      [lge.seriesInstanceUid],
    );
    expect(rows).toHaveLength(1);
    const m = rows[0]!;
    // The LA volume within 25 % of the phantom's, and no QC flag.
    await expectResultLikeTruth(stack, lge);
    expect(m.burdenMethod).toMatch(/wall/i);
    expect(m.syntheticTraining).toBe(true);
    expect(m.modelVersion).toBe(worker.modelVersion);
    expect(m.overlays).toBeGreaterThanOrEqual(1);
    const stages = await stack.query<{ stage: string; durationMs: number; error: string | null }>(
      `SELECT st.stage::text AS stage, st."durationMs", st.error FROM "JobStage" st
         JOIN "Job" j ON j.id = st."jobRef" JOIN "Series" s ON s.id = j."seriesRef"
        WHERE s."seriesInstanceUid" = $1 ORDER BY st."startedAt"`,
      [lge.seriesInstanceUid],
    );
    expect(stages.map((s) => s.stage).sort()).toEqual(
      ['la_model', 'load', 'retrieve', 'scar_model', 'store', 'write'].sort(),
    );
    for (const s of stages) {
      expect(s.error).toBeNull();
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('serves the job on GET /jobs without patient names, and a key-slice PNG', async () => {
    // The job list and the images are patient data: the worker's API token guards them.
    expect((await fetch(`${worker.url}/jobs?series=${lge.seriesInstanceUid}`)).status).toBe(401);
    const res = await apiFetch(`${worker.url}/jobs?series=${lge.seriesInstanceUid}`);
    expect(res.status).toBe(200);
    const body = await res.text();
    const jobs = JSON.parse(body) as {
      state: string;
      measurement: { qcFlags: string[]; overlays: { href: string }[] };
    }[];
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.state).toBe('completed');
    expect(jobs[0]!.measurement.qcFlags).toEqual([]);
    const patientName = readDicomSeries(lge.instances).source.identity.patientName;
    expect(patientName).toBeTruthy();
    expect(body).not.toContain(String(patientName).split('^')[0]);
    const href = `${worker.url}${jobs[0]!.measurement.overlays[0]!.href}`;
    expect((await fetch(href)).status).toBe(401);
    const png = await apiFetch(href);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await png.arrayBuffer());
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
  });

  it('completes a series with no LA as "needs review", stores no SEG or SR, and says so on the job', async () => {
    const job = await waitFor(
      'the blank job to complete',
      async () => {
        const j = await jobOf(stack, blank.seriesInstanceUid);
        if (j?.state === 'failed') throw new Error(`blank job failed: ${j.error}`);
        return j?.state === 'completed' ? j : undefined;
      },
      120_000,
    );
    expect(job.attempts).toBe(1);
    expect(job.error).toBe(
      'completed without a result: no LA cavity found in this series, so no SEG or SR was stored (flagged for review)',
    );
    expect(job.segSeriesInstanceUid).toBeNull();
    expect(job.srSeriesInstanceUid).toBeNull();
    const derived = await stack.pacs.searchSeries({ StudyInstanceUID: blank.studyInstanceUid });
    expect(derived.map((d) => d.seriesInstanceUid)).toEqual([blank.seriesInstanceUid]);
    const rows = await stack.query<{ laVolumeMl: number; qcFlags: string[]; overlays: number }>(
      `SELECT m."laVolumeMl", m."qcFlags",
              (SELECT count(*)::int FROM "OverlayImage" o WHERE o."measurementRef" = m.id) AS overlays
         FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef" WHERE j.id = $1`,
      [job.id],
    );
    expect(rows).toEqual([
      {
        laVolumeMl: 0,
        qcFlags: ['no-la: no LA cavity found: nothing to measure (no SEG or SR is stored)'],
        overlays: 0,
      },
    ]);
  });

  it('skips the non-LGE series with its reason and makes no job for it', async () => {
    const decision = await waitFor('a decision on the cine series', async () => {
      const rows = await stack.query<{ selected: boolean; reason: string; source: string }>(
        `SELECT d.selected, d.reason, d.source FROM "SelectionDecision" d JOIN "Series" s ON s.id = d."seriesRef"
          WHERE s."seriesInstanceUid" = $1`,
        [cine.seriesInstanceUid],
      );
      return rows[0];
    });
    expect(decision.selected).toBe(false);
    expect(decision.reason).toMatch(/CINE|cine/);
    expect(decision.source).toBe('webhook');
    expect(await jobOf(stack, cine.seriesInstanceUid)).toBeUndefined();
  });

  it('fails the corrupt series once with a clear error, and the worker keeps working', async () => {
    const job = await waitFor(
      'the corrupt job to fail',
      async () => {
        const j = await jobOf(stack, corrupt.seriesInstanceUid);
        return j?.state === 'failed' ? j : undefined;
      },
      120_000,
    );
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(/^load: unusable DICOM series \(IRREGULAR_SPACING\)/);
    const ready = await fetch(`${worker.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await apiFetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/lascar_jobs\{state="completed"\} 2/);
    expect(metrics).toMatch(/lascar_jobs\{state="failed"\} 1/);
    expect(metrics).toMatch(
      /lascar_job_stage_duration_seconds_count\{stage="la_model",outcome="ok"\} 2/,
    );
  });

  it('puts a failed job back in the queue on POST /jobs/:id/retry', async () => {
    const failed = (await jobOf(stack, corrupt.seriesInstanceUid))!;
    expect(
      (
        await apiFetch(`${worker.url}/jobs/00000000-0000-4000-8000-000000000000/retry`, {
          method: 'POST',
        })
      ).status,
    ).toBe(404);
    expect((await fetch(`${worker.url}/jobs/${failed.id}/retry`, { method: 'POST' })).status).toBe(
      401,
    );
    const res = await apiFetch(`${worker.url}/jobs/${failed.id}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    // The series is still corrupt: it runs once more and fails with the same error.
    const stages = await waitFor('the second run to fail', async () => {
      const rows = await stack.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "JobStage" WHERE "jobRef" = $1 AND stage = 'load' AND error IS NOT NULL`,
        [failed.id],
      );
      const j = await jobOf(stack, corrupt.seriesInstanceUid);
      return j?.state === 'failed' && rows[0]!.n >= 1 && j.error === failed.error ? j : undefined;
    });
    expect(stages.error).toBe(failed.error);
    const lgeJob = (await jobOf(stack, lge.seriesInstanceUid))!;
    expect(
      (await apiFetch(`${worker.url}/jobs/${lgeJob.id}/retry`, { method: 'POST' })).status,
    ).toBe(202);
    const again = await waitFor(
      'the LGE job to complete again',
      async () => {
        const j = await jobOf(stack, lge.seriesInstanceUid);
        return j?.state === 'completed' ? j : undefined;
      },
      120_000,
    );
    expect(again.id).toBe(lgeJob.id);
    // Re-running keeps one SEG and one result row.
    await expectOneSegAndOneResult(stack, lge.studyInstanceUid, lgeJob.id);
  });
});
