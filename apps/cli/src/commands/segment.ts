// `lascar segment INPUT --out DIR`: the whole method on one study (a DICOM series folder or a
// NIfTI file) or on a LAScarQS folder of cases, with masks, report and, for DICOM, a DICOM SEG
// and a DICOM SR measurement report.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  evaluateSegmentation,
  NiftiError,
  niftiToFloat32,
  PIPELINE_STAGES,
  readNifti,
  segmentStudy,
  writeNifti,
  segmentationUids,
  writeMeasurementReport,
  writeSegmentation,
  type Mask,
  type SegmentationMetrics,
  type SourceSeries,
  type StageName,
  type StudySegmentation,
  type Volume,
  EXECUTION_PROVIDER_CHOICES,
  isExecutionProviderChoice,
  modelVersionOf,
  selectSeries,
  sliceOrientationProblem,
  MethodSettingsError,
  parseMethodSettings,
  UnsupportedOrientationError,
  type ExecutionProviderChoice,
  type MethodSettingNames,
  type MethodSettings,
  type QualityControl,
} from '@lascar/core';
import type { LoadedNetworks, ModelKind } from '@lascar/core/onnx';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { findLascarqsCases, readLascarqsCase } from '../lascarqs-io.js';
import { readSeriesFromDirectory } from './convert.js';

/** The shipped weights: <repo>/models (this file is apps/cli/dist/commands/segment.js). */
export const DEFAULT_MODELS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../models',
);

export const ALGORITHM_NAME = 'MSWS-Net + Boundary2Patches';

/** Opens the networks of a models folder; a missing or mismatched model is a usage error. */
export async function loadNetworks(
  modelsDir: string,
  executionProvider: ExecutionProviderChoice,
): Promise<LoadedNetworks> {
  // Loaded on demand: onnxruntime-node's native library is only needed by commands that infer.
  const { ExecutionProviderError, ModelManifestError, openNetworksFromDirectory } =
    await import('@lascar/core/onnx');
  try {
    return await openNetworksFromDirectory(modelsDir, executionProvider);
  } catch (error) {
    if (error instanceof ModelManifestError || error instanceof ExecutionProviderError)
      throw new UsageError(
        error.message.includes('is missing')
          ? `${error.message} (train and export the models, or pass --models DIR)`
          : error.message,
      );
    throw error;
  }
}

export interface StudyReport {
  readonly input: string;
  readonly seriesInstanceUid?: string;
  readonly studyInstanceUid?: string;
  readonly grid: { readonly dims: readonly number[]; readonly spacingMm: readonly number[] };
  readonly laVolumeMl: number;
  readonly scarVolumeMl: number;
  readonly wallVolumeMl: number;
  /**
   * The burden's parts (quantify.ts): scar in the wall shell (the numerator; the wall is the
   * denominator), split into the part outside the cavity mask and the part inside it, and the
   * scar beyond the wall (not counted).
   */
  readonly scarInWallVolumeMl: number;
  readonly scarInShellVolumeMl: number;
  readonly scarInCavityVolumeMl: number;
  readonly scarOutsideWallVolumeMl: number;
  readonly scarBurdenPercent: number | null;
  readonly burdenMethod: string;
  readonly wallDefinition: string;
  readonly stages: StudySegmentation['quantification']['stages'];
  /** True when quality control flagged the result: a person should look before trusting it. */
  readonly needsReview: boolean;
  /** Quality control (quality-control.ts): the flags with their reasons, what was measured, the limits. */
  readonly qc: QualityControl;
  /** False when no LA was found: no SEG and no SR were written (exit code 3). */
  readonly segmented: boolean;
  /** The method settings the result was made with (thresholds resolved, scar limits in pixels). */
  readonly method: StudySegmentation['settings'];
  /** Whether the LA network ran on a crop around the atrium, where, and why (`--la-crop`). */
  readonly laCrop: StudySegmentation['laCrop'];
  /** How the study was rearranged for the networks (masks are on the input's own grid). */
  readonly orientation: StudySegmentation['orientation'];
  readonly scope: string;
  readonly models: Record<
    ModelKind,
    {
      architecture: string;
      width: number;
      sha256: string;
      trainingData: string;
      synthetic: boolean;
    }
  >;
  readonly modelVersion: string;
  readonly syntheticTrainingOnly: boolean;
  readonly notice: string;
  readonly executionProvider: string;
  readonly providerFallbacks: readonly string[];
  readonly timingsMs: Readonly<Record<StageName | 'read' | 'write' | 'total', number>>;
  readonly patchCount: number;
  readonly evaluation?: { readonly la?: SegmentationMetrics; readonly scar?: SegmentationMetrics };
  readonly createdAt: string;
}

const SCOPE =
  'Post-ablation LA scar (trained for LAScarQS task 1 post-ablation LGE); volume-based burden. Not a diagnosis.';

function notice(networks: LoadedNetworks): string {
  return networks.synthetic
    ? 'Models trained on SYNTHETIC phantoms only: NOT for clinical use.'
    : 'Research use only: not a medical device.';
}

/** Why a person should look at this result (the SR's "needs review" flag): QC and the models. */
function reviewReasons(result: StudySegmentation, networks: LoadedNetworks): string[] {
  return [
    ...result.qc.flags.map((f) => f.reason),
    ...(networks.synthetic ? ['models trained on synthetic phantoms only'] : []),
  ];
}

/** No LA at all: there is nothing to report, so no SEG and no SR are written. */
export function noLaFound(qc: QualityControl): boolean {
  return qc.flags.some((f) => f.code === 'no-la');
}

/** Exit code of `lascar segment` when some study had no LA (outputs written: report.json, masks). */
export const EXIT_NO_LA = 3;

export interface SegmentedStudy {
  readonly result: StudySegmentation;
  readonly report: StudyReport;
}

interface StudyInput {
  readonly label: string;
  readonly image: Volume<Float32Array>;
  readonly source?: SourceSeries;
  readonly truth?: { readonly la?: Mask; readonly scar?: Mask };
  readonly readMs: number;
}

/** Segments one study and writes la.nii.gz, scar.nii.gz, report.json (and, for DICOM, seg.dcm
 * and sr.dcm, an UNVERIFIED measurement report referencing the SEG). */
export async function segmentOne(
  input: StudyInput,
  networks: LoadedNetworks,
  outDir: string,
  progress?: (line: string) => void,
  method?: MethodSettings,
): Promise<SegmentedStudy> {
  const started = performance.now();
  const nz = input.image.geometry.dims[2];
  let slicesDone = 0;
  let result: StudySegmentation;
  try {
    result = await segmentStudy(input.image, networks.networks, {
      ...(method ? { method } : {}),
      onStage: (event) => {
        if (event.stage === 'la-restore') {
          slicesDone = Math.min(nz, slicesDone + (event.slices ?? 4));
          progress?.(`${input.label}: LA ${slicesDone}/${nz} slices`);
        }
      },
    });
  } catch (error) {
    // A stack the pipeline cannot segment is the input's problem: a usage error (exit code 2).
    if (error instanceof UnsupportedOrientationError)
      throw new UsageError(`${input.label}: ${error.message}`);
    throw error;
  }
  const writeStart = performance.now();
  await mkdir(outDir, { recursive: true });
  await writeFile(
    path.join(outDir, 'la.nii.gz'),
    writeNifti(result.la, { gzip: true, description: 'lascar LA cavity' }),
  );
  await writeFile(
    path.join(outDir, 'scar.nii.gz'),
    writeNifti(result.scar, { gzip: true, description: 'lascar LA scar' }),
  );
  const version = modelVersionOf(networks.manifests);
  const segmented = !noLaFound(result.qc);
  if (input.source && segmented) {
    const model = { name: ALGORITHM_NAME, version };
    const seg = writeSegmentation(input.source, { la: result.la, scar: result.scar }, model);
    await writeFile(path.join(outDir, 'seg.dcm'), seg);
    const reasons = reviewReasons(result, networks);
    const sr = writeMeasurementReport({
      source: input.source,
      segmentation: segmentationUids(input.source, model),
      model,
      measurements: result.quantification,
      needsReview: reasons.length > 0,
      reviewReasons: reasons,
      notice: notice(networks),
      verification: { state: 'UNVERIFIED' },
    });
    await writeFile(path.join(outDir, 'sr.dcm'), sr.bytes);
  }
  const writeMs = performance.now() - writeStart;
  const evaluation =
    input.truth && (input.truth.la || input.truth.scar)
      ? {
          ...(input.truth.la ? { la: evaluateSegmentation(result.la, input.truth.la) } : {}),
          ...(input.truth.scar
            ? { scar: evaluateSegmentation(result.scar, input.truth.scar) }
            : {}),
        }
      : undefined;
  const q = result.quantification;
  const model = (kind: ModelKind) => {
    const m = networks.manifests[kind];
    return {
      architecture: m.architecture,
      width: m.width,
      sha256: m.sha256,
      trainingData: m.training_data.summary,
      synthetic: Boolean(m.training_data.synthetic),
    };
  };
  const g = input.image.geometry;
  const report: StudyReport = {
    input: input.label,
    ...(input.source
      ? {
          seriesInstanceUid: input.source.seriesInstanceUid,
          studyInstanceUid: input.source.identity.studyInstanceUid,
        }
      : {}),
    grid: { dims: g.dims, spacingMm: g.spacing },
    laVolumeMl: q.laVolumeMl,
    scarVolumeMl: q.scarVolumeMl,
    wallVolumeMl: q.wallVolumeMl,
    scarInWallVolumeMl: q.scarInWallVolumeMl,
    scarInShellVolumeMl: q.scarInShellVolumeMl,
    scarInCavityVolumeMl: q.scarInCavityVolumeMl,
    scarOutsideWallVolumeMl: q.scarOutsideWallVolumeMl,
    scarBurdenPercent: q.scarBurdenPercent,
    burdenMethod: q.burdenMethod,
    wallDefinition: q.wallDefinition,
    stages: q.stages,
    needsReview: result.qc.needsReview,
    qc: result.qc,
    segmented,
    method: result.settings,
    laCrop: result.laCrop,
    orientation: result.orientation,
    scope: SCOPE,
    models: { la: model('la'), scar: model('scar') },
    modelVersion: version,
    syntheticTrainingOnly: networks.synthetic,
    notice: notice(networks),
    executionProvider: networks.executionProvider,
    providerFallbacks: networks.providerFallbacks,
    timingsMs: {
      read: round(input.readMs),
      ...(Object.fromEntries(
        PIPELINE_STAGES.map((s) => [s.name, round(result.stageMs[s.name])]),
      ) as Record<StageName, number>),
      write: round(writeMs),
      total: round(input.readMs + performance.now() - started),
    },
    patchCount: result.patchCount,
    ...(evaluation ? { evaluation } : {}),
    createdAt: new Date().toISOString(),
  };
  await writeFile(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return { result, report };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

type InputKind = 'dicom' | 'nifti' | 'lascarqs';

/** A NIfTI file, a folder holding LAScarQS case folders (at any depth up to 4), or else a DICOM folder. */
export async function inputKind(input: string): Promise<InputKind> {
  if (!existsSync(input)) throw new UsageError(`INPUT ${input} does not exist`);
  if (statSync(input).isFile()) {
    if (/\.nii(\.gz)?$/.test(input)) return 'nifti';
    throw new UsageError(
      `INPUT ${input} is a file but not .nii/.nii.gz; give a NIfTI file, a DICOM series folder or a LAScarQS folder`,
    );
  }
  return (await findLascarqsCases(input)).length > 0 ? 'lascarqs' : 'dicom';
}

async function readNiftiImage(file: string): Promise<Volume<Float32Array>> {
  let image: Volume<Float32Array>;
  try {
    image = niftiToFloat32(readNifti(await readFile(file)));
  } catch (error) {
    if (error instanceof NiftiError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
  // Float images may hold NaN (a masked export): the networks cannot use them.
  const { data, geometry } = image;
  let count = 0;
  let first = -1;
  for (let n = 0; n < data.length; n++) {
    if (Number.isFinite(data[n]!)) continue;
    if (count++ === 0) first = n;
  }
  if (count > 0) {
    const [nx, ny] = geometry.dims;
    throw new UsageError(
      `${path.basename(file)}: ${count} voxels are NaN or infinite (the first at column ${first % nx}, row ${Math.floor(first / nx) % ny}, slice ${Math.floor(first / (nx * ny))}); the image cannot be segmented`,
    );
  }
  return image;
}

export interface SegmentOptions {
  readonly out: string;
  readonly models: string;
  readonly ep: ExecutionProviderChoice;
  /** Segment a DICOM series even when the LGE selection rules would skip it. */
  readonly force?: boolean;
  /** The SeriesInstanceUID to segment when the DICOM folder holds several series. */
  readonly seriesInstanceUid?: string;
  /** The method's settings (defaults: the paper's, thresholds from the model manifests). */
  readonly method?: MethodSettings;
  readonly progress?: (line: string) => void;
  /** A line that stays on screen (progress lines overwrite each other on a terminal). */
  readonly info?: (line: string) => void;
}

export interface CaseSummary {
  readonly id: string;
  readonly report: StudyReport;
}

/** Runs `lascar segment` and returns the reports (one per case). */
export async function runSegment(input: string, options: SegmentOptions): Promise<CaseSummary[]> {
  const kind = await inputKind(input);
  const networks = await loadNetworks(options.models, options.ep);
  options.info?.(networks.providerSummary);
  options.progress?.(
    `models: ${networks.manifests.la.architecture} + ${networks.manifests.scar.architecture}` +
      (networks.synthetic ? ' [trained on SYNTHETIC phantoms: not for clinical use]' : ''),
  );
  try {
    if (kind === 'lascarqs') {
      const cases = await findLascarqsCases(input);
      const summaries: CaseSummary[] = [];
      for (const [n, files] of cases.entries()) {
        const t0 = performance.now();
        const study = await readLascarqsCase(files);
        options.progress?.(`case ${n + 1}/${cases.length}: ${study.id}`);
        const truth = {
          ...(study.la ? { la: study.la } : {}),
          ...(study.scar ? { scar: study.scar } : {}),
        };
        const { report } = await segmentOne(
          { label: study.id, image: study.image, truth, readMs: performance.now() - t0 },
          networks,
          cases.length === 1 && files.dir === input
            ? options.out
            : path.join(options.out, study.id),
          options.progress,
          options.method,
        );
        summaries.push({ id: study.id, report });
      }
      return summaries;
    }
    const t0 = performance.now();
    if (kind === 'nifti') {
      const image = await readNiftiImage(input);
      const { report } = await segmentOne(
        { label: path.basename(input), image, readMs: performance.now() - t0 },
        networks,
        options.out,
        options.progress,
        options.method,
      );
      return [{ id: path.basename(input), report }];
    }
    const series = await readSeriesFromDirectory(input, {
      flag: 'INPUT',
      ...(options.seriesInstanceUid !== undefined
        ? { seriesInstanceUid: options.seriesInstanceUid }
        : {}),
    });
    for (const { file, reason } of series.skipped)
      options.info?.(`left out ${path.basename(file)}: ${reason}`);
    // A stack that is not axial cannot be segmented at all: --force does not change that.
    const orientationProblem = sliceOrientationProblem(series.volume.geometry);
    if (orientationProblem) throw new UsageError(`INPUT ${input}: ${orientationProblem}`);
    // The worker's LGE selection rules, less the instance-count range (a person chose this series).
    const decision = selectSeries({
      modality: series.source.modality,
      seriesDescription: series.source.seriesDescription,
      sopClassUid: series.source.slices[0]?.sopClassUid,
      imageOrientationPatient: series.source.imageOrientation,
      ...series.source.acquisition,
    });
    if (!decision.selected && !options.force) {
      throw new UsageError(
        `INPUT ${input}: series ${series.source.seriesInstanceUid} does not look like an LGE series (${decision.reason}); pass --force to segment it anyway`,
      );
    }
    const { report } = await segmentOne(
      { label: input, image: series.volume, source: series.source, readMs: performance.now() - t0 },
      networks,
      options.out,
      options.progress,
      options.method,
    );
    return [{ id: series.source.seriesInstanceUid, report }];
  } finally {
    await networks.release();
  }
}

const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined ? '-' : v.toFixed(digits);

/**
 * Scar Dice where the truth has scar; undefined on a study without any (about 8 % of phantoms),
 * where Dice is 0 for one stray voxel and says nothing about finding scar: its false positives
 * show as the scar volume, and the mean leaves it out.
 */
const scarDice = (r: StudyReport): number | undefined =>
  r.evaluation?.scar && r.evaluation.scar.truthVoxels > 0 ? r.evaluation.scar.dice : undefined;

/**
 * A plain-text table of the cases, with metrics where ground truth existed. Scar Dice and
 * sensitivity read '-' for a study whose truth has no scar; their means are over the others.
 */
export function summaryTable(cases: readonly CaseSummary[]): string {
  const rows = [
    [
      'case',
      'LA mL',
      'scar mL',
      'burden %',
      'Utah',
      'LA Dice',
      'LA HD95',
      'LA ASSD',
      'scar Dice',
      'scar sens',
      'QC',
    ],
    ...cases.map(({ id, report: r }) => [
      id,
      fmt(r.laVolumeMl, 1),
      fmt(r.scarVolumeMl, 2),
      fmt(r.scarBurdenPercent, 1),
      r.stages.find((s) => s.scheme.startsWith('Utah'))?.stage ?? '-',
      fmt(r.evaluation?.la?.dice),
      fmt(r.evaluation?.la?.hausdorff95Mm, 2),
      fmt(r.evaluation?.la?.assdMm, 2),
      fmt(scarDice(r)),
      fmt(r.evaluation?.scar?.sensitivity),
      r.needsReview ? 'review' : 'ok',
    ]),
  ];
  const withTruth = cases.filter((c) => c.report.evaluation?.la);
  if (withTruth.length > 1) {
    const mean = (f: (c: CaseSummary) => number | null | undefined): string => {
      const vs = withTruth.map(f).filter((v): v is number => typeof v === 'number');
      return vs.length ? fmt(vs.reduce((a, b) => a + b, 0) / vs.length) : '-';
    };
    rows.push([
      `mean (${withTruth.length})`,
      '',
      '',
      '',
      '',
      mean((c) => c.report.evaluation?.la?.dice),
      mean((c) => c.report.evaluation?.la?.hausdorff95Mm),
      mean((c) => c.report.evaluation?.la?.assdMm),
      mean((c) => scarDice(c.report)),
      mean((c) => c.report.evaluation?.scar?.sensitivity),
      '',
    ]);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => r.map((cell, col) => cell.padStart(widths[col]!)).join('  ')).join('\n');
}

/** One "needs review" line per QC reason per case ('' when none). */
export function reviewLines(cases: readonly CaseSummary[]): string {
  return cases
    .flatMap(({ id, report }) =>
      report.qc.flags.map((f) => `needs review: ${cases.length > 1 ? `${id}: ` : ''}${f.reason}`),
    )
    .join('\n');
}

/** The method settings as `lascar segment` flags (commander's option keys -> flags). */
export const METHOD_FLAGS: MethodSettingNames = {
  scarMinAreaMm2: '--scar-min-area-mm2',
  scarMaxAreaMm2: '--scar-max-area-mm2',
  laComponents: '--la-components',
  boundaryBandMm: '--boundary-band-mm',
  wallThicknessMm: '--wall-thickness-mm',
  probabilityThreshold: '--probability-threshold',
  laCrop: '--la-crop',
  qcLaMinVolumeMl: '--qc-la-min-volume-ml',
  qcLaMaxVolumeMl: '--qc-la-max-volume-ml',
  qcLaMinExtentMm: '--qc-la-min-extent-mm',
  qcScarWallDistanceMm: '--qc-scar-wall-distance-mm',
  qcScarFarMaxPercent: '--qc-scar-far-max-percent',
};

/** Reads the method flags; a bad value is a usage error naming the flag. */
export function methodFromFlags(
  flags: Partial<Record<keyof MethodSettings, string>>,
): MethodSettings {
  try {
    return parseMethodSettings(flags, METHOD_FLAGS);
  } catch (error) {
    if (error instanceof MethodSettingsError) throw new UsageError(error.message);
    throw error;
  }
}

export function registerSegment(program: Command): void {
  program
    .command('segment')
    .description('segment the LA cavity and scar of a study and measure scar burden')
    .argument(
      '<input>',
      'a DICOM series folder, a NIfTI image, or a LAScarQS-format folder of cases',
    )
    .requiredOption(
      '--out <dir>',
      'output folder (la.nii.gz, scar.nii.gz, report.json, seg.dcm and sr.dcm for DICOM)',
    )
    .option(
      '--models <dir>',
      'folder with la.onnx/la.json and scar.onnx/scar.json',
      DEFAULT_MODELS_DIR,
    )
    .option(
      '--ep <provider>',
      `execution provider: ${EXECUTION_PROVIDER_CHOICES.join('|')}`,
      'auto',
    )
    .option('--force', 'segment a DICOM series even if the LGE selection rules would skip it')
    .option('--series <uid>', 'SeriesInstanceUID to segment when the DICOM folder holds several')
    .option(
      `${METHOD_FLAGS.scarMinAreaMm2} <mm2>`,
      "drop scar components (per slice) smaller than this area (default 3.90625 = the paper's 10 pixels at 0.625 mm)",
    )
    .option(
      `${METHOD_FLAGS.scarMaxAreaMm2} <mm2>`,
      "drop scar components larger than this area (default 175.78125 = the paper's 450 pixels at 0.625 mm)",
    )
    .option(
      `${METHOD_FLAGS.laComponents} <rule>`,
      'LA cavity: keep the largest 3D component with connectivity 6, 18 or 26, or all (default 26)',
    )
    .option(
      `${METHOD_FLAGS.boundaryBandMm} <mm>`,
      'half-width of the band around the LA boundary where scar is searched (default 5)',
    )
    .option(
      `${METHOD_FLAGS.wallThicknessMm} <mm>`,
      'LA wall thickness for the scar burden (default 3)',
    )
    .option(
      `${METHOD_FLAGS.probabilityThreshold} <p>`,
      "foreground where probability > p, both networks (default: each model manifest's threshold)",
    )
    .addOption(
      new Option(
        `${METHOD_FLAGS.laCrop} <on|off>`,
        'run the LA network on a crop around the atrium (whole canvas where unsure), or off: every slice on the whole 640 x 640 canvas (default on)',
      ).env('LASCAR_LA_CROP'),
    )
    .option(
      `${METHOD_FLAGS.qcLaMinVolumeMl} <ml>`,
      'QC: flag an LA cavity smaller than this for review (default 20)',
    )
    .option(
      `${METHOD_FLAGS.qcLaMaxVolumeMl} <ml>`,
      'QC: flag an LA cavity larger than this for review (default 300)',
    )
    .option(
      `${METHOD_FLAGS.qcLaMinExtentMm} <mm>`,
      'QC: flag an LA spanning less than this in the slice direction (default 25; 0 = off)',
    )
    .option(
      `${METHOD_FLAGS.qcScarWallDistanceMm} <mm>`,
      'QC: scar farther than this from the LA wall counts as far (default 10)',
    )
    .option(
      `${METHOD_FLAGS.qcScarFarMaxPercent} <percent>`,
      'QC: flag when more than this share of the scar is far from the wall (default 5)',
    )
    .action(
      async (
        input: string,
        opts: {
          out: string;
          models: string;
          ep: string;
          force?: boolean;
          series?: string;
        } & Partial<Record<keyof MethodSettings, string>>,
      ) => {
        const method = methodFromFlags(opts);
        if (!isExecutionProviderChoice(opts.ep)) {
          throw new UsageError(
            `--ep ${opts.ep} is not one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}`,
          );
        }
        const tty = process.stderr.isTTY;
        const cases = await runSegment(input, {
          out: opts.out,
          models: opts.models,
          ep: opts.ep,
          force: Boolean(opts.force),
          ...(opts.series !== undefined ? { seriesInstanceUid: opts.series } : {}),
          method,
          progress: (line) => process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`),
          info: (line) => process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`),
        });
        if (tty) process.stderr.write('\n');
        const first = cases[0]?.report;
        if (first) process.stdout.write(`${first.notice}\n`);
        process.stdout.write(`${summaryTable(cases)}\n`);
        const review = reviewLines(cases);
        if (review) process.stdout.write(`${review}\n`);
        process.stdout.write(`outputs in ${opts.out}\n`);
        const empty = cases.filter((c) => !c.report.segmented);
        if (empty.length > 0) {
          // Not a normal success: say so plainly, and exit 3 (the README's CLI section).
          for (const c of empty) {
            process.stderr.write(
              `lascar: ${c.id}: no LA cavity found; no SEG or SR written (report.json has the QC flags)\n`,
            );
          }
          process.exitCode = EXIT_NO_LA;
        }
      },
    );
}
