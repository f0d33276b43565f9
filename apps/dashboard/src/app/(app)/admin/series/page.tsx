import { listDecisions } from '@lascar/db';
import type { Metadata } from 'next';
import Link from 'next/link';
import { JobStateBadge } from '@/components/job-state';
import { ActionButton, AutoRefresh } from '@/components/operations';
import { Badge, Table, Td, Th } from '@/components/ui';
import { FilterBar } from '@/components/filter-bar';
import { Pager } from '@/components/pager';
import { dateTime } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';
import { processAnywayAction } from '../actions';

export const metadata: Metadata = { title: 'Series' };

const PAGE_SIZE = 25;

export default async function SeriesPage({
  searchParams,
}: {
  searchParams: Promise<{ decision?: string; q?: string; page?: string }>;
}) {
  const admin = await requireRole('admin');
  const params = await searchParams;
  const selected =
    params.decision === 'selected' ? true : params.decision === 'skipped' ? false : undefined;
  const q = params.q?.trim().slice(0, 200) ?? '';
  const page = Math.max(1, Number.parseInt(params.page ?? '1', 10) || 1);
  const result = await listDecisions(await prisma(), {
    ...(selected !== undefined ? { selected } : {}),
    ...(q ? { q } : {}),
    page,
    pageSize: PAGE_SIZE,
  });
  await audit(admin, {
    action: 'series.view',
    outcome: 'ok',
    detail: `page ${result.page}, ${result.rows.length} of ${result.total}`,
  });
  const kept = Object.fromEntries(
    Object.entries({ decision: params.decision ?? '', q }).filter(([, v]) => v !== ''),
  );
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const href = (p: number) => `/admin/series?${new URLSearchParams({ ...kept, page: String(p) })}`;
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Series</h1>
          <p className="text-sm text-muted-foreground">
            Every selection decision the worker (or an admin) took, with its rule. Why was a series
            not processed? Its reason is here.
          </p>
        </div>
        <AutoRefresh seconds={5} />
      </div>
      <FilterBar
        action="/admin/series"
        fields={[
          {
            kind: 'select',
            name: 'decision',
            label: 'Decision',
            value: params.decision,
            options: ['selected', 'skipped'],
          },
          {
            kind: 'text',
            name: 'q',
            label: 'Reason, description, UID or accession',
            value: q,
            width: 'w-80',
          },
        ]}
      />
      <Table data-testid="decisions-table">
        <caption className="sr-only">Selection decisions, newest first</caption>
        <thead>
          <tr>
            <Th>Decided</Th>
            <Th>Series</Th>
            <Th>Decision</Th>
            <Th>Rule / reason</Th>
            <Th>Source</Th>
            <Th>Job</Th>
            <Th>
              <span className="sr-only">Actions</span>
            </Th>
          </tr>
        </thead>
        <tbody>
          {result.rows.length === 0 && (
            <tr>
              <Td colSpan={7} className="py-8 text-center text-muted-foreground">
                No decision matches.
              </Td>
            </tr>
          )}
          {result.rows.map((d) => (
            <tr key={d.id} data-decision-row={d.id} data-series-uid={d.seriesInstanceUid}>
              <Td className="text-xs whitespace-nowrap">{dateTime(d.decidedAt)}</Td>
              <Td className="max-w-xs">
                <div className="font-medium">
                  {d.seriesDescription ?? '–'}{' '}
                  <span className="text-muted-foreground">{d.modality}</span>
                </div>
                <div className="text-xs text-muted-foreground">
                  Accession {d.accessionNumber ?? '–'}
                </div>
                <div className="font-mono text-xs break-all text-muted-foreground">
                  {d.seriesInstanceUid}
                </div>
              </Td>
              <Td>
                {d.selected ? (
                  <Badge tone="success">selected</Badge>
                ) : (
                  <Badge tone="warning">skipped</Badge>
                )}
              </Td>
              <Td className="max-w-sm text-sm break-words" data-testid="decision-reason">
                {d.reason}
              </Td>
              <Td>{d.source}</Td>
              <Td>
                {d.jobId && d.jobState ? (
                  <Link
                    href={`/admin/jobs/${d.jobId}`}
                    aria-label={`Job of ${d.seriesInstanceUid}`}
                  >
                    <JobStateBadge state={d.jobState} />
                  </Link>
                ) : (
                  <span className="text-muted-foreground">none</span>
                )}
              </Td>
              <Td>
                {!d.selected && !d.jobId && (
                  <ActionButton
                    action={processAnywayAction}
                    fields={{ seriesRef: d.seriesRef }}
                    label="Process anyway"
                    testId="process-anyway"
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
