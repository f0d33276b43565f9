import type { ReactNode } from 'react';
import { jobDetail, STAGE_ORDER } from '@lascar/db';
import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { FailureClassBadge, JobStateBadge } from '@/components/job-state';
import { ActionButton, AutoRefresh } from '@/components/operations';
import { Card, CardTitle, Facts, Table, Td, Th, buttonClass } from '@/components/ui';
import { dateTime, duration } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { viewerUrl } from '@/server/pacs';
import { requireRole } from '@/server/session';
import { cancelJobAction, retryJobAction } from '../../actions';

export const metadata: Metadata = { title: 'Job' };

export default async function JobPage({ params }: { params: Promise<{ id: string }> }) {
  const admin = await requireRole('admin');
  const { id } = await params;
  const job = await jobDetail(await prisma(), id);
  if (!job) {
    await audit(admin, { action: 'job.view', outcome: 'failed', detail: 'no such job' });
    notFound();
  }
  await audit(admin, {
    action: 'job.view',
    outcome: 'ok',
    detail: `job ${job.id}`,
    studyRef: job.studyRef,
    ...(job.patientRef ? { patientRef: job.patientRef } : {}),
  });
  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <p className="text-sm">
            <Link href="/admin/jobs" className="text-primary underline-offset-2 hover:underline">
              Jobs
            </Link>
          </p>
          <h1 className="text-2xl font-semibold">
            Job: {job.seriesDescription ?? job.seriesInstanceUid}
          </h1>
        </div>
        <AutoRefresh seconds={5} />
      </div>
      <Card>
        <div className="mb-4 flex flex-wrap items-center gap-3">
          <JobStateBadge state={job.state} />
          <FailureClassBadge value={job.failureClass} />
        </div>
        {job.error && (
          <p className="mb-4 text-sm break-words text-danger" data-testid="job-error">
            {job.error}
          </p>
        )}
        <Facts
          items={[
            ['Accession', job.accessionNumber ?? '–'],
            [
              'StudyInstanceUID',
              <span className="font-mono text-xs break-all">{job.studyInstanceUid}</span>,
            ],
            [
              'SeriesInstanceUID',
              <span className="font-mono text-xs break-all">{job.seriesInstanceUid}</span>,
            ],
            ['Discovered by', job.discoveredBy ?? '–'],
            ['Model version', <span className="font-mono text-xs">{job.modelVersion}</span>],
            ['Attempts', job.attempts],
            ['Instances', job.instanceCount ?? '–'],
            ...(job.supersededById
              ? ([
                  [
                    'Superseded by',
                    <Link
                      href={`/admin/jobs/${job.supersededById}`}
                      className="font-mono text-xs underline-offset-2 hover:underline"
                      data-testid="superseded-by"
                    >
                      {job.supersededById}
                    </Link>,
                  ],
                ] as [string, ReactNode][])
              : []),
            ['Queued', dateTime(job.queuedAt)],
            ['Started', dateTime(job.startedAt)],
            ['Finished', dateTime(job.finishedAt)],
            [
              'SEG series',
              <span className="font-mono text-xs break-all">
                {job.segSeriesInstanceUid ?? '–'}
              </span>,
            ],
            [
              'SR series',
              <span className="font-mono text-xs break-all">{job.srSeriesInstanceUid ?? '–'}</span>,
            ],
            ...(job.storedObjects.length > 0
              ? ([
                  [
                    'Stored objects',
                    <ul className="space-y-1" data-testid="stored-objects">
                      {job.storedObjects.map((o) => (
                        <li key={o.sopInstanceUid} className="font-mono text-xs break-all">
                          {o.kind} {o.state}
                          {o.kept ? ` (${o.kept})` : ''}: {o.sopInstanceUid}
                        </li>
                      ))}
                    </ul>,
                  ],
                ] as [string, ReactNode][])
              : []),
          ]}
        />
        <div className="mt-4 flex flex-wrap gap-3">
          <Link href={`/studies/${job.studyRef}`} className={buttonClass('secondary')}>
            Study page
          </Link>
          <a
            href={viewerUrl(job.studyInstanceUid, job.segSeriesInstanceUid)}
            className={buttonClass('secondary')}
            rel="noreferrer"
            target="_blank"
          >
            Open in viewer{job.segSeriesInstanceUid ? ' (with SEG and SR)' : ''}
          </a>
          {(job.state === 'failed' || job.state === 'completed') && (
            <ActionButton
              action={retryJobAction}
              fields={{ jobId: job.id }}
              label="Retry"
              testId="retry-job"
            />
          )}
          {(job.state === 'queued' || job.state === 'retrying') && (
            <ActionButton
              action={cancelJobAction}
              fields={{ jobId: job.id }}
              label="Cancel"
              variant="danger"
              testId="cancel-job"
            />
          )}
        </div>
      </Card>
      <section className="space-y-4" aria-labelledby="timeline">
        <h2 id="timeline" className="text-lg font-semibold">
          Stage timeline
        </h2>
        {job.attemptsRecorded.length === 0 && (
          <p className="text-sm text-muted-foreground">No stage has run yet.</p>
        )}
        {job.attemptsRecorded.map((a) => (
          <Table key={a.attempt} data-testid="attempt">
            <caption className="px-3 py-2 text-left text-sm font-semibold">
              Attempt {a.attempt}
              {a.error ? ': failed' : ''}
            </caption>
            <thead>
              <tr>
                <Th>Stage</Th>
                <Th>Started</Th>
                <Th className="text-right">Duration</Th>
                <Th>Error</Th>
              </tr>
            </thead>
            <tbody>
              {STAGE_ORDER.map((name) => {
                const s = a.stages.find((x) => x.stage === name);
                return (
                  <tr key={name}>
                    <Td>{name}</Td>
                    <Td className="text-xs">{s ? dateTime(s.startedAt) : 'not reached'}</Td>
                    <Td className="text-right tabular-nums">{duration(s?.durationMs)}</Td>
                    <Td className="text-xs break-words text-danger">{s?.error ?? ''}</Td>
                  </tr>
                );
              })}
            </tbody>
          </Table>
        ))}
      </section>
      <Card>
        <CardTitle>Selection decisions for this series</CardTitle>
        <ul className="space-y-1 text-sm">
          {job.decisions.map((d, i) => (
            <li key={i}>
              {dateTime(d.decidedAt)} · {d.source} · {d.reason}
            </li>
          ))}
        </ul>
      </Card>
    </div>
  );
}
