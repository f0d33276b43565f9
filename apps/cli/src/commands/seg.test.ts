import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeGeometry,
  niftiToFloat32,
  readDicomSeries,
  readNifti,
  writeMrSeries,
  writeNifti,
  type Geometry,
  type Mask,
} from '@lascar/core';
import dcmjs from 'dcmjs';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { writeSegFromFiles } from './seg.js';

const work = mkdtempSync(join(tmpdir(), 'lascar-seg-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const geometry: Geometry = makeGeometry({
  dims: [10, 8, 6],
  spacing: [1.25, 1.25, 2.5],
  origin: [-20.5, 31.25, -7],
  direction: [
    [0.866025403784, 0.5, 0],
    [0, 0, -1],
    [-0.5, 0.866025403784, 0],
  ],
});

function sourceDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const data = new Float32Array(480).map((_, n) => n);
  writeMrSeries(
    { geometry, data },
    { studyInstanceUid: '1.2.826.0.1.3680043.8.498.9', patientId: 'P9' },
  ).forEach((bytes, k) => writeFileSync(join(dir, `IM${String(k).padStart(4, '0')}.dcm`), bytes));
  return dir;
}

function maskFile(name: string, mask: Mask | { geometry: Geometry; data: Float32Array }): string {
  const file = join(work, name);
  writeFileSync(file, writeNifti(mask, { gzip: true }));
  return file;
}

/** Reads a SEG back with dcmjs into per-segment masks in source-slice order. */
function readSeg(file: string, dir: string): { la: number[]; scar: number[] } {
  const series = readDicomSeries(
    readdirSync(dir).map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) })),
  );
  const bytes = readFileSync(file);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    ).dict,
  );
  const per = 80;
  const pixels = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
  const out = { la: new Array<number>(480).fill(0), scar: new Array<number>(480).fill(0) };
  (ds.PerFrameFunctionalGroupsSequence as Record<string, unknown>[]).forEach((frame, f) => {
    const segment = (frame.SegmentIdentificationSequence as Record<string, unknown>[])[0]!
      .ReferencedSegmentNumber;
    const derivation = (frame.DerivationImageSequence as Record<string, unknown>[])[0]!;
    const sop = (derivation.SourceImageSequence as Record<string, unknown>[])[0]!
      .ReferencedSOPInstanceUID;
    const k = series.source.slices.findIndex((s) => s.sopInstanceUid === sop);
    for (let p = 0; p < per; p++) {
      const bit = f * per + p;
      (segment === 1 ? out.la : out.scar)[k * per + p] = (pixels[bit >> 3]! >> (bit & 7)) & 1;
    }
  });
  return out;
}

function dciodvfyErrors(file: string): string[] {
  const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  if (run.error) throw new Error(`dciodvfy missing (install dicom3tools): ${run.error.message}`);
  return `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

const la: Mask = { geometry, data: new Uint8Array(480).map((_, n) => (n % 5 < 2 ? 1 : 0)) };
const scar: Mask = { geometry, data: new Uint8Array(480).map((_, n) => (n % 11 === 0 ? 1 : 0)) };

describe('lascar seg', () => {
  it('turns NIfTI masks on the source grid into a valid SEG that reads back exactly', async () => {
    const dir = sourceDir('src');
    const out = join(work, 'seg.dcm');
    const result = await writeSegFromFiles({
      source: dir,
      la: maskFile('la.nii.gz', la),
      scar: maskFile('scar.nii.gz', scar),
      out,
    });
    expect(result.frames).toBe(12);
    expect(dciodvfyErrors(out)).toEqual([]);
    const back = readSeg(out, dir);
    expect(back.la).toEqual(Array.from(la.data));
    expect(back.scar).toEqual(Array.from(scar.data));
  });

  it('accepts masks stored with flipped rows and reversed slices (as dcm2niix writes them)', async () => {
    const dir = sourceDir('src-flip');
    const [nx, ny, nz] = geometry.dims;
    const flipped = new Uint8Array(480);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          flipped[i + nx * (ny - 1 - j + ny * (nz - 1 - k))] = la.data[i + nx * (j + ny * k)]!;
    const d = geometry.direction;
    const flippedGeometry = makeGeometry({
      dims: geometry.dims,
      spacing: geometry.spacing,
      origin: [0, 1, 2].map(
        (c) =>
          geometry.origin[c]! +
          (ny - 1) * geometry.spacing[1] * d[1][c]! +
          (nz - 1) * geometry.spacing[2] * d[2][c]!,
      ) as [number, number, number],
      direction: [d[0], [-d[1][0], -d[1][1], -d[1][2]], [-d[2][0], -d[2][1], -d[2][2]]],
    });
    const out = join(work, 'seg-flip.dcm');
    await writeSegFromFiles({
      source: dir,
      la: maskFile('la-flip.nii.gz', { geometry: flippedGeometry, data: flipped }),
      scar: maskFile('scar2.nii.gz', scar),
      out,
    });
    expect(readSeg(out, dir).la).toEqual(Array.from(la.data));
  });

  it('refuses a mask on another grid, naming the file and the difference', async () => {
    const dir = sourceDir('src-bad');
    const shifted = {
      geometry: makeGeometry({ ...geometry, origin: [-20, 31.25, -7] }),
      data: la.data,
    };
    await expect(
      writeSegFromFiles({
        source: dir,
        la: maskFile('la.nii.gz', la),
        scar: maskFile('shifted.nii.gz', shifted),
        out: join(work, 'x.dcm'),
      }),
    ).rejects.toThrow(
      /--scar .*shifted\.nii\.gz is not on the source series' grid.*origins differ/,
    );
    await expect(
      writeSegFromFiles({
        source: dir,
        la: join(work, 'missing.nii.gz'),
        scar: maskFile('s.nii.gz', scar),
        out: join(work, 'x.dcm'),
      }),
    ).rejects.toBeInstanceOf(UsageError);
  });

  it('works with a mask made from dcm2niix output of a real CT series', async () => {
    const dir =
      '/usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests/98892001/CT5N';
    const d2n = join(work, 'd2n');
    mkdirSync(d2n, { recursive: true });
    const run = spawnSync('dcm2niix', ['-z', 'y', '-b', 'n', '-f', 'ct', '-o', d2n, dir], {
      encoding: 'utf8',
    });
    if (run.status !== 0)
      throw new Error(`dcm2niix failed (install it): ${run.stdout}${run.stderr}`);
    const image = niftiToFloat32(readNifti(new Uint8Array(readFileSync(join(d2n, 'ct.nii.gz')))));
    // A "segmentation" made on dcm2niix's (reoriented) image: bright voxels.
    const threshold: Mask = {
      geometry: image.geometry,
      data: Uint8Array.from(image.data, (v) => (v > 0 ? 1 : 0)),
    };
    const out = join(work, 'ct-seg.dcm');
    const r = await writeSegFromFiles({
      source: dir,
      la: maskFile('ct-la.nii.gz', threshold),
      scar: maskFile('ct-scar.nii.gz', threshold),
      out,
    });
    expect(dciodvfyErrors(out)).toEqual([]);
    const files = readdirSync(dir).map((f) => ({
      name: f,
      bytes: new Uint8Array(readFileSync(join(dir, f))),
    }));
    const ours = readDicomSeries(files).volume.data;
    // The same voxels, found through the exact re-indexing: stored value > 0 in our order.
    const expected = Array.from(ours, (v) => (v > 0 ? 1 : 0));
    expect(r.laVoxels).toBe(expected.reduce((a, b) => a + b, 0));
    expect(readSegCt(out, files)).toEqual(expected);
  });
});

function readSegCt(file: string, files: { name: string; bytes: Uint8Array }[]): number[] {
  const series = readDicomSeries(files);
  const bytes = readFileSync(file);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    ).dict,
  );
  const [nx, ny, nz] = series.volume.geometry.dims;
  const per = nx * ny;
  const pixels = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
  const out = new Array<number>(per * nz).fill(0);
  (ds.PerFrameFunctionalGroupsSequence as Record<string, unknown>[]).forEach((frame, f) => {
    if (
      (frame.SegmentIdentificationSequence as Record<string, unknown>[])[0]!
        .ReferencedSegmentNumber !== 1
    )
      return;
    const derivation = (frame.DerivationImageSequence as Record<string, unknown>[])[0]!;
    const sop = (derivation.SourceImageSequence as Record<string, unknown>[])[0]!
      .ReferencedSOPInstanceUID;
    const k = series.source.slices.findIndex((s) => s.sopInstanceUid === sop);
    for (let p = 0; p < per; p++) {
      const bit = f * per + p;
      out[k * per + p] = (pixels[bit >> 3]! >> (bit & 7)) & 1;
    }
  });
  return out;
}
