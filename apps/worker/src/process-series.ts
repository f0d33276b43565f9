/**
 * One source series through the whole method: retrieve (WADO-RS) -> load (volume) -> LA model ->
 * scar model -> write (DICOM SEG on the source grid, key-slice pictures) -> store (STOW-RS into
 * the same study). Each stage is timed and reported to `onStage`, with its error if it stops
 * there. Storing is idempotent: the SEG's UIDs are derived from the source series and the model
 * version, and a SEG already in the PACS is not sent again.
 */
import {
  DicomError,
  NetworkOutputError,
  readDicomSeries,
  segmentationUids,
  segmentStudy,
  UnsupportedOrientationError,
  writeSegmentation,
  type MethodSettings,
  type SourceSeries,
  type StageName as PipelineStage,
  type StudySegmentation,
  type Volume,
} from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import type { MeasurementData, OverlayData, StageName } from './db/records.js';
import { keySliceOverlays } from './overlays.js';
import { PacsRequestError, PacsResponseError } from './pacs/errors.js';
import { PacsUnavailableError, type PacsClient, type SeriesRef } from './pacs/types.js';

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
}

export interface ProcessedSeries {
  readonly source: SourceSeries;
  readonly segSeriesInstanceUid: string;
  readonly segSopInstanceUid: string;
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

/** Sorts an error into retryable or permanent, with a message that says where it stopped. */
export function classifyError(
  error: unknown,
  stage: StageName,
): PermanentJobError | RetryableJobError {
  if (error instanceof PermanentJobError || error instanceof RetryableJobError) return error;
  const message = error instanceof Error ? error.message : String(error);
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
    );
  }
  if (error instanceof NetworkOutputError)
    return new PermanentJobError(`${stage}: ${message}`, stage);
  if (error instanceof UnsupportedOrientationError)
    return new PermanentJobError(`${stage}: unsupported series: ${message}`, stage);
  // Anything else (a socket reset, the database restarting): retry, within the retry limit.
  return new RetryableJobError(`${stage}: ${message}`, stage);
}

export async function processSeries(ref: SeriesRef, deps: ProcessDeps): Promise<ProcessedSeries> {
  const stageMs = {} as Record<StageName, number>;
  const run = async <T>(stage: StageName, work: () => Promise<T> | T): Promise<T> => {
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const value = await work();
      stageMs[stage] = performance.now() - t0;
      await deps.onStage?.({ stage, startedAt, ms: stageMs[stage] });
      return value;
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
  };

  const files = await run('retrieve', () => deps.pacs.retrieveSeries(ref));
  const series = await run('load', () => {
    const s = readDicomSeries(files, { seriesInstanceUid: ref.seriesInstanceUid });
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
  let result: StudySegmentation;
  try {
    result = await segmentStudy(series.volume, deps.networks.networks, {
      ...(deps.method ? { method: deps.method } : {}),
      onStage: (e) => {
        if (LA_PIPELINE.includes(e.stage)) laMs += e.ms;
      },
    });
  } catch (error) {
    const stage: StageName = laMs > 0 ? 'scar_model' : 'la_model';
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

  const model = { name: ALGORITHM_NAME, version: deps.modelVersion };
  const { seg, overlays } = await run('write', () => ({
    seg: writeSegmentation(series.source, { la: result.la, scar: result.scar }, model),
    overlays: keySliceOverlays(series.volume as Volume, result.la, result.scar),
  }));
  const uids = segmentationUids(series.source, model);
  const studyUid = series.source.identity.studyInstanceUid;
  const segStored = await run('store', async () => {
    // A SEG with these UIDs is already there when an earlier attempt stored it and then died:
    // STOW would answer 200 and keep the old bytes anyway; skipping it keeps one SEG either way.
    const existing = await deps.pacs.searchSeries({
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: uids.seriesInstanceUid,
    });
    if (existing.some((s) => s.seriesInstanceUid === uids.seriesInstanceUid)) return false;
    await deps.pacs.storeInstances(studyUid, [seg]);
    return true;
  });

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
  const measurement: MeasurementData = {
    laVolumeMl: q.laVolumeMl,
    scarVolumeMl: q.scarVolumeMl,
    wallVolumeMl: q.wallVolumeMl,
    scarBurdenPercent: q.scarBurdenPercent,
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
      notice: deps.networks.synthetic
        ? 'Models trained on SYNTHETIC phantoms only: NOT for clinical use.'
        : 'Research use only: not a medical device.',
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
      segSeriesInstanceUid: uids.seriesInstanceUid,
    },
  };
  return {
    source: series.source,
    segSeriesInstanceUid: uids.seriesInstanceUid,
    segSopInstanceUid: uids.sopInstanceUid,
    segStored,
    measurement,
    overlays,
    stageMs,
    instances: files.length,
  };
}
