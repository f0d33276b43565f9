// The whole networks path on tiny data: phantoms -> `lascar dataset` shards -> PyTorch trains a
// width-4 model for a few steps -> ONNX export -> onnxruntime-node must reproduce PyTorch's output
// -> `lascar segment` on a LAScarQS folder (and on DICOM series, with the shipped models). Real
// PyTorch (Debian python3-torch), real onnxruntime-node, real dciodvfy; nothing faked.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  formatDs,
  generatePhantom,
  readNifti,
  writeMrSeries,
  type SegmentationMetrics,
} from '@lascar/core';
import dcmjs from 'dcmjs';
import { openOnnxModel } from '@lascar/core/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy } from '../../../../packages/core/test-data/dciodvfy.js';
import { dsrdump } from '../../../../packages/core/test-data/dsrdump.js';
import { UsageError } from '../errors.js';
import { buildDataset } from './dataset.js';
import { writePhantoms } from './phantom.js';
import { runSegment, summaryTable, type StudyReport } from './segment.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PYTHON = '/usr/bin/python3';
// The width-4 models trained for a few steps find no LA on a DICOM study (not even at p > 0.001),
// and a study with no LA writes no SEG and no SR (segment-quality-control.test.ts): the DICOM
// outputs are checked with the shipped models, on phantoms where they find the LA.
const SHIPPED_MODELS = path.join(REPO, 'models');
let work: string;

function python(...args: string[]): string {
  const run = spawnSync(PYTHON, ['-m', 'training', ...args], { cwd: REPO, encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`python3 -m training ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

function readF32(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'lascar-segment-'));
  await writePhantoms({
    out: path.join(work, 'phantoms'),
    cases: 3,
    seed: 11,
    format: 'both',
    generator: { scale: 0.15 },
  });
  const summary = await buildDataset(path.join(work, 'phantoms'), {
    out: path.join(work, 'shards'),
  });
  expect(summary.synthetic).toBe(true);
  for (const kind of ['la', 'scar']) {
    python(
      'train',
      '--kind',
      kind,
      '--shards',
      path.join(work, 'shards'),
      '--out',
      path.join(work, `run-${kind}`),
      '--width',
      '4',
      '--batch',
      '4',
      '--max-steps',
      '2',
      '--device',
      'cpu',
    );
    python(
      'export',
      '--kind',
      kind,
      '--checkpoint',
      path.join(work, `run-${kind}`, `${kind}-best.pt`),
      '--out',
      path.join(work, 'models'),
    );
    python(
      'reference-output',
      '--checkpoint',
      path.join(work, `run-${kind}`, `${kind}-best.pt`),
      '--seed',
      '3',
      '--batch',
      '2',
      '--out',
      path.join(work, 'ref'),
    );
  }
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('trained networks in the product', () => {
  it.each(['la', 'scar'])(
    'onnxruntime-node reproduces PyTorch on the exported %s model (max |diff| < 1e-4)',
    async (kind) => {
      const ref = JSON.parse(readFileSync(path.join(work, 'ref', `${kind}-ref.json`), 'utf8')) as {
        inputs: { name: string; shape: number[]; file: string }[];
        output: { file: string };
      };
      const model = await openOnnxModel(path.join(work, 'models', `${kind}.onnx`), {
        executionProvider: 'cpu',
      });
      const feeds = Object.fromEntries(
        ref.inputs.map((i) => [
          i.name,
          { data: readF32(path.join(work, 'ref', i.file)), dims: i.shape },
        ]),
      );
      const ours = await model.run(feeds);
      const theirs = readF32(path.join(work, 'ref', ref.output.file));
      expect(ours.length).toBe(theirs.length);
      let worst = 0;
      for (let n = 0; n < ours.length; n++)
        worst = Math.max(worst, Math.abs(ours[n]! - theirs[n]!));
      expect(worst).toBeLessThan(1e-4);
      await model.release();
    },
  );

  it('segments a DICOM series: masks, report, a valid DICOM SEG on the source grid and an UNVERIFIED SR referencing it', async () => {
    const out = path.join(work, 'out-dicom');
    // Seed 5: a phantom on which the shipped networks find the LA (case_000 above gives none).
    const [phantom] = await writePhantoms({
      out: path.join(work, 'phantom-5'),
      cases: 1,
      seed: 5,
      format: 'dicom',
      generator: { scale: 0.15 },
    });
    const [study] = await runSegment(path.join(phantom!.dir, 'dicom'), {
      out,
      models: SHIPPED_MODELS,
      ep: 'cpu',
    });
    for (const f of ['la.nii.gz', 'scar.nii.gz', 'report.json', 'seg.dcm', 'sr.dcm'])
      expect(existsSync(path.join(out, f))).toBe(true);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReport;
    expect(report.seriesInstanceUid).toBe(study!.id);
    expect(report.syntheticTrainingOnly).toBe(true);
    expect(report.notice).toMatch(/SYNTHETIC/);
    expect(report.executionProvider).toBe('cpu');
    expect(report.burdenMethod).toMatch(/volume-based/);
    expect(report.timingsMs.total).toBeGreaterThan(0);
    expect(report.models.la.architecture).toBe('MSWS-Net');
    const validation = dciodvfy(readFileSync(path.join(out, 'seg.dcm')));
    expect(validation.errors).toEqual([]);

    const srBytes = readFileSync(path.join(out, 'sr.dcm'));
    const srValidation = dciodvfy(srBytes);
    expect(srValidation.errors, srValidation.output).toEqual([]);
    expect(dsrdump(srBytes).problems).toEqual([]);
    const natural = (bytes: Uint8Array): Record<string, unknown> =>
      dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict,
      );
    const seg = natural(readFileSync(path.join(out, 'seg.dcm')));
    const sr = natural(srBytes);
    expect(sr.Modality).toBe('SR');
    expect(sr.VerificationFlag).toBe('UNVERIFIED');
    expect(sr.StudyInstanceUID).toBe(report.studyInstanceUid);
    // The SR's evidence names the SEG written beside it.
    const evidence = (
      sr.CurrentRequestedProcedureEvidenceSequence as Record<string, unknown>[]
    )[0]!;
    const series = evidence.ReferencedSeriesSequence as Record<string, unknown>[];
    const segSeries = series.find((s) => s.SeriesInstanceUID === seg.SeriesInstanceUID)!;
    expect(segSeries.ReferencedSOPSequence).toMatchObject([
      { ReferencedSOPInstanceUID: seg.SOPInstanceUID },
    ]);
    // dsrdump's rendering carries the numbers of report.json and the synthetic-models reason.
    const dump = dsrdump(srBytes).text;
    expect(dump).toContain(`="${formatDs(report.laVolumeMl)}" (ml,UCUM,"milliliter")`);
    expect(dump).toContain('="models trained on synthetic phantoms only"');
    expect(dump).toContain('(NEEDS-REVIEW,99LASCAR,"Needs review")=(373066001,SCT,"Yes")');
  });

  it('segments a LAScarQS folder and scores every case against its ground truth', async () => {
    const cases = await runSegment(path.join(work, 'phantoms'), {
      out: path.join(work, 'out-lascarqs'),
      models: path.join(work, 'models'),
      ep: 'cpu',
    });
    expect(cases.map((c) => c.id)).toEqual(['case_000', 'case_001', 'case_002']);
    for (const c of cases) {
      expect(c.report.evaluation?.la?.truthVoxels).toBeGreaterThan(0);
      expect(c.report.evaluation?.scar).toBeDefined();
    }
    expect(summaryTable(cases)).toMatch(/mean \(3\)/);
  });

  it('refuses a non-LGE DICOM series with the selection rule that rejected it, unless forced', async () => {
    const cine = path.join(work, 'cine');
    mkdirSync(cine);
    const phantom = generatePhantom(5, { scale: 0.15 });
    writeMrSeries(
      phantom.image,
      { studyInstanceUid: '1.2.826.0.1.3680043.8.498.77', patientId: 'LQP-CINE' },
      {
        seriesDescription: 'CINE_SAX retro',
        protocolName: 'cine_sax',
        sequenceName: 'tfi2d1_12',
        manufacturer: 'SIEMENS',
      },
    ).forEach((bytes, n) => writeFileSync(path.join(cine, `${n}.dcm`), bytes));
    const models = path.join(work, 'models');
    await expect(
      runSegment(cine, { out: path.join(work, 'out-cine'), models, ep: 'cpu' }),
    ).rejects.toThrow(/does not look like an LGE series \(skipped: .*cine/i);
    const out = path.join(work, 'out-cine');
    const [forced] = await runSegment(cine, {
      out,
      models: SHIPPED_MODELS,
      ep: 'cpu',
      force: true,
    });
    // Forced, the whole method ran on that series: its outputs are written and agree.
    const report = forced!.report;
    expect(report.studyInstanceUid).toBe('1.2.826.0.1.3680043.8.498.77');
    for (const f of ['la.nii.gz', 'scar.nii.gz', 'report.json', 'seg.dcm', 'sr.dcm'])
      expect(existsSync(path.join(out, f)), f).toBe(true);
    const la = readNifti(readFileSync(path.join(out, 'la.nii.gz')));
    expect(la.geometry.dims).toEqual(report.grid.dims);
    const laVoxels = la.data.reduce((n: number, v: number) => n + (v ? 1 : 0), 0);
    const [sx, sy, sz] = report.grid.spacingMm as [number, number, number];
    expect(report.laVolumeMl).toBeCloseTo((laVoxels * sx * sy * sz) / 1000, 6);
  });

  it('refuses unusable input with a usage error that names it', async () => {
    const models = path.join(work, 'models');
    await expect(
      runSegment(path.join(work, 'nowhere'), { out: work, models, ep: 'cpu' }),
    ).rejects.toThrow(UsageError);
    await expect(
      runSegment(path.join(work, 'shards'), { out: work, models, ep: 'cpu' }),
    ).rejects.toThrow(/INPUT/);
    await expect(
      runSegment(path.join(work, 'phantoms', 'case_000', 'dicom'), {
        out: work,
        models: path.join(work, 'ref'),
        ep: 'cpu',
      }),
    ).rejects.toThrow(/model file .* is missing/);
    await expect(
      runSegment(path.join(work, 'phantoms', 'case_000', 'dicom'), {
        out: work,
        models,
        ep: 'cuda',
      }),
    ).rejects.toThrow(/'cuda' was requested/);
  });
});

describe('summaryTable', () => {
  const metrics = (dice: number, truthVoxels: number) =>
    ({
      dice,
      truthVoxels,
      sensitivity: truthVoxels ? 0.5 : null,
    }) as unknown as SegmentationMetrics;
  const study = (id: string, scarDice: number, scarTruthVoxels: number) => ({
    id,
    report: {
      laVolumeMl: 100,
      scarVolumeMl: 1,
      scarBurdenPercent: 5,
      stages: [],
      needsReview: false,
      evaluation: { la: metrics(0.9, 1000), scar: metrics(scarDice, scarTruthVoxels) },
    } as unknown as StudyReport,
  });

  it('leaves a study without true scar out of the scar Dice and its mean', () => {
    const table = summaryTable([
      study('with-scar-a', 0.8, 500),
      study('with-scar-b', 0.6, 300),
      study('no-scar', 0, 0),
    ]);
    const row = (id: string) =>
      table
        .split('\n')
        .find((l) => l.trim().startsWith(id))!
        .trim();
    const cells = (id: string) => row(id).split(/\s{2,}/);
    // columns: case, LA mL, scar mL, burden, Utah, LA Dice, HD95, ASSD, scar Dice, scar sens, QC
    expect(cells('no-scar')[8]).toBe('-');
    expect(cells('with-scar-a')[8]).toBe('0.800');
    // The mean row's empty cells merge into the gaps: case, LA Dice, HD95, ASSD, scar Dice, sens.
    expect(cells('mean (3)')).toEqual(['mean (3)', '0.900', '-', '-', '0.700', '0.500']);
  });
});
