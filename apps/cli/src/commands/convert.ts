// `lascar convert DICOM_DIR OUT.nii.gz`: one DICOM series to NIfTI, on the series' own grid
// (no reorientation: voxel (i, j, k) is column i, row j of the k-th slice along the normal).
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  codecDecoders,
  DicomError,
  readDicomSeries,
  writeNifti,
  type DicomFile,
  type DicomSeries,
  type Volume,
  type VoxelArray,
} from '@lascar/core';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** Every regular file under `dir` (recursively, hidden files left out), in name order. */
export async function readDicomDirectory(dir: string, flag = 'DICOM_DIR'): Promise<DicomFile[]> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new UsageError(`${flag} ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new UsageError(`${flag} ${dir} is not a folder`);
  const files: DicomFile[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const p = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) files.push({ name: p, bytes: new Uint8Array(await readFile(p)) });
    }
  };
  await walk(dir);
  if (files.length === 0) throw new UsageError(`${flag} ${dir} holds no files`);
  return files;
}

/** Reads the series under `dir`; DICOM problems become plain usage errors. */
export async function readSeriesFromDirectory(
  dir: string,
  options: { seriesInstanceUid?: string; flag?: string } = {},
): Promise<DicomSeries> {
  const files = await readDicomDirectory(dir, options.flag);
  const decoders = await codecDecoders();
  try {
    return readDicomSeries(files, {
      decoders,
      ...(options.seriesInstanceUid !== undefined
        ? { seriesInstanceUid: options.seriesInstanceUid }
        : {}),
    });
  } catch (error) {
    if (error instanceof DicomError) {
      const hint = error.code === 'MIXED_SERIES' ? ' (use --series UID)' : '';
      throw new UsageError(`${options.flag ?? 'DICOM_DIR'} ${dir}: ${error.message}${hint}`);
    }
    throw error;
  }
}

/** Integers that fit int16 are written as int16 (as scanners store them); anything else as float32. */
export function compactVoxels(volume: Volume<Float32Array>): Volume<VoxelArray> {
  const { data } = volume;
  for (let v = 0; v < data.length; v++) {
    const x = data[v]!;
    if (!Number.isInteger(x) || x < -32768 || x > 32767) return volume;
  }
  return { geometry: volume.geometry, data: Int16Array.from(data) };
}

export interface ConvertResult {
  readonly out: string;
  readonly seriesInstanceUid: string;
  readonly dims: readonly number[];
  readonly spacingMm: readonly number[];
  readonly skipped: number;
}

export async function convertDicomToNifti(
  dir: string,
  out: string,
  options: { seriesInstanceUid?: string } = {},
): Promise<ConvertResult> {
  if (!/\.nii(\.gz)?$/.test(out)) throw new UsageError(`OUT ${out} must end in .nii or .nii.gz`);
  const series = await readSeriesFromDirectory(dir, options);
  const bytes = writeNifti(compactVoxels(series.volume), {
    gzip: out.endsWith('.gz'),
    description: `lascar convert ${series.source.modality}`,
  });
  await writeFile(out, bytes);
  const g = series.volume.geometry;
  return {
    out,
    seriesInstanceUid: series.source.seriesInstanceUid,
    dims: g.dims,
    spacingMm: g.spacing,
    skipped: series.skipped.length,
  };
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('Convert one DICOM series (a folder of files) to NIfTI on its native grid')
    .argument(
      '<dicom-dir>',
      'folder holding the series (searched recursively; DICOMDIR and non-images skipped)',
    )
    .argument('<out>', 'output file, .nii or .nii.gz')
    .option('--series <uid>', 'SeriesInstanceUID to convert when the folder holds several series')
    .action(async (dir: string, out: string, opts: { series?: string }) => {
      const result = await convertDicomToNifti(
        dir,
        out,
        opts.series !== undefined ? { seriesInstanceUid: opts.series } : {},
      );
      process.stdout.write(
        `${result.out}: series ${result.seriesInstanceUid}, ${result.dims.join(' x ')} voxels of ${result.spacingMm
          .map((s) => Number(s.toFixed(4)))
          .join(
            ' x ',
          )} mm${result.skipped ? ` (${result.skipped} non-image file(s) skipped)` : ''}\n`,
      );
    });
}
