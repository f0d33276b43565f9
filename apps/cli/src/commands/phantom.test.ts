import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  caseSeed,
  generatePhantom,
  LASCARQS_FILES,
  readDicomSeries,
  readNifti,
} from '@lascar/core';
import { builtLascar } from '@lascar/testkit/cli';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { phantomCaseName, previewCaseToPng, writePhantoms } from './phantom.js';

const SMALL = { scale: 0.2 } as const;

/** Number of positions where two voxel arrays differ (length mismatch counts as all). */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let v = 0; v < a.length; v++) if (a[v] !== b[v]) n++;
  return n;
}

describe('lascar phantom', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-phantom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'batch');
  const caseDir = join(out, phantomCaseName(0));

  beforeAll(async () => {
    await writePhantoms({ out, cases: 2, seed: 42, format: 'both', generator: SMALL });
  }, 120_000);

  it('writes the LAScarQS files, the truth and a DICOM series per case', () => {
    for (const name of [phantomCaseName(0), phantomCaseName(1)]) {
      for (const f of [
        LASCARQS_FILES.image,
        LASCARQS_FILES.laCavity,
        LASCARQS_FILES.scar,
        LASCARQS_FILES.truth,
      ]) {
        expect(existsSync(join(out, name, f))).toBe(true);
      }
      const truth = JSON.parse(readFileSync(join(out, name, 'truth.json'), 'utf8'));
      expect(truth.case).toBe(name);
      expect(truth.seed).toBe(caseSeed(42, name === phantomCaseName(0) ? 0 : 1));
      expect(truth.quantities.wallDefinition).toMatch(/3 mm/);
      expect(readdirSync(join(out, name, 'dicom')).length).toBe(truth.geometry.dims[2]);
    }
  });

  it('NIfTI files hold exactly the generated volumes (case i = seed derived from S and i)', () => {
    const p = generatePhantom(caseSeed(42, 0), SMALL);
    const image = readNifti(readFileSync(join(caseDir, LASCARQS_FILES.image)));
    const la = readNifti(readFileSync(join(caseDir, LASCARQS_FILES.laCavity)));
    const scar = readNifti(readFileSync(join(caseDir, LASCARQS_FILES.scar)));
    expect(differences(image.data, p.image.data)).toBe(0);
    expect(differences(la.data, p.la.data)).toBe(0);
    expect(differences(scar.data, p.scar.data)).toBe(0);
    for (let a = 0; a < 3; a++)
      expect(image.geometry.origin[a]).toBeCloseTo(p.image.geometry.origin[a]!, 3);
  });

  it('round trip: phantom DICOM read back equals the NIfTI (voxels, geometry within 1e-4 mm)', () => {
    const dicomDir = join(caseDir, 'dicom');
    const files = readdirSync(dicomDir).map((f) => new Uint8Array(readFileSync(join(dicomDir, f))));
    const series = readDicomSeries(files);
    const nifti = readNifti(readFileSync(join(caseDir, LASCARQS_FILES.image)));
    expect(differences(series.volume.data, nifti.data)).toBe(0);
    const a = series.volume.geometry;
    const b = generatePhantom(caseSeed(42, 0), SMALL).image.geometry;
    expect(a.dims).toEqual(b.dims);
    for (let n = 0; n < 3; n++) {
      expect(Math.abs(a.spacing[n]! - b.spacing[n]!)).toBeLessThan(1e-4);
      expect(Math.abs(a.origin[n]! - b.origin[n]!)).toBeLessThan(1e-4);
      for (let m = 0; m < 3; m++)
        expect(Math.abs(a.direction[n]![m]! - b.direction[n]![m]!)).toBeLessThan(1e-4);
    }
  });

  it('DICOM instances identify an LGE acquisition with synthetic identity, and pass dciodvfy', () => {
    const first = join(caseDir, 'dicom', readdirSync(join(caseDir, 'dicom'))[0]!);
    const dump = spawnSync('dcmdump', [first], { encoding: 'utf8' });
    if (dump.status === 0) {
      expect(dump.stdout).toMatch(/\(0018,0082\) DS \[(2[6-9]\d|3[0-4]\d)\]/); // inversion time
      expect(dump.stdout).toMatch(/\(0010,0010\) PN \[PHANTOM\^/);
      expect(dump.stdout).toMatch(/\(0008,103e\) LO \[[^\]]+\]/);
    }
    const check = spawnSync('dciodvfy', [first], { encoding: 'utf8' });
    if (check.error) return; // dicom3tools not installed: the CI job that has it runs this
    expect(check.stderr + check.stdout).not.toMatch(/^Error/m);
  });

  it('is deterministic per seed: same seed, byte-identical files', async () => {
    const again = join(dir, 'again');
    await writePhantoms({ out: again, cases: 1, seed: 42, format: 'both', generator: SMALL });
    const dicom = readdirSync(join(caseDir, 'dicom')).map((f) => join('dicom', f));
    for (const f of [
      LASCARQS_FILES.image,
      LASCARQS_FILES.laCavity,
      LASCARQS_FILES.scar,
      ...dicom,
    ]) {
      const a = readFileSync(join(caseDir, f));
      const b = readFileSync(join(again, phantomCaseName(0), f));
      expect(b.equals(a)).toBe(true);
    }
    expect(readFileSync(join(again, phantomCaseName(0), 'truth.json'), 'utf8')).toBe(
      readFileSync(join(caseDir, 'truth.json'), 'utf8'),
    );
  });

  it('--preview renders a case folder to a PNG', async () => {
    const png = join(dir, 'preview.png');
    const size = await previewCaseToPng(caseDir, png);
    const decoded = PNG.sync.read(readFileSync(png));
    expect(decoded.width).toBe(size.width);
    expect(decoded.height).toBe(size.height);
    await expect(previewCaseToPng(out, png)).rejects.toThrow(UsageError);
  });

  it('the command line rejects a bad --format and a preview without --png (exit 2)', () => {
    const BIN = builtLascar();
    const bad = spawnSync(
      process.execPath,
      [BIN, 'phantom', '--out', join(dir, 'x'), '--format', 'png'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format must be lascarqs, dicom or both, got "png"/);
    const noPng = spawnSync(process.execPath, [BIN, 'phantom', '--preview', caseDir], {
      encoding: 'utf8',
    });
    expect(noPng.status).toBe(2);
    expect(noPng.stderr).toMatch(/--preview needs --png/);
    const badStyle = spawnSync(
      process.execPath,
      [BIN, 'phantom', '--out', join(dir, 'x'), '--style', 'blurry'],
      { encoding: 'utf8' },
    );
    expect(badStyle.status).toBe(2);
    expect(badStyle.stderr).toMatch(/--style must be classic, randomised, shift, got "blurry"/);
  });

  it('--style: classic by default (the API default too), randomised for training, shift on the grid of randomised with another image', () => {
    const BIN = builtLascar();
    const write = (style: string | undefined): string => {
      const to = join(dir, `style-${style ?? 'default'}`);
      const args = [BIN, 'phantom', '--out', to, '--seed', '42', '--scale', '0.2'];
      const run = spawnSync(process.execPath, style ? [...args, '--style', style] : args, {
        encoding: 'utf8',
      });
      expect(run.status).toBe(0);
      return join(to, phantomCaseName(0));
    };
    const truthOf = (d: string) => JSON.parse(readFileSync(join(d, 'truth.json'), 'utf8'));
    const image = (d: string): Buffer => readFileSync(join(d, LASCARQS_FILES.image));

    const byDefault = write(undefined);
    const api = truthOf(caseDir);
    expect(api.acquisition.style).toBe('classic');
    expect(truthOf(byDefault).acquisition.style).toBe('classic');
    expect(truthOf(byDefault).quantities).toEqual(api.quantities);
    expect(image(byDefault).equals(image(write('classic')))).toBe(true);

    const randomised = write('randomised');
    const shifted = write('shift');
    const r = truthOf(randomised);
    const truth = truthOf(shifted);
    expect(r.acquisition.style).toBe('randomised');
    expect(truth.acquisition.style).toBe('shift');
    expect(truth.acquisition.noiseModel).toBe('sum-of-squares');
    expect(truth.contrast.model).toBe('inversion-recovery');
    expect(truth.geometry).toEqual(r.geometry);
    expect(image(shifted).equals(image(randomised))).toBe(false);
    expect(image(randomised).equals(image(byDefault))).toBe(false);
  });
});
