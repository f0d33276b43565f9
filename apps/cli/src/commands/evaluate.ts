// `lascar evaluate`: a predicted mask against a ground truth, with the LAScarQS 2022 metrics
// (medpy's definitions; see @lascar/core metrics.ts for the empty-mask rules).
import { readFile } from 'node:fs/promises';
import {
  evaluateSegmentation,
  GridMismatchError,
  maskFromLabels,
  NiftiError,
  niftiToFloat32,
  readNifti,
  voxelVolumeMl,
  type Mask,
  type NiftiVolume,
  type SegmentationMetrics,
  type Volume,
  type VoxelArray,
} from '@lascar/core';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

export interface EvaluateOptions {
  /** Path of the predicted mask (.nii or .nii.gz). */
  readonly pred: string;
  /** Path of the ground-truth mask (.nii or .nii.gz). */
  readonly truth: string;
  /** Only voxels equal to this label count as inside; without it every non-zero voxel does. */
  readonly label?: number;
}

export interface EvaluationReport {
  readonly pred: string;
  readonly truth: string;
  readonly label: number | null;
  readonly dims: readonly number[];
  readonly spacingMm: readonly number[];
  readonly metrics: SegmentationMetrics;
  readonly predMl: number;
  readonly truthMl: number;
}

/** Reads both files, binarises them and computes the metrics. Input problems throw UsageError. */
export async function evaluateFiles(options: EvaluateOptions): Promise<EvaluationReport> {
  const [predVolume, truthVolume] = await Promise.all([
    readMaskFile(options.pred, '--pred', options.label),
    readMaskFile(options.truth, '--truth', options.label),
  ]);
  let metrics: SegmentationMetrics;
  try {
    metrics = evaluateSegmentation(predVolume, truthVolume);
  } catch (error) {
    if (error instanceof GridMismatchError) {
      throw new UsageError(
        `--pred ${options.pred} and --truth ${options.truth} are not on the same voxel grid (${error.message.replace(/^.*?: /, '')}); resample one onto the other first`,
      );
    }
    throw error;
  }
  const voxelMl = voxelVolumeMl(predVolume.geometry);
  return {
    pred: options.pred,
    truth: options.truth,
    label: options.label ?? null,
    dims: [...predVolume.geometry.dims],
    spacingMm: [...predVolume.geometry.spacing],
    metrics,
    predMl: metrics.predVoxels * voxelMl,
    truthMl: metrics.truthVoxels * voxelMl,
  };
}

/** The report as JSON: snake_case keys, null where a metric is undefined (an empty mask). */
export function evaluationJson(report: EvaluationReport): string {
  const m = report.metrics;
  return JSON.stringify(
    {
      pred: report.pred,
      truth: report.truth,
      label: report.label,
      dims: report.dims,
      spacing_mm: report.spacingMm,
      dice: m.dice,
      jaccard: m.jaccard,
      hd_mm: m.hausdorffMm,
      hd95_mm: m.hausdorff95Mm,
      assd_mm: m.assdMm,
      sensitivity: m.sensitivity,
      specificity: m.specificity,
      pred_voxels: m.predVoxels,
      truth_voxels: m.truthVoxels,
      intersection_voxels: m.intersectionVoxels,
      pred_ml: report.predMl,
      truth_ml: report.truthMl,
    },
    null,
    2,
  );
}

/** The report as a readable table. */
export function evaluationTable(report: EvaluationReport): string {
  const m = report.metrics;
  const ratio = (x: number | null, why: string): string =>
    x === null ? `n/a (${why})` : x.toFixed(4);
  const mm = (x: number | null): string => (x === null ? 'n/a (a mask is empty)' : x.toFixed(2));
  const rows: [string, string][] = [
    ['Dice', ratio(m.dice, '')],
    ['Jaccard', ratio(m.jaccard, '')],
    ['HD (mm)', mm(m.hausdorffMm)],
    ['HD95 (mm)', mm(m.hausdorff95Mm)],
    ['ASSD (mm)', mm(m.assdMm)],
    ['sensitivity', ratio(m.sensitivity, 'truth is empty')],
    ['specificity', ratio(m.specificity, 'truth fills the grid')],
    ['pred voxels', `${m.predVoxels} (${report.predMl.toFixed(2)} mL)`],
    ['truth voxels', `${m.truthVoxels} (${report.truthMl.toFixed(2)} mL)`],
    ['intersection', `${m.intersectionVoxels}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    `pred:  ${report.pred}`,
    `truth: ${report.truth}`,
    `grid:  ${report.dims.join(' x ')} voxels, ${report.spacingMm.map((s) => Number(s.toFixed(4))).join(' x ')} mm`,
    `label: ${report.label === null ? 'any non-zero voxel' : report.label}`,
    '',
    ...rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`),
  ].join('\n');
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description(
      'compare a predicted mask with a ground truth (LAScarQS metrics: Dice, Jaccard, HD, HD95, ASSD, ...)',
    )
    .requiredOption('--pred <file>', 'predicted mask, .nii or .nii.gz')
    .requiredOption('--truth <file>', 'ground-truth mask, .nii or .nii.gz, on the same voxel grid')
    .option(
      '--label <n>',
      'count only voxels equal to this label (default: every non-zero voxel)',
      parseLabel,
    )
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { pred: string; truth: string; label?: number; json?: boolean }) => {
      const report = await evaluateFiles(options);
      process.stdout.write(`${options.json ? evaluationJson(report) : evaluationTable(report)}\n`);
    });
}

function parseLabel(value: string): number {
  const label = Number(value);
  if (value.trim() === '' || !Number.isFinite(label))
    throw new UsageError(`--label must be a number, got "${value}"`);
  return label;
}

async function readMaskFile(path: string, flag: string, label: number | undefined): Promise<Mask> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : (error as Error).message;
    throw new UsageError(`cannot read ${flag} ${path}: ${why}`);
  }
  let volume: NiftiVolume;
  try {
    volume = readNifti(bytes);
  } catch (error) {
    if (error instanceof NiftiError)
      throw new UsageError(`${flag} ${path} is not a usable NIfTI-1 image: ${error.message}`);
    throw error;
  }
  // Labels are compared as real-world values: apply scl_slope / scl_inter when the file has them.
  const values: Volume<VoxelArray> =
    volume.scaleSlope === 1 && volume.scaleIntercept === 0 ? volume : niftiToFloat32(volume);
  return maskFromLabels(values, label);
}
