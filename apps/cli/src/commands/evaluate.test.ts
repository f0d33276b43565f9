import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeGeometry, writeNifti, type Geometry, type VoxelArray } from '@lascar/core';
import { builtLascar } from '@lascar/testkit/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { evaluateFiles, evaluationJson, evaluationTable } from './evaluate.js';

let BIN: string;

const grid = makeGeometry({
  dims: [12, 10, 8],
  spacing: [0.625, 0.625, 1.25],
  origin: [-10, 20, 5],
});

function volumeOf<T extends VoxelArray>(
  geometry: Geometry,
  data: T,
  value: (i: number, j: number, k: number) => number,
): { geometry: Geometry; data: T } {
  const [nx, ny, nz] = geometry.dims;
  for (let k = 0, v = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) data[v] = value(i, j, k);
  }
  return { geometry, data };
}

const inBox = (i: number, j: number, k: number, x0: number): boolean =>
  i >= x0 && i < x0 + 6 && j >= 2 && j < 8 && k >= 2 && k < 6;

describe('lascar evaluate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-evaluate-'));
  const file = (name: string): string => join(dir, name);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    // Two boxes 6 x 6 x 4 voxels, the prediction shifted by 2 columns (1.25 mm).
    const truth = volumeOf(grid, new Uint8Array(960), (i, j, k) => (inBox(i, j, k, 2) ? 1 : 0));
    const pred = volumeOf(grid, new Uint8Array(960), (i, j, k) => (inBox(i, j, k, 4) ? 1 : 0));
    writeFileSync(file('truth.nii.gz'), writeNifti(truth, { gzip: true }));
    writeFileSync(file('pred.nii'), writeNifti(pred, { gzip: false }));
    // A label map: the box is label 420 (LA blood pool), with a stray label-7 voxel.
    const labels = volumeOf(grid, new Int16Array(960), (i, j, k) =>
      inBox(i, j, k, 4) ? 420 : i === 0 && j === 0 && k === 0 ? 7 : 0,
    );
    // The truth as a label map too: its box is 420, with label 421 (scar) on one face.
    const truthLabels = volumeOf(grid, new Int16Array(960), (i, j, k) =>
      inBox(i, j, k, 2) ? (k === 5 ? 421 : 420) : 0,
    );
    writeFileSync(file('truth-labels.nii'), writeNifti(truthLabels, { gzip: false }));
    writeFileSync(file('labels.nii.gz'), writeNifti(labels, { gzip: true }));
    const coarser = makeGeometry({
      dims: [12, 10, 8],
      spacing: [0.625, 0.625, 2.5],
      origin: [-10, 20, 5],
    });
    writeFileSync(
      file('coarser.nii.gz'),
      writeNifti({ geometry: coarser, data: new Uint8Array(960) }, { gzip: true }),
    );
    writeFileSync(file('not-nifti.nii.gz'), 'this is a text file, not an image'.padEnd(500, '.'));
  });

  it('computes the metrics of two NIfTI masks', async () => {
    const report = await evaluateFiles({ pred: file('pred.nii'), truth: file('truth.nii.gz') });
    const m = report.metrics;
    // |P| = |T| = 144, |P ∩ T| = 4 * 6 * 4 = 96.
    expect([m.predVoxels, m.truthVoxels, m.intersectionVoxels]).toEqual([144, 144, 96]);
    expect(m.dice).toBeCloseTo(192 / 288, 12);
    expect(m.jaccard).toBeCloseTo(96 / 192, 12);
    expect(m.hausdorffMm).toBeCloseTo(1.25, 5);
    expect(report.predMl).toBeCloseTo((144 * 0.625 * 0.625 * 1.25) / 1000, 9);
    expect(report.dims).toEqual([12, 10, 8]);
  });

  it('with --label counts only that label, in both files', async () => {
    const any = await evaluateFiles({
      pred: file('labels.nii.gz'),
      truth: file('truth-labels.nii'),
    });
    expect([any.metrics.predVoxels, any.metrics.truthVoxels]).toEqual([145, 144]);
    const la = await evaluateFiles({
      pred: file('labels.nii.gz'),
      truth: file('truth-labels.nii'),
      label: 420,
    });
    // Truth label 420 is the box without its top slice (k = 5): 6 x 6 x 3 = 108 voxels.
    expect([la.metrics.predVoxels, la.metrics.truthVoxels, la.metrics.intersectionVoxels]).toEqual([
      144, 108, 72,
    ]);
    expect(la.metrics.dice).toBeCloseTo(144 / 252, 12);
    expect(la.label).toBe(420);
  });

  it('prints a table and JSON with every metric', async () => {
    const report = await evaluateFiles({ pred: file('pred.nii'), truth: file('truth.nii.gz') });
    const table = evaluationTable(report);
    for (const row of [
      'Dice',
      'Jaccard',
      'HD (mm)',
      'HD95 (mm)',
      'ASSD (mm)',
      'sensitivity',
      'specificity',
      'pred voxels',
      'truth voxels',
      'intersection',
    ]) {
      expect(table).toMatch(new RegExp(`^${row.replace(/[()]/g, '\\$&')} +\\S`, 'm'));
    }
    expect(table).toMatch(/^Dice +0\.6667$/m);
    expect(table).toMatch(/^HD \(mm\) +1\.25$/m);
    const json = JSON.parse(evaluationJson(report)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(
      expect.arrayContaining([
        'dice',
        'jaccard',
        'hd_mm',
        'hd95_mm',
        'assd_mm',
        'sensitivity',
        'specificity',
        'pred_voxels',
        'truth_voxels',
        'intersection_voxels',
      ]),
    );
    expect(json.intersection_voxels).toBe(96);
    expect(json.hd_mm).toBeCloseTo(1.25, 5);
  });

  it('says n/a and null for distances when a mask is empty', async () => {
    writeFileSync(
      file('empty.nii'),
      writeNifti({ geometry: grid, data: new Uint8Array(960) }, { gzip: false }),
    );
    const report = await evaluateFiles({ pred: file('empty.nii'), truth: file('truth.nii.gz') });
    expect(evaluationTable(report)).toMatch(/^HD \(mm\) +n\/a \(a mask is empty\)$/m);
    expect(JSON.parse(evaluationJson(report))).toMatchObject({
      dice: 0,
      hd_mm: null,
      hd95_mm: null,
      assd_mm: null,
    });
  });

  it('names the file that is missing or not NIfTI, and the grid difference', async () => {
    await expect(
      evaluateFiles({ pred: file('nope.nii.gz'), truth: file('truth.nii.gz') }),
    ).rejects.toThrow(new UsageError(`cannot read --pred ${file('nope.nii.gz')}: no such file`));
    await expect(
      evaluateFiles({ pred: file('pred.nii'), truth: file('not-nifti.nii.gz') }),
    ).rejects.toThrow(
      /^--truth .*not-nifti\.nii\.gz is not a usable NIfTI-1 image: not a NIfTI-1 file/,
    );
    const mismatch = evaluateFiles({ pred: file('pred.nii'), truth: file('coarser.nii.gz') });
    await expect(mismatch).rejects.toBeInstanceOf(UsageError);
    await expect(mismatch).rejects.toThrow(
      /voxel spacings differ: 0\.625, 0\.625, 1\.25 mm vs 0\.625, 0\.625, 2\.5 mm/,
    );
  });

  describe('the built command', () => {
    beforeAll(() => {
      BIN = builtLascar();
    });

    it('exits 2 with a plain message on mismatched grids', () => {
      const run = spawnSync(
        'node',
        [BIN, 'evaluate', '--pred', file('pred.nii'), '--truth', file('coarser.nii.gz')],
        {
          encoding: 'utf8',
        },
      );
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(
        /^lascar: --pred .*pred\.nii and --truth .*coarser\.nii\.gz are not on the same voxel grid \(voxel spacings differ/,
      );
      expect(run.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    });

    it('prints JSON with --json and exits 0', () => {
      const run = spawnSync(
        'node',
        [BIN, 'evaluate', '--pred', file('pred.nii'), '--truth', file('truth.nii.gz'), '--json'],
        {
          encoding: 'utf8',
        },
      );
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        pred_voxels: 144,
        truth_voxels: 144,
        intersection_voxels: 96,
      });
    });
  });
});
