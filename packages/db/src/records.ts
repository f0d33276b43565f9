/**
 * What the worker writes to its database. Every write is a single statement (upsert or
 * create-if-absent) so that a re-delivered job, two discovery paths seeing one series, or the
 * embedded single-session database never produce duplicates or half-written rows.
 */
import type { Prisma, PrismaClient } from './generated/prisma/client.js';
import type { JobState, StageName } from './generated/prisma/enums.js';

export type { JobState, StageName };

/** The job key: one job per source series and model version. */
export function jobKeyOf(seriesInstanceUid: string, modelVersion: string): string {
  return `${seriesInstanceUid}@${modelVersion}`;
}

/** Who and when, from the series' own DICOM headers (the name is for display, never logged). */
export interface PatientIdentity {
  readonly patientId?: string;
  readonly patientName?: string;
  /** DICOM StudyDate, YYYYMMDD: the date the dashboard's trend is drawn against. */
  readonly studyDate?: string;
  readonly accessionNumber?: string;
}

/** What the database keeps of a series as the PACS describes it (QIDO-RS attributes). */
export interface SeriesRecord {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly patientId?: string;
  readonly modality?: string;
  readonly seriesDescription?: string;
  readonly protocolName?: string;
  readonly numberOfInstances?: number;
}

/** Records (or finds) the patient, study and series; returns the series row id. */
export async function recordSeries(
  prisma: PrismaClient,
  attrs: SeriesRecord,
  patient: PatientIdentity = {},
): Promise<string> {
  const patientId = patient.patientId ?? attrs.patientId;
  const patientRow = patientId
    ? await prisma.patient.upsert({
        where: { patientId },
        create: { patientId, ...(patient.patientName ? { patientName: patient.patientName } : {}) },
        update: patient.patientName ? { patientName: patient.patientName } : {},
        select: { id: true },
      })
    : undefined;
  const studyFields = {
    ...(patientRow ? { patientRef: patientRow.id } : {}),
    ...(patient.studyDate ? { studyDate: patient.studyDate } : {}),
    ...(patient.accessionNumber ? { accessionNumber: patient.accessionNumber } : {}),
  };
  const study = await prisma.study.upsert({
    where: { studyInstanceUid: attrs.studyInstanceUid },
    create: { studyInstanceUid: attrs.studyInstanceUid, ...studyFields },
    update: studyFields,
    select: { id: true },
  });
  const fields = {
    ...(attrs.modality !== undefined ? { modality: attrs.modality } : {}),
    ...(attrs.seriesDescription !== undefined
      ? { seriesDescription: attrs.seriesDescription }
      : {}),
    ...(attrs.protocolName !== undefined ? { protocolName: attrs.protocolName } : {}),
    ...(attrs.numberOfInstances !== undefined
      ? { numberOfInstances: attrs.numberOfInstances }
      : {}),
  };
  const series = await prisma.series.upsert({
    where: { seriesInstanceUid: attrs.seriesInstanceUid },
    create: { seriesInstanceUid: attrs.seriesInstanceUid, studyRef: study.id, ...fields },
    update: fields,
    select: { id: true },
  });
  return series.id;
}

export async function recordDecision(
  prisma: PrismaClient,
  seriesRef: string,
  decision: { readonly selected: boolean; readonly reason: string },
  source: string,
): Promise<void> {
  await prisma.selectionDecision.create({
    data: { seriesRef, selected: decision.selected, reason: decision.reason, source },
  });
}

export interface JobRow {
  readonly id: string;
  readonly jobKey: string;
  readonly state: JobState;
}

/** Creates the job for (series, model version) unless it exists; `created` says which. */
export async function ensureJob(
  prisma: PrismaClient,
  seriesRef: string,
  seriesInstanceUid: string,
  modelVersion: string,
  queueJobId: string,
): Promise<{ job: JobRow; created: boolean }> {
  const jobKey = jobKeyOf(seriesInstanceUid, modelVersion);
  const { count } = await prisma.job.createMany({
    data: [{ jobKey, seriesRef, modelVersion, queueJobId }],
    skipDuplicates: true,
  });
  const job = await prisma.job.findUniqueOrThrow({
    where: { jobKey },
    select: { id: true, jobKey: true, state: true },
  });
  return { job, created: count === 1 };
}

export async function markJob(
  // Also a transaction: the worker writes a job's outcome together with its queue entry.
  prisma: PrismaClient | Prisma.TransactionClient,
  jobKey: string,
  data: {
    state: JobState;
    attempts?: number;
    error?: string | null;
    startedAt?: Date;
    finishedAt?: Date | null;
    segSeriesInstanceUid?: string;
    segSopInstanceUid?: string;
    srSeriesInstanceUid?: string;
    srSopInstanceUid?: string;
  },
): Promise<void> {
  await prisma.job.update({ where: { jobKey }, data });
}

export async function recordStage(
  prisma: PrismaClient,
  jobRef: string,
  attempt: number,
  stage: StageName,
  startedAt: Date,
  durationMs: number,
  error?: string,
): Promise<void> {
  const data = { startedAt, durationMs, error: error ?? null };
  await prisma.jobStage.upsert({
    where: { jobRef_attempt_stage: { jobRef, attempt, stage } },
    create: { jobRef, attempt, stage, ...data },
    update: data,
  });
}

export interface MeasurementData {
  readonly laVolumeMl: number;
  readonly scarVolumeMl: number;
  readonly wallVolumeMl: number;
  readonly scarBurdenPercent: number | null;
  readonly scarInShellMl: number;
  readonly scarInCavityMl: number;
  readonly burdenMethod: string;
  readonly wallDefinition: string;
  readonly utahStage: string | null;
  readonly decaafStage: string | null;
  readonly modelVersion: string;
  readonly syntheticTraining: boolean;
  readonly executionProvider: string;
  readonly provenance: Record<string, unknown>;
  /** The measurement report's content (JSON), for the VERIFIED report at sign-off. */
  readonly report?: object;
  readonly qcFlags?: readonly string[];
}

export interface OverlayData {
  readonly sliceIndex: number;
  readonly width: number;
  readonly height: number;
  readonly png: Uint8Array;
}

/** The job's one result row (upserted by job), with its key-slice pictures. */
export async function saveResult(
  prisma: PrismaClient | Prisma.TransactionClient,
  jobRef: string,
  measurement: MeasurementData,
  overlays: readonly OverlayData[],
): Promise<string> {
  const data = {
    ...measurement,
    provenance: measurement.provenance as object,
    qcFlags: [...(measurement.qcFlags ?? [])],
  };
  const row = await prisma.measurement.upsert({
    where: { jobRef },
    create: { jobRef, ...data },
    update: data,
    select: { id: true },
  });
  for (const o of overlays) {
    const png = new Uint8Array(o.png);
    await prisma.overlayImage.upsert({
      where: { measurementRef_sliceIndex: { measurementRef: row.id, sliceIndex: o.sliceIndex } },
      create: {
        measurementRef: row.id,
        sliceIndex: o.sliceIndex,
        width: o.width,
        height: o.height,
        png,
      },
      update: { width: o.width, height: o.height, png },
    });
  }
  return row.id;
}

/** Reads a discovery cursor (e.g. Orthanc's last change sequence number). */
export async function readCursor(prisma: PrismaClient, name: string): Promise<string | undefined> {
  const row = await prisma.discoveryCursor.findUnique({ where: { name } });
  return row?.value;
}

export async function writeCursor(
  prisma: PrismaClient,
  name: string,
  value: string,
): Promise<void> {
  await prisma.discoveryCursor.upsert({
    where: { name },
    create: { name, value },
    update: { value },
  });
}
