// `lascar seg`: LA and scar masks (NIfTI, from our pipeline or any other tool) to a DICOM SEG on
// the source series, like dcmqi's itkimage2segimage. Masks on the source grid with flipped or
// swapped axes (dcm2niix output) are re-indexed exactly; any other grid is refused.
import { readFile, writeFile } from 'node:fs/promises';
import {
  alignMaskToGrid,
  DicomError,
  maskFromLabels,
  NiftiError,
  PRODUCT,
  readNifti,
  writeSegmentation,
  type DicomSeries,
  type Mask,
} from '@lascar/core';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readSeriesFromDirectory } from './convert.js';

export const DEFAULT_ALGORITHM = {
  name: 'MSWS-Net + Boundary2Patches',
  version: PRODUCT.softwareVersions,
} as const;

export interface SegOptions {
  readonly source: string;
  readonly la: string;
  readonly scar: string;
  readonly out: string;
  readonly series?: string;
  readonly algorithmName?: string;
  readonly algorithmVersion?: string;
}

async function readMask(file: string, flag: string, series: DicomSeries): Promise<Mask> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw new UsageError(`${flag} ${file} cannot be read`);
  }
  let mask: Mask;
  try {
    const volume = readNifti(bytes);
    // A mask holds labels (non-zero = inside). Fractions or big values mean an image was given.
    for (const v of volume.data) {
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new UsageError(
          `${flag} ${file} holds the value ${v}: it looks like an image, not a label mask`,
        );
      }
    }
    mask = maskFromLabels(volume);
  } catch (error) {
    if (error instanceof NiftiError) throw new UsageError(`${flag} ${file}: ${error.message}`);
    throw error;
  }
  try {
    return alignMaskToGrid(mask, series.volume.geometry, `${flag} ${file}`);
  } catch (error) {
    if (error instanceof DicomError) throw new UsageError(error.message);
    throw error;
  }
}

export interface SegResult {
  readonly out: string;
  readonly frames: number;
  readonly laVoxels: number;
  readonly scarVoxels: number;
  readonly seriesInstanceUid: string;
}

export async function writeSegFromFiles(options: SegOptions): Promise<SegResult> {
  const series = await readSeriesFromDirectory(options.source, {
    flag: '--source',
    ...(options.series !== undefined ? { seriesInstanceUid: options.series } : {}),
  });
  const la = await readMask(options.la, '--la', series);
  const scar = await readMask(options.scar, '--scar', series);
  const bytes = writeSegmentation(
    series.source,
    { la, scar },
    {
      name: options.algorithmName ?? DEFAULT_ALGORITHM.name,
      version: options.algorithmVersion ?? DEFAULT_ALGORITHM.version,
    },
  );
  await writeFile(options.out, bytes);
  const count = (m: Mask): number => m.data.reduce((n, v) => n + v, 0);
  return {
    out: options.out,
    frames: 2 * series.volume.geometry.dims[2],
    laVoxels: count(la),
    scarVoxels: count(scar),
    seriesInstanceUid: series.source.seriesInstanceUid,
  };
}

export function registerSeg(program: Command): void {
  program
    .command('seg')
    .description(
      'Write LA and scar masks (NIfTI) as a DICOM Segmentation (BINARY) of the source series',
    )
    .requiredOption(
      '--source <dicom-dir>',
      'folder of the source DICOM series the masks were made on',
    )
    .requiredOption('--la <file>', 'LA cavity mask, .nii or .nii.gz (non-zero = inside)')
    .requiredOption('--scar <file>', 'LA scar mask, .nii or .nii.gz (non-zero = inside)')
    .requiredOption('--out <file>', 'output SEG file (.dcm)')
    .option(
      '--series <uid>',
      'SeriesInstanceUID of the source when the folder holds several series',
    )
    .option('--algorithm-name <name>', 'SegmentAlgorithmName to record', DEFAULT_ALGORITHM.name)
    .option(
      '--algorithm-version <version>',
      'algorithm/model version (part of the SEG UIDs)',
      DEFAULT_ALGORITHM.version,
    )
    .action(async (opts: SegOptions) => {
      const r = await writeSegFromFiles(opts);
      process.stdout.write(
        `${r.out}: SEG of series ${r.seriesInstanceUid}, ${r.frames} frames, LA ${r.laVoxels} voxels, scar ${r.scarVoxels} voxels\n`,
      );
    });
}
