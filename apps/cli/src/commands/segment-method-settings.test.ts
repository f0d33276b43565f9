// `lascar segment` as a user runs it (the built command, the shipped models on the CPU): the
// method settings given as flags reach the pipeline and are recorded in report.json, a bad value
// is a one-line usage error naming the flag, and a coronal LGE stack is refused with its angle.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generatePhantom,
  makeGeometry,
  makeVolume,
  voxelToPatient,
  writeMrSeries,
  writeNifti,
  type Vec3,
  type Volume,
} from '@lascar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyReport } from './segment.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'apps/cli/dist/bin.js');
let work: string;
let nifti: string;
let image: Volume<Int16Array>;

function lascar(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return lascarWithEnv({}, ...args);
}

function lascarWithEnv(
  env: Record<string, string>,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args, '--ep', 'cpu'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, LASCAR_LA_CROP: '', ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'lascar-segment-settings-'));
  // Six slices of a small phantom: these tests follow the settings, not the segmentation, and
  // each slice costs a 640 x 640 LA network pass on the CPU.
  const phantom = generatePhantom(70021, { scale: 0.15 });
  const g = phantom.image.geometry;
  const [nx, ny, nz] = g.dims;
  const first = Math.floor(nz / 2) - 3;
  image = makeVolume(
    makeGeometry({
      dims: [nx, ny, 6],
      spacing: g.spacing,
      origin: voxelToPatient(g, 0, 0, first),
      direction: g.direction,
    }),
    phantom.image.data.slice(first * nx * ny, (first + 6) * nx * ny),
  );
  nifti = path.join(work, 'study.nii.gz');
  writeFileSync(nifti, writeNifti(image, { gzip: true, description: 'phantom' }));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('lascar segment method settings', () => {
  it('records the paper defaults and the model manifests threshold when no flag is given', () => {
    const out = path.join(work, 'defaults');
    const run = lascar('segment', nifti, '--out', out);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReport;
    expect(report.method).toMatchObject({
      scarMinAreaMm2: 3.90625,
      scarMaxAreaMm2: 175.78125,
      laComponents: 26,
      boundaryBandMm: 5,
      wallThicknessMm: 3,
      laProbabilityThreshold: 0.5,
      scarProbabilityThreshold: 0.5,
      thresholdSource: 'model manifest',
      qcLaMinVolumeMl: 20,
      qcLaMaxVolumeMl: 300,
      qcLaMinExtentMm: 25,
      qcScarWallDistanceMm: 10,
      qcScarFarMaxPercent: 5,
      laCrop: true,
    });
    expect(report.laCrop.enabled).toBe(true);
    expect(report.orientation.reoriented).toBe(false);
  });

  it('passes every flag to the pipeline and records it', () => {
    const out = path.join(work, 'flags');
    const run = lascar(
      'segment',
      nifti,
      '--out',
      out,
      '--scar-min-area-mm2',
      '5',
      '--scar-max-area-mm2',
      '150',
      '--la-components',
      'all',
      '--boundary-band-mm',
      '4',
      '--wall-thickness-mm',
      '2.5',
      '--probability-threshold',
      '0.6',
      '--qc-la-min-volume-ml',
      '10',
      '--qc-la-max-volume-ml',
      '400',
      '--qc-la-min-extent-mm',
      '12',
      '--qc-scar-wall-distance-mm',
      '8',
      '--qc-scar-far-max-percent',
      '2.5',
      '--la-crop',
      'off',
    );
    // 3: no LA found (nothing to segment at this threshold); either way the settings are recorded.
    const report0 = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReport;
    expect(run.status).toBe(report0.segmented ? 0 : 3);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReport;
    const pixel = image.geometry.spacing[0] * image.geometry.spacing[1];
    expect(report.method).toEqual({
      scarMinAreaMm2: 5,
      scarMaxAreaMm2: 150,
      laComponents: 'all',
      boundaryBandMm: 4,
      wallThicknessMm: 2.5,
      laProbabilityThreshold: 0.6,
      scarProbabilityThreshold: 0.6,
      thresholdSource: 'setting',
      scarMinPixels: Math.ceil(5 / pixel - 1e-9),
      scarMaxPixels: Math.floor(150 / pixel + 1e-9),
      qcLaMinVolumeMl: 10,
      qcLaMaxVolumeMl: 400,
      qcLaMinExtentMm: 12,
      qcScarWallDistanceMm: 8,
      qcScarFarMaxPercent: 2.5,
      laCrop: false,
    });
    expect(report.qc.limits).toEqual({
      qcLaMinVolumeMl: 10,
      qcLaMaxVolumeMl: 400,
      qcLaMinExtentMm: 12,
      qcScarWallDistanceMm: 8,
      qcScarFarMaxPercent: 2.5,
    });
    expect(report.laCrop).toMatchObject({ enabled: false, cropped: false });
    expect(report.laCrop.reason).toMatch(/^off by the method setting/);
    expect(report.wallDefinition).toMatch(/^a 2.5 mm shell on both sides/);
  });

  it('names the flag of a bad value in a one-line usage error (exit 2)', () => {
    const run = lascar(
      'segment',
      nifti,
      '--out',
      path.join(work, 'bad'),
      '--wall-thickness-mm',
      '0',
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'lascar: --wall-thickness-mm=0 is outside 0 < value < 20 (a thickness in mm)\n',
    );
    const components = lascar('segment', nifti, '--out', work, '--la-components', 'biggest');
    expect(components.status).toBe(2);
    expect(components.stderr).toMatch(/^lascar: --la-components=biggest is not one of 6, 18, 26/);
    // --la-crop, or LASCAR_LA_CROP where the flag is not given: on or off.
    const crop = lascar('segment', nifti, '--out', work, '--la-crop', 'maybe');
    expect(crop.status).toBe(2);
    expect(crop.stderr).toBe('lascar: --la-crop=maybe is not on or off\n');
    const env = lascarWithEnv({ LASCAR_LA_CROP: 'yes' }, 'segment', nifti, '--out', work);
    expect(env.status).toBe(2);
    expect(env.stderr).toBe('lascar: --la-crop=yes is not on or off\n');
  });

  it('refuses a coronal LGE stack with its angle, even when forced (exit 2)', () => {
    // The phantom's voxels stored as a coronal stack: rows run feet-wards, slices posterior-wards.
    const g = image.geometry;
    const coronal = makeVolume(
      makeGeometry({
        dims: g.dims,
        spacing: g.spacing,
        origin: g.origin,
        direction: [
          [1, 0, 0],
          [0, 0, -1],
          [0, 1, 0],
        ] as [Vec3, Vec3, Vec3],
      }),
      image.data,
    );
    const dir = path.join(work, 'coronal');
    mkdirSync(dir);
    writeMrSeries(coronal, {
      studyInstanceUid: '1.2.826.0.1.3680043.8.498.70021',
      patientId: 'LQP-COR',
    }).forEach((bytes, n) => writeFileSync(path.join(dir, `${n}.dcm`), bytes));
    for (const extra of [[], ['--force']]) {
      const run = lascar('segment', dir, '--out', path.join(work, 'out-coronal'), ...extra);
      expect(run.status).toBe(2);
      // The last line (the first is the models' progress line).
      expect(run.stderr.split('\n').at(-2)).toBe(
        `lascar: INPUT ${dir}: slice normal 90\u00b0 from axial (coronal slices): only axial LGE stacks, tilted at most 45\u00b0, are supported`,
      );
    }
  });
});
