/**
 * What the worker writes to its database. Every write is a single statement (upsert or
 * create-if-absent) so that a re-delivered job, two discovery paths seeing one series, or the
 * embedded single-session database never produce duplicates or half-written rows.
 */
import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient } from './generated/prisma/client.js';
import type { JobState, StageName, StoredObjectState } from './generated/prisma/enums.js';

export type { JobState, StageName, StoredObjectState };

/**
 * The fingerprint of a series' instance set: SHA-256 over its SOP Instance UIDs, sorted and
 * de-duplicated (the order QIDO-RS or WADO-RS lists them in means nothing), first 32 hex digits.
 */
export function instanceFingerprint(sopInstanceUids: readonly string[]): string {
  const sorted = [...new Set(sopInstanceUids)].sort();
  return createHash('sha256').update(sorted.join('\n')).digest('hex').slice(0, 32);
}

/**
 * The job key: one job per source series, model version and instance set. Without a
 * fingerprint (a "process anyway" job made where the PACS cannot be asked) the job takes
 * whatever instances the series holds when it runs.
 */
export function jobKeyOf(
  seriesInstanceUid: string,
  modelVersion: string,
  fingerprint?: string,
): string {
  return fingerprint
    ? `${seriesInstanceUid}@${modelVersion}@${fingerprint}`
    : `${seriesInstanceUid}@${modelVersion}`;
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

/** A unique-key violation (Prisma's P2002, or PostgreSQL's 23505 underneath). */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'P2002' || code === '23505';
}

/**
 * An upsert that two workers (or two discovery paths) may run at the same moment. Prisma runs an
 * upsert whose update is empty as find-then-insert, not INSERT ... ON CONFLICT, so the slower one
 * fails on the unique key; run again, it finds the row the other inserted and updates it.
 */
async function racingUpsert<T>(upsert: () => Promise<T>): Promise<T> {
  try {
    return await upsert();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return upsert();
  }
}

/** Records (or finds) the patient, study and series; returns the series row id. */
export async function recordSeries(
  prisma: PrismaClient,
  attrs: SeriesRecord,
  patient: PatientIdentity = {},
): Promise<string> {
  const patientId = patient.patientId ?? attrs.patientId;
  const patientRow = patientId
    ? await racingUpsert(() =>
        prisma.patient.upsert({
          where: { patientId },
          create: {
            patientId,
            ...(patient.patientName ? { patientName: patient.patientName } : {}),
          },
          update: patient.patientName ? { patientName: patient.patientName } : {},
          select: { id: true },
        }),
      )
    : undefined;
  const studyFields = {
    ...(patientRow ? { patientRef: patientRow.id } : {}),
    ...(patient.studyDate ? { studyDate: patient.studyDate } : {}),
    ...(patient.accessionNumber ? { accessionNumber: patient.accessionNumber } : {}),
  };
  const study = await racingUpsert(() =>
    prisma.study.upsert({
      where: { studyInstanceUid: attrs.studyInstanceUid },
      create: { studyInstanceUid: attrs.studyInstanceUid, ...studyFields },
      update: studyFields,
      select: { id: true },
    }),
  );
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
  const series = await racingUpsert(() =>
    prisma.series.upsert({
      where: { seriesInstanceUid: attrs.seriesInstanceUid },
      create: { seriesInstanceUid: attrs.seriesInstanceUid, studyRef: study.id, ...fields },
      update: fields,
      select: { id: true },
    }),
  );
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

/** The instance set a job is for (QIDO-RS at intake). */
export interface InstanceSet {
  readonly fingerprint: string;
  readonly count: number;
}

/**
 * Creates the job for (series, model version, instance set) unless it exists; `created` says
 * which. The key must be jobKeyOf(seriesInstanceUid, modelVersion, instances?.fingerprint).
 */
export async function ensureJob(
  prisma: PrismaClient,
  seriesRef: string,
  seriesInstanceUid: string,
  modelVersion: string,
  queueJobId: string,
  instances?: InstanceSet,
): Promise<{ job: JobRow; created: boolean }> {
  const jobKey = jobKeyOf(seriesInstanceUid, modelVersion, instances?.fingerprint);
  const { count } = await prisma.job.createMany({
    data: [
      {
        jobKey,
        seriesRef,
        modelVersion,
        queueJobId,
        ...(instances
          ? { instanceFingerprint: instances.fingerprint, instanceCount: instances.count }
          : {}),
      },
    ],
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

/**
 * Marks the job's still-open or finished predecessors (same series and model version, created
 * before it, another instance set) superseded by it: a queued one will not run, a running one
 * stops at its next check, a completed one's result leaves the clinical views. Returns their ids.
 */
export async function supersedeOlderJobs(
  prisma: PrismaClient | Prisma.TransactionClient,
  jobId: string,
  states: readonly JobState[] = ['queued', 'retrying', 'completed', 'failed'],
): Promise<string[]> {
  const { others, createdAt } = await otherJobsOfItsSeries(prisma, jobId);
  const older = await prisma.job.findMany({
    where: { ...others, createdAt: { lte: createdAt }, state: { in: [...states] } },
    select: { id: true },
  });
  const ids = older.map((o) => o.id);
  if (ids.length > 0) {
    await prisma.job.updateMany({
      where: { id: { in: ids }, state: { in: [...states] } },
      data: { state: 'superseded', supersededAt: new Date(), supersededById: jobId },
    });
  }
  return ids;
}

/** The other jobs of a job's series and model version (a filter), and when the job was made. */
async function otherJobsOfItsSeries(
  prisma: PrismaClient | Prisma.TransactionClient,
  jobId: string,
): Promise<{ others: Prisma.JobWhereInput; createdAt: Date }> {
  const job = await prisma.job.findUniqueOrThrow({
    where: { id: jobId },
    select: { seriesRef: true, modelVersion: true, createdAt: true },
  });
  return {
    others: { seriesRef: job.seriesRef, modelVersion: job.modelVersion, id: { not: jobId } },
    createdAt: job.createdAt,
  };
}

/** A newer completed job of the same series and model version, if one exists. */
export async function newerCompletedJob(
  prisma: PrismaClient | Prisma.TransactionClient,
  jobId: string,
): Promise<string | undefined> {
  const { others, createdAt } = await otherJobsOfItsSeries(prisma, jobId);
  const newer = await prisma.job.findFirst({
    where: { ...others, createdAt: { gt: createdAt }, state: 'completed' },
    orderBy: { createdAt: 'desc' },
    select: { id: true },
  });
  return newer?.id;
}

// ---------------------------------------------------------------- stored objects (SEG / SR)

/**
 * The registry's only moves: registered before the store (pending), made current with its
 * job's result, retired when a newer result supersedes it (or its job is superseded before it
 * became current), deleted once removed from the PACS. Nothing comes back.
 */
export const STORED_OBJECT_TRANSITIONS: Readonly<
  Record<StoredObjectState, readonly StoredObjectState[]>
> = {
  pending: ['current', 'retired'],
  current: ['retired'],
  retired: ['deleted'],
  deleted: [],
};

export function canMoveStoredObject(from: StoredObjectState, to: StoredObjectState): boolean {
  return from === to || STORED_OBJECT_TRANSITIONS[from].includes(to);
}

/** The states an object may be in to move to `to` (itself included: moves are idempotent). */
function fromStates(to: StoredObjectState): StoredObjectState[] {
  return (Object.keys(STORED_OBJECT_TRANSITIONS) as StoredObjectState[]).filter((from) =>
    canMoveStoredObject(from, to),
  );
}

export interface StoredObjectRef {
  readonly kind: 'SEG' | 'SR';
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
}

/**
 * Registers objects about to be stored (pending), before the store: a crash after the store
 * leaves them named in the database. An object already registered keeps its state (an
 * identical re-run computes the same content-derived UIDs).
 */
export async function registerStoredObjects(
  prisma: PrismaClient | Prisma.TransactionClient,
  jobRef: string,
  objects: readonly StoredObjectRef[],
): Promise<void> {
  await prisma.storedObject.createMany({
    data: objects.map((o) => ({ jobRef, ...o, state: 'pending' as const })),
    skipDuplicates: true,
  });
}

/** Moves the given objects (by SOP Instance UID) to `to` where the transition allows it. */
export async function moveStoredObjects(
  prisma: PrismaClient | Prisma.TransactionClient,
  where: {
    readonly sopInstanceUids?: readonly string[];
    readonly jobRefs?: readonly string[];
    readonly ids?: readonly string[];
  },
  to: StoredObjectState,
): Promise<number> {
  const now = new Date();
  const { count } = await prisma.storedObject.updateMany({
    where: {
      ...(where.ids ? { id: { in: [...where.ids] } } : {}),
      ...(where.sopInstanceUids ? { sopInstanceUid: { in: [...where.sopInstanceUids] } } : {}),
      ...(where.jobRefs ? { jobRef: { in: [...where.jobRefs] } } : {}),
      state: { in: fromStates(to).filter((s) => s !== to) },
    },
    data: {
      state: to,
      ...(to === 'retired' ? { retiredAt: now } : {}),
      ...(to === 'deleted' ? { deletedAt: now } : {}),
    },
  });
  return count;
}

/** Why a retired object stays in the PACS for good, or undefined when it may be deleted. */
export const KEPT_FOR_SIGN_OFF = 'kept: the signed-off (VERIFIED) report refers to it';
// The kept objects, for keptInPacs and retiredStoredObjects' query alike.
const KEPT_KIND = 'SEG';
const KEPT_REVIEW_STATE = 'accepted';
export function keptInPacs(
  kind: string,
  reviewState: string | null | undefined,
): string | undefined {
  return kind === KEPT_KIND && reviewState === KEPT_REVIEW_STATE ? KEPT_FOR_SIGN_OFF : undefined;
}

/**
 * Retired objects still in the PACS that may be deleted where the PACS allows it. A SEG whose
 * result a cardiologist accepted at sign-off is not among them: the VERIFIED report stored at sign-off
 * refers to it, and a signed report must not point at an object that is gone. It stays in the
 * PACS, listed as retired.
 */
export async function retiredStoredObjects(
  prisma: PrismaClient,
  limit = 100,
): Promise<(StoredObjectRef & { id: string })[]> {
  const rows = await prisma.storedObject.findMany({
    where: {
      state: 'retired',
      // Accepted, with its VERIFIED SR stored or still to be stored (recordVerifiedSr).
      NOT: { kind: KEPT_KIND, job: { measurement: { is: { reviewState: KEPT_REVIEW_STATE } } } },
    },
    orderBy: { retiredAt: 'asc' },
    take: limit,
    select: {
      id: true,
      kind: true,
      studyInstanceUid: true,
      seriesInstanceUid: true,
      sopInstanceUid: true,
    },
  });
  return rows.map((r) => ({ ...r, kind: r.kind === 'SR' ? 'SR' : 'SEG' }));
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
