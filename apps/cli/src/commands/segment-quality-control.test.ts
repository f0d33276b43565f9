// `lascar segment` as a user runs it (the built command, the shipped models on the CPU): a study
// in which no LA is found writes no SEG and no SR and exits 3 with a plain message; a flagged
// result says "needs review" with its reason on the terminal, in report.json and in the SR.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatePhantom, makeVolume, phantomDicomDescription, writeMrSeries } from '@lascar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy } from '../../../../packages/core/test-data/dciodvfy.js';
import { dsrdump } from '../../../../packages/core/test-data/dsrdump.js';
import type { StudyReport } from './segment.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'apps/cli/dist/bin.js');
let work: string;
let study: string;
let blank: string;
let seriesUid: string;

function lascar(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args, '--ep', 'cpu'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function writeSeries(dir: string, instances: readonly Uint8Array[]): void {
  mkdirSync(dir, { recursive: true });
  instances.forEach((bytes, n) => writeFileSync(path.join(dir, `${n}.dcm`), bytes));
}

const readReport = (out: string): StudyReport =>
  JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReport;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'lascar-segment-qc-'));
  // A small phantom (the shipped networks find a small LA on it) and the same series blanked
  // (all zero: no LA to find).
  const phantom = generatePhantom(70021, { scale: 0.15 });
  const described = phantomDicomDescription(phantom.truth, 'qc');
  study = path.join(work, 'study');
  writeSeries(study, writeMrSeries(phantom.image, described.identity, described.acquisition));
  const zeros = makeVolume(phantom.image.geometry, new Int16Array(phantom.image.data.length));
  seriesUid = '2.25.31415926535897932384626433832795';
  blank = path.join(work, 'blank');
  writeSeries(
    blank,
    writeMrSeries(zeros, described.identity, {
      ...described.acquisition,
      seriesInstanceUid: seriesUid,
    }),
  );
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('lascar segment quality control', () => {
  it('writes no SEG and no SR when no LA is found, says so, and exits 3', () => {
    const out = path.join(work, 'blank-out');
    const run = lascar('segment', blank, '--out', out);
    expect(run.status, run.stderr).toBe(3);
    expect(run.stderr).toContain(
      `lascar: ${seriesUid}: no LA cavity found; no SEG or SR written (report.json has the QC flags)\n`,
    );
    expect(run.stdout).toContain(
      'needs review: no LA cavity found: nothing to measure (no SEG or SR is stored)',
    );
    expect(existsSync(path.join(out, 'seg.dcm'))).toBe(false);
    expect(existsSync(path.join(out, 'sr.dcm'))).toBe(false);
    const report = readReport(out);
    expect(report.segmented).toBe(false);
    expect(report.needsReview).toBe(true);
    expect(report.laVolumeMl).toBe(0);
    expect(report.qc.flags.map((f) => f.code)).toEqual(['no-la']);
  });

  it('flags a result outside the configured limits with its reason: terminal, report.json, SR', () => {
    const out = path.join(work, 'study-out');
    const run = lascar(
      'segment',
      study,
      '--out',
      out,
      '--qc-la-min-volume-ml',
      '1000',
      '--qc-la-max-volume-ml',
      '2000',
      '--qc-la-min-extent-mm',
      '0',
      '--qc-scar-wall-distance-mm',
      '50',
      '--qc-scar-far-max-percent',
      '0',
    );
    expect(run.status, run.stderr).toBe(0);
    const report = readReport(out);
    expect(report.segmented).toBe(true);
    expect(report.laVolumeMl).toBeGreaterThan(0);
    const reason = `LA volume ${report.laVolumeMl.toFixed(1)} mL is outside the plausible range 1000-2000 mL`;
    // The phantom's 2 mm pixels also leave the 3 mm wall shell without a voxel: no burden.
    expect(report.qc.flags).toEqual([
      { code: 'la-volume', reason },
      {
        code: 'no-wall',
        reason:
          'the 3 mm LA wall shell holds no voxel at this spacing (2.00 x 2.00 x 3.00 mm): no scar burden',
      },
    ]);
    expect(report.scarBurdenPercent).toBeNull();
    expect(report.needsReview).toBe(true);
    expect(run.stdout).toContain(`needs review: ${reason}\n`);
    expect(run.stdout).toMatch(/\breview\n/); // the summary table's QC column
    // The limits are recorded with the result.
    const limits = {
      qcLaMinVolumeMl: 1000,
      qcLaMaxVolumeMl: 2000,
      qcLaMinExtentMm: 0,
      qcScarWallDistanceMm: 50,
      qcScarFarMaxPercent: 0,
    };
    expect(report.qc.limits).toEqual(limits);
    expect(report.method).toMatchObject(limits);
    // The SR carries "Needs review: Yes" with the reason, and stays valid.
    const sr = readFileSync(path.join(out, 'sr.dcm'));
    const check = dciodvfy(sr);
    expect(check.errors, check.output).toEqual([]);
    const dump = dsrdump(sr);
    expect(dump.problems).toEqual([]);
    expect(dump.text).toContain('(NEEDS-REVIEW,99LASCAR,"Needs review")=(373066001,SCT,"Yes")');
    expect(dump.text).toContain(`="${reason}"`);
    expect(existsSync(path.join(out, 'seg.dcm'))).toBe(true);
  });

  it('refuses a QC limit that makes no sense, naming the flag (exit 2)', () => {
    const run = lascar(
      'segment',
      study,
      '--out',
      path.join(work, 'bad'),
      '--qc-la-min-volume-ml',
      '300',
      '--qc-la-max-volume-ml',
      '20',
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'lascar: --qc-la-min-volume-ml=300 is above --qc-la-max-volume-ml=20\n',
    );
  });
});
