/**
 * Series that change under the worker: a job is for one instance set (its fingerprint, read by
 * QIDO-RS at intake). A job whose retrieve returns another set stops and leaves the series to a
 * new job; a gap or a single slice (a slice still on its way) and a changed series are looked at
 * again after a quiet period; SEG/SR objects a newer result replaced are deleted where the PACS
 * allows it (Orthanc's REST API), else kept and listed as retired.
 */
import type { DicomErrorCode, DicomFile } from '@lascar/core';
import {
  instanceFingerprint,
  moveStoredObjects,
  retiredStoredObjects,
  type PrismaClient,
} from '@lascar/db';
import {
  deleteOrthancInstance,
  sopInstanceUidOfPart10,
  type OrthancRest,
  type RetrieveOptions,
  type PacsClient,
  type SeriesCandidate,
  type SeriesRef,
} from '@lascar/pacs';
import { RECHECK_ROUNDS, sendRecheck, type RecheckData } from '@lascar/queue';
import type PgBoss from 'pg-boss';
import type { Logger } from './log.js';
import { PermanentJobError } from './process-series.js';

/** DICOM problems a late instance can cure: looked at again after the quiet period. */
export const RECHECKED_DICOM_CODES: readonly DicomErrorCode[] = [
  'IRREGULAR_SPACING',
  'SINGLE_SLICE',
];

/** The series' instances are not the ones its job was made for: a newer job takes over. */
export class SeriesChangedError extends PermanentJobError {
  override name = 'SeriesChangedError';
  constructor(
    readonly expected: { readonly fingerprint: string; readonly count: number | null },
    readonly found: { readonly fingerprint: string; readonly count: number },
  ) {
    super(
      `retrieve: the series changed since this job was made (${found.count} instances, expected ${expected.count ?? 'another set'}); a job for its new instance set takes over`,
      'retrieve',
    );
  }
}

/**
 * The PACS as a job for one instance set sees it: retrieving a different set throws
 * SeriesChangedError (before any computing on it). No fingerprint: any set is accepted.
 */
export function forInstanceSet(
  pacs: PacsClient,
  expected: { readonly fingerprint: string | null; readonly count: number | null },
): PacsClient {
  const { fingerprint } = expected;
  if (!fingerprint) return pacs;
  return {
    ping: () => pacs.ping(),
    seriesAttributes: (ref) => pacs.seriesAttributes(ref),
    listInstanceUids: (ref) => pacs.listInstanceUids(ref),
    storeInstances: (study, instances) => pacs.storeInstances(study, instances),
    searchSeries: (filter) => pacs.searchSeries(filter),
    async retrieveSeries(ref: SeriesRef, options?: RetrieveOptions): Promise<DicomFile[]> {
      const files = await pacs.retrieveSeries(ref, options);
      const found = instanceFingerprint(files.map((f) => sopInstanceUidOfPart10(f.bytes)));
      if (found !== fingerprint) {
        throw new SeriesChangedError(
          { fingerprint, count: expected.count },
          { fingerprint: found, count: files.length },
        );
      }
      return files;
    },
  };
}

/** Whether a failed job's series is worth a second look after the quiet period. */
export function worthRechecking(error: unknown): boolean {
  if (error instanceof SeriesChangedError) return true;
  return (
    error instanceof PermanentJobError &&
    error.dicomCode !== undefined &&
    RECHECKED_DICOM_CODES.includes(error.dicomCode)
  );
}

export interface RecheckDeps {
  readonly pacs: PacsClient;
  readonly boss: PgBoss;
  readonly log: Logger;
  /** Feeds the series through intake (which makes the job for a new instance set). */
  readonly intake: (candidate: SeriesCandidate) => Promise<unknown>;
}

/**
 * One recheck round: a different instance set goes through intake (a new job, which supersedes
 * the old result when it completes); the same set waits for the next round, twice as long.
 */
export async function runRecheck(
  data: RecheckData,
  deps: RecheckDeps,
): Promise<'changed' | 'unchanged' | 'gone'> {
  const ref = {
    studyInstanceUid: data.studyInstanceUid,
    seriesInstanceUid: data.seriesInstanceUid,
  };
  const log = deps.log.child({ ...ref, round: data.round });
  const uids = await deps.pacs.listInstanceUids(ref);
  if (uids.length === 0) {
    log.info('recheck: the series is no longer in the PACS');
    return 'gone';
  }
  if (data.fingerprint && instanceFingerprint(uids) === data.fingerprint) {
    const next = await sendRecheck(deps.boss, { ...data, round: data.round + 1 });
    log.info(
      { instances: uids.length, nextRound: next ? data.round + 1 : null, rounds: RECHECK_ROUNDS },
      'recheck: the series has not changed',
    );
    return 'unchanged';
  }
  log.info({ instances: uids.length }, 'recheck: the series changed; it goes through intake');
  await deps.intake({ series: ref, source: 'recheck', seenAt: new Date() });
  return 'changed';
}

/**
 * Deletes retired SEG/SR objects from Orthanc (REST API) and marks them deleted. With a generic
 * DICOMweb PACS (no `orthanc`) nothing is deleted: retired objects stay in the PACS, listed as
 * retired. An object another job still names as pending or current is not deleted from the PACS.
 */
export async function deleteRetiredObjects(
  prisma: PrismaClient,
  orthanc: OrthancRest | undefined,
  log: Logger,
): Promise<number> {
  if (!orthanc) return 0;
  let deleted = 0;
  for (const o of await retiredStoredObjects(prisma)) {
    const stillShown = await prisma.storedObject.count({
      where: { sopInstanceUid: o.sopInstanceUid, state: { in: ['pending', 'current'] } },
    });
    if (stillShown === 0) await deleteOrthancInstance(orthanc, o.sopInstanceUid);
    await moveStoredObjects(prisma, { ids: [o.id] }, 'deleted');
    deleted++;
    log.info(
      { kind: o.kind, seriesInstanceUid: o.seriesInstanceUid, sopInstanceUid: o.sopInstanceUid },
      'superseded object deleted from Orthanc',
    );
  }
  return deleted;
}
