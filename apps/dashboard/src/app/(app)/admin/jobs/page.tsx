import { JOB_STATES, listJobs } from '@lascar/db';
import type { Metadata } from 'next';
import Link from 'next/link';
import { JobStateBadge } from '@/components/job-state';
import { ActionButton, AutoRefresh } from '@/components/operations';
import { Table, Td, Th } from '@/components/ui';
import { FilterBar } from '@/components/filter-bar';
import { Pager } from '@/components/pager';
import { dateTime, duration } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';
import { cancelJobAction, retryFailedAction, retryJobAction } from '../actions';
import { filterParams, jobFilterOf, type JobSearchParams } from './filter';

export const metadata: Metadata = { title: 'Jobs' };

const PAGE_SIZE = 25;

export default async function JobsPage({
  searchParams,
}: {
  searchParams: Promise<JobSearchParams>;
}) {
  const admin = await requireRole('admin');
  const params = await searchParams;
  const filter = jobFilterOf(params);
  const page = Math.max(1, Number.parseInt(params.page ?? '1', 10) || 1);
  const result = await listJobs(await prisma(), { ...filter, page, pageSize: PAGE_SIZE });
  await audit(admin, {
    action: 'jobs.view',
    outcome: 'ok',
    detail: `page ${result.page}, ${result.rows.length} of ${result.total}${filter.q ? ', searched' : ''}`,
  });
  const kept = filterParams(params);
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const href = (p: number) => `/admin/jobs?${new URLSearchParams({ ...kept, page: String(p) })}`;
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Jobs</h1>
          <p className="text-sm text-muted-foreground">
            Every segmentation job the worker queued, newest first. {result.total} match.
          </p>
        </div>
        <AutoRefresh seconds={5} />
      </div>
      <FilterBar
        action="/admin/jobs"
        fields={[
          {
            kind: 'select',
            name: 'state',
            label: 'State',
            value: params.state,
            options: JOB_STATES,
          },
          { kind: 'date', name: 'from', label: 'Queued from', value: params.from },
          { kind: 'date', name: 'to', label: 'to', value: params.to },
          {
            kind: 'text',
            name: 'q',
            label: 'UID, accession or patient ID',
            value: params.q,
            width: 'w-80',
          },
        ]}
      />
      <div className="flex items-center gap-3">
        <ActionButton
          action={retryFailedAction}
          fields={kept}
          label="Retry all failed jobs of this filter"
          testId="retry-all-failed"
        />
      </div>
      <Table data-testid="jobs-table">
        <caption className="sr-only">Jobs, newest first</caption>
        <thead>
          <tr>
            <Th>State</Th>
            <Th>Study / series</Th>
            <Th>Discovered by</Th>
            <Th className="text-right">Attempts</Th>
            <Th>Stages (last attempt)</Th>
            <Th>Error</Th>
            <Th>Model</Th>
            <Th>Queued / started / finished</Th>
            <Th>
              <span className="sr-only">Actions</span>
            </Th>
          </tr>
        </thead>
        <tbody>
          {result.rows.length === 0 && (
            <tr>
              <Td colSpan={9} className="py-8 text-center text-muted-foreground">
                No job matches.
              </Td>
            </tr>
          )}
          {result.rows.map((j) => (
            <tr key={j.id} data-job-row={j.id} data-series-uid={j.seriesInstanceUid}>
              <Td>
                <JobStateBadge state={j.state} />
              </Td>
              <Td className="min-w-52">
                <Link
                  href={`/admin/jobs/${j.id}`}
                  className="font-medium text-primary underline-offset-2 hover:underline"
                >
                  {j.seriesDescription ?? 'series'}
                </Link>
                <div className="text-xs text-muted-foreground">
                  Accession {j.accessionNumber ?? '–'}
                </div>
                <div className="font-mono text-xs break-all text-muted-foreground">
                  <div title="StudyInstanceUID">{j.studyInstanceUid}</div>
                  <div title="SeriesInstanceUID">{j.seriesInstanceUid}</div>
                </div>
              </Td>
              <Td>{j.discoveredBy ?? '–'}</Td>
              <Td className="text-right tabular-nums" data-testid="job-attempts">
                {j.attempts}
              </Td>
              <Td className="text-xs">
                {j.stages.length === 0
                  ? '–'
                  : j.stages.map((s) => (
                      <div
                        key={s.stage}
                        className={s.error ? 'whitespace-nowrap text-danger' : 'whitespace-nowrap'}
                      >
                        {s.stage} {duration(s.durationMs)}
                        {s.error ? ' ✗' : ''}
                      </div>
                    ))}
              </Td>
              <Td className="min-w-56 text-xs">
                {/* The full text is on the job's page; four lines are enough to tell errors apart. */}
                <div
                  className="line-clamp-4 break-words"
                  title={j.error ?? undefined}
                  data-testid="job-error"
                >
                  {j.error ?? ''}
                </div>
              </Td>
              <Td className="max-w-28 font-mono text-xs break-all">{j.modelVersion}</Td>
              <Td className="text-xs whitespace-nowrap">
                <div>{dateTime(j.queuedAt)}</div>
                <div>{dateTime(j.startedAt)}</div>
                <div>{dateTime(j.finishedAt)}</div>
              </Td>
              <Td>
                {(j.state === 'failed' || j.state === 'completed') && (
                  <ActionButton
                    action={retryJobAction}
                    fields={{ jobId: j.id }}
                    label="Retry"
                    testId="retry-job"
                  />
                )}
                {(j.state === 'queued' || j.state === 'retrying') && (
                  <ActionButton
                    action={cancelJobAction}
                    fields={{ jobId: j.id }}
                    label="Cancel"
                    variant="danger"
                    testId="cancel-job"
                  />
                )}
              </Td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Pager page={result.page} pages={pages} href={href} />
    </div>
  );
}
