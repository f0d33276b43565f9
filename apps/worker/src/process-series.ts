/**
 * One source series through the whole method: retrieve (WADO-RS) -> load (volume) -> LA model ->
 * scar model -> write (DICOM SEG on the source grid, key-slice pictures) -> store (STOW-RS into
 * the same study). Each stage is timed and reported to `onStage`, with its error if it stops
 * there. Storing is idempotent: the SEG's and SR's UIDs are derived from their content (source
 * instances, masks, model version; result-uids.ts), and an object already in the PACS is not
 * sent again, so the PACS holds exactly what the result names.
 */
import {
  codecDecoders,
  DicomError,
  formatQcFlag,
  EXPLICIT_VR_LITTLE_ENDIAN,
  NetworkOutputError,
  readDicomSeries,
  segmentStudy,
  UnsupportedOrientationError,
  writeMeasurementReport,
  writeSegmentation,
  type DicomErrorCode,
  type DicomFile,
  type DicomSeries,
  type MeasurementReportInput,
  type MethodSettings,
  type SourceSeries,
  type StageName as PipelineStage,
  type StudySegmentation,
  type Volume,
  type VoxelArray,
} from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import type { MeasurementData, OverlayData, StageName, StoredObjectRef } from '@lascar/db';
import { keySliceOverlays } from './overlays.js';
import { reportContentUids, segmentationContentUids } from './result-uids.js';
import { PacsRequestError, PacsResponseError, pacsConfigurationProblem } from '@lascar/pacs';
import { PacsUnavailableError, type PacsClient, type SeriesRef } from '@lascar/pacs';

export const ALGORITHM_NAME = 'MSWS-Net + Boundary2Patches';

export const SCOPE =
  'Post-ablation LA scar (trained for LAScarQS task 1 post-ablation LGE); volume-based burden. Not a diagnosis.';

/** The worker's stages, as recorded per job; the pipeline's finer stages map onto the two models. */
export const JOB_STAGES: readonly StageName[] = [
  'retrieve',
  'load',
  'la_model',
  'scar_model',
  'write',
  'store',
];

const LA_PIPELINE: readonly PipelineStage[] = [
  'orient',
  'la-input',
  'la-network',
  'la-restore',
  'la-postprocess',
];

/** Stages that only compute on bytes already retrieved: the same series fails the same way. */
const LOCAL_STAGES: readonly StageName[] = ['load', 'la_model', 'scar_model', 'write'];

export interface StageReport {
  readonly stage: StageName;
  readonly startedAt: Date;
  readonly ms: number;
  readonly error?: string;
}

export interface ProcessDeps {
  readonly pacs: PacsClient;
  readonly networks: LoadedNetworks;
  readonly modelVersion: string;
  /** The method's settings (worker configuration); unset = the paper's values. */
  readonly method?: MethodSettings;
  readonly onStage?: (report: StageReport) => void | Promise<void>;
  /** Called with the SEG and SR before they are stored (the registry names them first). */
  readonly beforeStore?: (objects: readonly StoredObjectRef[]) => Promise<void>;
}

/** The measurement report's content without its verification: kept so sign-off can re-issue it. */
export type ReportContent = Omit<MeasurementReportInput, 'verification'>;

export interface ProcessedSeries {
  readonly source: SourceSeries;
  /** The SEG and SR UIDs; unset when no LA was found (nothing was stored: see `outcome`). */
  readonly segSeriesInstanceUid?: string;
  readonly segSopInstanceUid?: string;
  /** The UNVERIFIED measurement report (DICOM SR) stored beside the SEG. */
  readonly srSeriesInstanceUid?: string;
  readonly srSopInstanceUid?: string;
  readonly report?: ReportContent;
  /**
   * Set when the job completed without a normal result (no LA found): one line for the admins,
   * recorded on the job.
   */
  readonly outcome?: string;
  /** False when the PACS already held this SEG (a re-delivered job). */
  readonly segStored: boolean;
  readonly measurement: MeasurementData;
  readonly overlays: readonly OverlayData[];
  readonly stageMs: Readonly<Record<StageName, number>>;
  readonly instances: number;
}

/** A job failure that retrying cannot fix (corrupt or unsuitable series, PACS refusing). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
  constructor(
    message: string,
    readonly stage: StageName,
    /** The DICOM problem behind it, where there is one (a gap is rechecked later). */
    readonly dicomCode?: DicomErrorCode,
  ) {
    super(message);
  }
}

/** A failure worth retrying (PACS down or overloaded, database away). */
export class RetryableJobError extends Error {
  override name = 'RetryableJobError';
  constructor(
    message: string,
    readonly stage: StageName,
  ) {
    super(message);
  }
}

/**
 * The PACS refused the worker's credentials (HTTP 401/403): the configuration is wrong, not the
 * series. Retrying the job cannot help until someone fixes it, so the worker stops taking jobs
 * (they stay queued) and /readyz says so.
 */
export class PacsConfigurationJobError extends RetryableJobError {
  override name = 'PacsConfigurationJobError';
}

/**
 * An onnxruntime session failed while running a network (device memory, a lost GPU): not the
 * series' fault, so it is worth retrying, unlike anything else that stops segmentation.
 */
export class InferenceRuntimeError extends Error {
  override name = 'InferenceRuntimeError';
}

/** Sorts an error into retryable or permanent, with a message that says where it stopped. */
export function classifyError(
  error: unknown,
  stage: StageName,
): PermanentJobError | RetryableJobError {
  if (error instanceof PermanentJobError || error instanceof RetryableJobError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const refused = pacsConfigurationProblem(error);
  if (refused) return new PacsConfigurationJobError(`${stage}: ${refused}`, stage);
  if (error instanceof PacsUnavailableError)
    return new RetryableJobError(`${stage}: ${message}`, stage);
  if (error instanceof PacsRequestError && error.status === 404 && stage === 'retrieve') {
    return new PermanentJobError(
      `${stage}: the series is no longer in the PACS (${message})`,
      stage,
    );
  }
  if (error instanceof PacsRequestError || error instanceof PacsResponseError) {
    return new PermanentJobError(`${stage}: ${message}`, stage);
  }
  if (error instanceof DicomError) {
    return new PermanentJobError(
      `${stage}: unusable DICOM series (${error.code}): ${message}`,
      stage,
      error.code,
    );
  }
  if (error instanceof NetworkOutputError)
    return new PermanentJobError(`${stage}: ${message}`, stage);
  if (error instanceof UnsupportedOrientationError)
    return new PermanentJobError(`${stage}: unsupported series: ${message}`, stage);
  if (error instanceof InferenceRuntimeError)
    return new RetryableJobError(`${stage}: ${message}`, stage);
  // Loading, segmenting and writing compute on bytes already here: a GeometryError, NaN
  // intensities (RangeError) fail the same way every time.
  if (LOCAL_STAGES.includes(stage))
    return new PermanentJobError(`${stage}: unusable series: ${message}`, stage);
  // Retrieving and storing talk to the PACS: a socket reset is worth retrying, within the limit.
  return new RetryableJobError(`${stage}: ${message}`, stage);
}

export async function processSeries(ref: SeriesRef, deps: ProcessDeps): Promise<ProcessedSeries> {
  const stageMs = {} as Record<StageName, number>;
  const run = async <T>(stage: StageName, work: () => Promise<T> | T): Promise<T> => {
    const startedAt = new Date();
    const t0 = performance.now();
    let value: T;
    try {
      value = await work();
    } catch (error) {
      const classified = classifyError(error, stage);
      await deps.onStage?.({
        stage,
        startedAt,
        ms: performance.now() - t0,
        error: classified.message,
      });
      throw classified;
    }
    // Recording the stage (the database) is outside the try: its failure is not the stage's.
    stageMs[stage] = performance.now() - t0;
    await deps.onStage?.({ stage, startedAt, ms: stageMs[stage] });
    return value;
  };

  const files = await run('retrieve', () => deps.pacs.retrieveSeries(ref));
  const series = await run('load', async () => {
    // Series arrive as stored (JPEG 2000, JPEG-LS ...): the codecs decode them here.
    const decoders = await codecDecoders();
    const read = (f: readonly DicomFile[]) =>
      readDicomSeries(f, { seriesInstanceUid: ref.seriesInstanceUid, decoders });
    let s: DicomSeries;
    try {
      s = read(files);
    } catch (error) {
      if (!(error instanceof DicomError && error.code === 'UNSUPPORTED_TRANSFER_SYNTAX'))
        throw error;
      // A syntax our codecs don't cover (12-bit JPEG, say): ask the PACS to convert it, as
      // Orthanc can for most; if it can't either, the original, specific error stands.
      const converted = await deps.pacs
        .retrieveSeries(ref, { transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN })
        .catch(() => {
          throw error;
        });
      s = read(converted);
    }
    if (s.source.modality !== 'MR') {
      throw new PermanentJobError(
        `load: series ${ref.seriesInstanceUid} is modality ${s.source.modality}, not an MR (LGE) series`,
        'load',
      );
    }
    return s;
  });

  // segmentStudy runs both networks; its finer stage times are summed into la_model / scar_model.
  const segStart = new Date();
  const t0 = performance.now();
  let laMs = 0;
  // The job stage segmentStudy is in: the LA model's until its last step (la-postprocess) is
  // done. (The time spent is no guide: preparing the LA input counts before the network runs.)
  let current: StageName = 'la_model';
  const { la, scar } = deps.networks.networks;
  const inRuntime = (network: string) => (error: unknown) => {
    throw new InferenceRuntimeError(
      `the ${network} network failed to run: ${error instanceof Error ? error.message : String(error)}`,
    );
  };
  let result: StudySegmentation;
  try {
    result = await segmentStudy(
      series.volume,
      {
        la: (input) => la(input).catch(inRuntime('LA')),
        scar: (input) => scar(input).catch(inRuntime('scar')),
      },
      {
        ...(deps.method ? { method: deps.method } : {}),
        onStage: (e) => {
          if (LA_PIPELINE.includes(e.stage)) laMs += e.ms;
          if (e.stage === 'la-postprocess') current = 'scar_model';
        },
      },
    );
  } catch (error) {
    const stage = current;
    const classified = classifyError(error, stage);
    await deps.onStage?.({
      stage,
      startedAt: segStart,
      ms: performance.now() - t0,
      error: classified.message,
    });
    throw classified;
  }
  const totalMs = performance.now() - t0;
  stageMs.la_model = laMs;
  stageMs.scar_model = totalMs - laMs;
  await deps.onStage?.({ stage: 'la_model', startedAt: segStart, ms: laMs });
  await deps.onStage?.({
    stage: 'scar_model',
    startedAt: new Date(segStart.getTime() + laMs),
    ms: stageMs.scar_model,
  });

  // Quality control (core quality-control.ts): the flags go with the result, its reasons in the SR.
  const qcFlags = result.qc.flags.map(formatQcFlag);
  const reviewReasons = result.qc.flags.map((f) => f.reason);
  const noLa = result.qc.flags.some((f) => f.code === 'no-la');
  const model = { name: ALGORITHM_NAME, version: deps.modelVersion };
  const uids = segmentationContentUids(series.source, { la: result.la, scar: result.scar }, model);
  const notice = deps.networks.synthetic
    ? 'Models trained on SYNTHETIC phantoms only: NOT for clinical use.'
    : 'Research use only: not a medical device.';
  const report: ReportContent = {
    // Only what the report references: no pixel data, no file paths.
    source: {
      identity: series.source.identity,
      seriesInstanceUid: series.source.seriesInstanceUid,
      modality: series.source.modality,
      ...(series.source.frameOfReferenceUid
        ? { frameOfReferenceUid: series.source.frameOfReferenceUid }
        : {}),
      slices: series.source.slices.map((sl) => ({
        sopClassUid: sl.sopClassUid,
        sopInstanceUid: sl.sopInstanceUid,
      })),
    },
    segmentation: {
      seriesInstanceUid: uids.seriesInstanceUid,
      sopInstanceUid: uids.sopInstanceUid,
    },
    model,
    measurements: {
      laVolumeMl: result.quantification.laVolumeMl,
      scarVolumeMl: result.quantification.scarVolumeMl,
      wallVolumeMl: result.quantification.wallVolumeMl,
      scarBurdenPercent: result.quantification.scarBurdenPercent,
      burdenMethod: result.quantification.burdenMethod,
      wallDefinition: result.quantification.wallDefinition,
      stages: result.quantification.stages.map((st) => ({ scheme: st.scheme, stage: st.stage })),
    },
    needsReview: result.qc.needsReview,
    reviewReasons,
    notice,
  };
  const segUid = noLa ? null : uids.seriesInstanceUid; // no LA: no SEG is stored
  const measurement = measurementOf(series, result, deps, segUid, notice, qcFlags);
  if (noLa) {
    // Nothing to report: no empty SEG and no SR go to the PACS; the flagged result row says why.
    return {
      source: series.source,
      outcome: `completed without a result: no LA cavity found in this series, so no SEG or SR was stored (flagged for review)`,
      segStored: false,
      measurement,
      overlays: [],
      stageMs,
      instances: files.length,
    };
  }
  const srUids = reportContentUids(series.source, report, model);
  const { seg, sr, overlays } = await run('write', () => ({
    seg: writeSegmentation(series.source, { la: result.la, scar: result.scar }, model, { uids }),
    sr: writeMeasurementReport(
      { ...report, verification: { state: 'UNVERIFIED' } },
      { uids: srUids },
    ).bytes,
    overlays: keySliceOverlays(series.volume as Volume, result.la, result.scar),
  }));
  const studyUid = series.source.identity.studyInstanceUid;
  const segStored = await run('store', async () => {
    await deps.beforeStore?.([
      { kind: 'SEG', studyInstanceUid: studyUid, ...pick(uids) },
      { kind: 'SR', studyInstanceUid: studyUid, ...pick(srUids) },
    ]);
    // A SEG (or SR) with these UIDs is already there when an earlier attempt (or an identical
    // run) stored it: the UIDs name the content, so skipping keeps one of each and changes nothing.
    const existing = new Set(
      (await deps.pacs.searchSeries({ StudyInstanceUID: studyUid })).map(
        (s) => s.seriesInstanceUid,
      ),
    );
    const missing = [
      ...(existing.has(uids.seriesInstanceUid) ? [] : [seg]),
      ...(existing.has(srUids.seriesInstanceUid) ? [] : [sr]),
    ];
    if (missing.length > 0) await deps.pacs.storeInstances(studyUid, missing);
    return !existing.has(uids.seriesInstanceUid);
  });

  return {
    source: series.source,
    segSeriesInstanceUid: uids.seriesInstanceUid,
    segSopInstanceUid: uids.sopInstanceUid,
    srSeriesInstanceUid: srUids.seriesInstanceUid,
    srSopInstanceUid: srUids.sopInstanceUid,
    report,
    segStored,
    measurement,
    overlays,
    stageMs,
    instances: files.length,
  };
}

/** The result row (Measurement) of one segmented series, with its QC flags and provenance. */
function measurementOf(
  series: { readonly volume: Volume<VoxelArray> },
  result: StudySegmentation,
  deps: ProcessDeps,
  segSeriesInstanceUid: string | null,
  notice: string,
  qcFlags: readonly string[],
): MeasurementData {
  const q = result.quantification;
  const stageOf = (prefix: string) =>
    q.stages.find((s) => s.scheme.startsWith(prefix))?.stage ?? null;
  const manifests = deps.networks.manifests;
  const describe = (m: typeof manifests.la) => ({
    architecture: m.architecture,
    width: m.width,
    sha256: m.sha256,
    trainingData: m.training_data.summary,
    synthetic: Boolean(m.training_data.synthetic),
    exported: m.exported,
  });
  return {
    laVolumeMl: q.laVolumeMl,
    scarVolumeMl: q.scarVolumeMl,
    wallVolumeMl: q.wallVolumeMl,
    scarBurdenPercent: q.scarBurdenPercent,
    scarInShellMl: q.scarInShellVolumeMl,
    scarInCavityMl: q.scarInCavityVolumeMl,
    burdenMethod: q.burdenMethod,
    wallDefinition: q.wallDefinition,
    utahStage: stageOf('Utah'),
    decaafStage: stageOf('DECAAF'),
    modelVersion: deps.modelVersion,
    syntheticTraining: deps.networks.synthetic,
    executionProvider: deps.networks.executionProvider,
    provenance: {
      algorithm: ALGORITHM_NAME,
      scope: SCOPE,
      notice,
      models: { la: describe(manifests.la), scar: describe(manifests.scar) },
      stages: q.stages,
      // The burden's parts (quantify.ts), the settings and the orientation the networks saw.
      burdenParts: {
        scarInWallVolumeMl: q.scarInWallVolumeMl,
        scarInShellVolumeMl: q.scarInShellVolumeMl,
        scarInCavityVolumeMl: q.scarInCavityVolumeMl,
        scarOutsideWallVolumeMl: q.scarOutsideWallVolumeMl,
        wallVolumeMl: q.wallVolumeMl,
      },
      method: result.settings,
      orientation: result.orientation,
      grid: { dims: series.volume.geometry.dims, spacingMm: series.volume.geometry.spacing },
      patchCount: result.patchCount,
      providerFallbacks: deps.networks.providerFallbacks,
      segSeriesInstanceUid,
      qc: { measured: result.qc.measured, limits: result.qc.limits },
    },
    qcFlags,
  };
}

function pick(u: { readonly seriesInstanceUid: string; readonly sopInstanceUid: string }): {
  seriesInstanceUid: string;
  sopInstanceUid: string;
} {
  return { seriesInstanceUid: u.seriesInstanceUid, sopInstanceUid: u.sopInstanceUid };
}
