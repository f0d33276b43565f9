/**
 * Where every discovered series enters (webhook, Orthanc change feed, QIDO poll, manual):
 * its attributes are read from the PACS, the selection rules decide, the decision is recorded
 * with its reason, and a selected series gets its job: one per series, model version and
 * instance set (the fingerprint of its SOP Instance UIDs, listed by QIDO-RS). A series seen again
 * with other instances (a late or missing slice arrived) gets a new job; older jobs that have not
 * run, or failed, are superseded by it at once, and a completed one when the new one completes.
 */
import { selectSeries, type SelectionRules } from '@lascar/core';
import type PgBoss from 'pg-boss';
import {
  ensureJob,
  instanceFingerprint,
  jobKeyOf,
  recordDecision,
  recordSeries,
  supersedeOlderJobs,
} from '@lascar/db';
import type { PrismaClient } from '@lascar/db';
import { withKnownPhi, type Logger } from './log.js';
import type { PacsClient, SeriesAttributes, SeriesCandidate } from '@lascar/pacs';
import { queueJobId, sendSegmentJob } from './queue.js';

export interface IntakeDeps {
  readonly prisma: PrismaClient;
  readonly pacs: PacsClient;
  readonly boss: PgBoss;
  readonly rules: SelectionRules;
  readonly modelVersion: string;
  readonly log: Logger;
}

export interface IntakeResult {
  readonly seriesInstanceUid: string;
  readonly selected: boolean;
  readonly reason: string;
  /** Set for a selected series. */
  readonly jobKey?: string;
  /** True when this call created the job (false: it already existed). */
  readonly jobCreated?: boolean;
  /** Jobs of earlier instance sets this call superseded (queued, retrying or failed ones). */
  readonly superseded?: number;
}

export async function intakeSeries(
  candidate: SeriesCandidate,
  deps: IntakeDeps,
): Promise<IntakeResult> {
  const { series } = candidate;
  // The PACS's own answer is the reference (a webhook body is only a hint); the candidate fills gaps.
  const fromPacs = await deps.pacs.seriesAttributes(series);
  const attrs: SeriesAttributes = {
    ...dropUndefined(series),
    ...dropUndefined(fromPacs),
    studyInstanceUid: fromPacs.studyInstanceUid,
    seriesInstanceUid: fromPacs.seriesInstanceUid,
  };
  const decision = selectSeries(attrs, deps.rules);
  // The accession now, not only after a successful run: a failed job must show it too.
  const seriesRef = await recordSeries(
    deps.prisma,
    attrs,
    attrs.accessionNumber ? { accessionNumber: attrs.accessionNumber } : {},
  );
  await recordDecision(deps.prisma, seriesRef, decision, candidate.source);
  // The reason quotes the series' free text (its description), which can name the patient.
  const log = withKnownPhi(
    deps.log.child({
      studyInstanceUid: attrs.studyInstanceUid,
      seriesInstanceUid: attrs.seriesInstanceUid,
      source: candidate.source,
    }),
    {
      ...(attrs.patientId ? { patientId: attrs.patientId } : {}),
      ...(attrs.accessionNumber ? { accessionNumber: attrs.accessionNumber } : {}),
    },
  );
  if (!decision.selected) {
    log.info({ selected: false, reason: decision.reason }, 'series not selected');
    return { seriesInstanceUid: attrs.seriesInstanceUid, selected: false, reason: decision.reason };
  }
  const uids = await deps.pacs.listInstanceUids(attrs);
  const instances = { fingerprint: instanceFingerprint(uids), count: uids.length };
  const jobKey = jobKeyOf(attrs.seriesInstanceUid, deps.modelVersion, instances.fingerprint);
  const { job, created } = await ensureJob(
    deps.prisma,
    seriesRef,
    attrs.seriesInstanceUid,
    deps.modelVersion,
    queueJobId(jobKey),
    instances,
  );
  // Older instance sets' jobs that have not run (or failed, e.g. for the gap this set fills)
  // will not: this one replaces them. A completed one stays current until this one completes.
  const superseded = created
    ? (await supersedeOlderJobs(deps.prisma, job.id, ['queued', 'retrying', 'failed'])).length
    : 0;
  // Sent again while the job is still waiting: covers a crash between the row and the send;
  // the queue id is derived from the key, so pg-boss keeps one.
  if (job.state === 'queued') {
    await sendSegmentJob(deps.boss, {
      jobKey,
      studyInstanceUid: attrs.studyInstanceUid,
      seriesInstanceUid: attrs.seriesInstanceUid,
      modelVersion: deps.modelVersion,
    });
  }
  log.info(
    {
      selected: true,
      reason: decision.reason,
      jobKey,
      jobCreated: created,
      instances: instances.count,
      superseded,
    },
    'series selected',
  );
  return {
    seriesInstanceUid: attrs.seriesInstanceUid,
    selected: true,
    reason: decision.reason,
    jobKey,
    jobCreated: created,
    superseded,
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
