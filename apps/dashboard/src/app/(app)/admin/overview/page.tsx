import {
  listWorkers,
  MISSED_BEATS_BEFORE_SILENT,
  operationsOverview,
  type ThroughputBucket,
  type WorkerRow,
} from '@lascar/db';
import type { Metadata } from 'next';
import Link from 'next/link';
import { AutoRefresh } from '@/components/operations';
import { Alert, Badge, Card, CardTitle, Table, Td, Th } from '@/components/ui';
import { dateTime } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';

export const metadata: Metadata = { title: 'Overview' };

function seconds(s: number | null): string {
  if (s == null) return '–';
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

/** Every hour (or day) of the window, the empty ones at zero, so the bars keep a time axis. */
function slots(buckets: ThroughputBucket[], unit: 'hour' | 'day', count: number, now: Date) {
  const step = unit === 'hour' ? 3600_000 : 24 * 3600_000;
  const end = Math.floor(now.getTime() / step) * step;
  const byTime = new Map(buckets.map((b) => [b.at.getTime(), b]));
  return Array.from({ length: count }, (_, i) => {
    const at = end - (count - 1 - i) * step;
    return byTime.get(at) ?? { at: new Date(at), completed: 0, failed: 0 };
  });
}

function age(from: Date, now: Date): string {
  const s = Math.max(0, (now.getTime() - from.getTime()) / 1000);
  return s < 120
    ? `${Math.round(s)} s`
    : s < 7200
      ? `${Math.round(s / 60)} min`
      : `${(s / 3600).toFixed(1)} h`;
}

/** Completed (green) over failed (red) per bucket, as bars; the numbers are in the title. */
function Throughput({
  buckets,
  label,
  unit,
  testId,
}: {
  buckets: ThroughputBucket[];
  label: string;
  unit: 'hour' | 'day';
  testId: string;
}) {
  const max = Math.max(1, ...buckets.map((b) => b.completed + b.failed));
  const completed = buckets.reduce((n, b) => n + b.completed, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);
  return (
    <Card>
      <CardTitle>{label}</CardTitle>
      <p className="mb-2 text-sm">
        <span data-testid={`${testId}-completed`}>{completed}</span> completed ·{' '}
        <span data-testid={`${testId}-failed`}>{failed}</span> failed
      </p>
      <div className="flex h-24 items-end gap-px" aria-hidden>
        {buckets.map((b) => (
          <div
            key={b.at.toISOString()}
            className="flex flex-1 flex-col justify-end"
            title={`${dateTime(b.at)}: ${b.completed} completed, ${b.failed} failed`}
          >
            <div className="bg-danger" style={{ height: `${(b.failed / max) * 96}px` }} />
            <div className="bg-success" style={{ height: `${(b.completed / max) * 96}px` }} />
          </div>
        ))}
        {completed + failed === 0 && (
          <p className="text-sm text-muted-foreground">No finished job.</p>
        )}
      </div>
      <details className="mt-2 text-sm">
        <summary>Per {unit}</summary>
        <Table>
          <thead>
            <tr>
              <Th>{unit === 'hour' ? 'Hour' : 'Day'} (UTC)</Th>
              <Th className="text-right">Completed</Th>
              <Th className="text-right">Failed</Th>
            </tr>
          </thead>
          <tbody>
            {buckets
              .filter((b) => b.completed + b.failed > 0)
              .map((b) => (
                <tr key={b.at.toISOString()}>
                  <Td>{unit === 'hour' ? dateTime(b.at) : b.at.toISOString().slice(0, 10)}</Td>
                  <Td className="text-right tabular-nums">{b.completed}</Td>
                  <Td className="text-right tabular-nums">{b.failed}</Td>
                </tr>
              ))}
          </tbody>
        </Table>
      </details>
    </Card>
  );
}

function ageSeconds(s: number): string {
  return s < 120
    ? `${Math.round(s)} s`
    : s < 7200
      ? `${Math.round(s / 60)} min`
      : `${(s / 3600).toFixed(1)} h`;
}

/** The worker processes by their heartbeats; one silent while holding a job is called out. */
function Workers({ workers }: { workers: WorkerRow[] }) {
  const stuck = workers.filter((w) => w.stoppedBeatingWithJob);
  return (
    <section aria-labelledby="workers-title" className="space-y-2">
      <h2 id="workers-title" className="text-lg font-semibold">
        Workers
      </h2>
      {stuck.map((w) => (
        <Alert key={w.id} tone="danger" data-testid="worker-stuck">
          Worker {w.host} (pid {w.pid}) stopped beating {ageSeconds(w.beatAgeSeconds)} ago while
          holding {w.jobs.length === 1 ? 'a job' : `${w.jobs.length} jobs`}:{' '}
          {w.jobs.map((j, i) => (
            <span key={j.jobKey}>
              {i > 0 && ', '}
              {j.id ? (
                <Link href={`/admin/jobs/${j.id}`} className="underline underline-offset-2">
                  {j.jobKey}
                </Link>
              ) : (
                j.jobKey
              )}
              {j.state ? ` (${j.state})` : ''}
            </span>
          ))}
          . Its job goes back to the queue when its lease runs out.
        </Alert>
      ))}
      {workers.length === 0 ? (
        <p className="text-sm text-muted-foreground" data-testid="workers-none">
          No worker has beaten in the last 24 h.
        </p>
      ) : (
        <Table data-testid="workers">
          <thead>
            <tr>
              <Th>Status</Th>
              <Th>Host</Th>
              <Th>Version</Th>
              <Th>Model</Th>
              <Th>Provider</Th>
              <Th className="text-right">Concurrency</Th>
              <Th>Jobs now</Th>
              <Th>Last beat</Th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <tr key={w.id} data-testid="worker-row" data-status={w.status}>
                <Td>
                  <Badge
                    tone={
                      w.status === 'running'
                        ? 'success'
                        : w.stoppedBeatingWithJob
                          ? 'danger'
                          : w.status === 'silent'
                            ? 'warning'
                            : 'neutral'
                    }
                    title={
                      w.status === 'silent'
                        ? `missed ${MISSED_BEATS_BEFORE_SILENT} or more beats (one every ${w.intervalSeconds} s)`
                        : undefined
                    }
                  >
                    {w.status === 'silent' ? 'not beating' : w.status}
                  </Badge>
                </Td>
                <Td>
                  {w.host} <span className="text-muted-foreground">pid {w.pid}</span>
                </Td>
                <Td>{w.version}</Td>
                <Td className="font-mono text-xs">{w.modelVersion}</Td>
                <Td>{w.executionProvider}</Td>
                <Td className="text-right tabular-nums">{w.concurrency}</Td>
                <Td data-testid="worker-jobs">
                  {w.jobs.length === 0
                    ? '–'
                    : w.jobs.map((j, i) => (
                        <span key={j.jobKey}>
                          {i > 0 && ', '}
                          {j.id ? (
                            <Link
                              href={`/admin/jobs/${j.id}`}
                              className="text-primary underline underline-offset-2"
                            >
                              {j.jobKey.split('@')[0]}
                            </Link>
                          ) : (
                            j.jobKey
                          )}
                        </span>
                      ))}
                </Td>
                <Td title={dateTime(w.lastBeatAt)}>
                  {ageSeconds(w.beatAgeSeconds)} ago
                  {w.stoppedAt ? ' (stopped)' : ''}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </section>
  );
}

export default async function OverviewPage() {
  const admin = await requireRole('admin');
  const now = new Date();
  let o;
  let workers: WorkerRow[] = [];
  let dbError: string | undefined;
  try {
    const db = await prisma();
    [o, workers] = await Promise.all([operationsOverview(db, now), listWorkers(db)]);
  } catch (error) {
    console.error('operations overview failed', error);
    dbError = 'the database did not answer';
  }
  await audit(admin, { action: 'operations.view', outcome: o ? 'ok' : 'failed' });
  if (!o) {
    return (
      <div className="space-y-4">
        <h1 className="text-2xl font-semibold">Overview</h1>
        <p role="alert" className="text-danger" data-testid="database-status">
          Database: {dbError}
        </p>
      </div>
    );
  }
  const s = o.jobsByState;
  const count = (label: string, value: number, testId: string, href?: string) => (
    <Card className="p-4">
      <p className="text-sm text-muted-foreground">{label}</p>
      <p className="text-3xl font-semibold tabular-nums" data-testid={testId}>
        {href ? (
          <Link href={href} className="underline-offset-2 hover:underline">
            {value}
          </Link>
        ) : (
          value
        )}
      </p>
    </Card>
  );
  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <h1 className="text-2xl font-semibold">Overview</h1>
        <AutoRefresh seconds={5} />
      </div>
      <p className="text-sm" data-testid="database-status">
        Database: reachable, PostgreSQL {o.database.version},{' '}
        {(o.database.sizeBytes / 1024 / 1024).toFixed(0)} MB, answered in{' '}
        {o.database.roundTripMs.toFixed(0)} ms.{' '}
        {o.cursors.length === 0
          ? 'No change-feed cursor yet.'
          : o.cursors
              .map((c) => `Cursor ${c.name} at ${c.value}, ${age(c.updatedAt, now)} old.`)
              .join(' ')}
      </p>
      <Workers workers={workers} />
      <section aria-label="Queue depth" className="grid grid-cols-2 gap-4 md:grid-cols-5">
        {count('Queued', s.queued, 'count-queued', '/admin/jobs?state=queued')}
        {count('Active', s.active, 'count-active', '/admin/jobs?state=active')}
        {count('Retrying', s.retrying, 'count-retrying', '/admin/jobs?state=retrying')}
        {count('Failed', s.failed, 'count-failed', '/admin/jobs?state=failed')}
        {count('Completed', s.completed, 'count-completed', '/admin/jobs?state=completed')}
      </section>
      <section className="grid gap-4 md:grid-cols-2">
        <Throughput
          buckets={slots(o.perHour, 'hour', 24, now)}
          label="Jobs per hour, last 24 h"
          unit="hour"
          testId="last-24h"
        />
        <Throughput
          buckets={slots(o.perDay, 'day', 30, now)}
          label="Jobs per day, last 30 days"
          unit="day"
          testId="last-30d"
        />
      </section>
      <section className="grid gap-4 md:grid-cols-2">
        <Card>
          <CardTitle>Series first seen to SEG stored (last 30 days)</CardTitle>
          <p className="text-sm">
            p50{' '}
            <span data-testid="latency-p50" className="font-semibold">
              {seconds(o.latency.p50Seconds)}
            </span>{' '}
            · p95{' '}
            <span data-testid="latency-p95" className="font-semibold">
              {seconds(o.latency.p95Seconds)}
            </span>{' '}
            · over <span data-testid="latency-count">{o.latency.count}</span> completed jobs
          </p>
          <p className="mt-2 text-sm text-muted-foreground">
            Selection decisions: <span data-testid="count-selected">{o.decisions.selected}</span>{' '}
            selected, <span data-testid="count-skipped">{o.decisions.skipped}</span> skipped (
            <Link
              href="/admin/series?decision=skipped"
              className="text-primary underline underline-offset-2"
            >
              why
            </Link>
            ).
          </p>
        </Card>
        <Card>
          <CardTitle>Failure reasons</CardTitle>
          {o.failureReasons.length === 0 ? (
            <p className="text-sm text-muted-foreground">No failed job.</p>
          ) : (
            <ol className="space-y-1 text-sm" data-testid="failure-reasons">
              {o.failureReasons.map((r) => (
                <li key={r.reason} className="flex gap-3">
                  <span className="w-8 text-right font-semibold tabular-nums">{r.count}</span>
                  <span className="break-words" title={`${r.count} like this; the latest shown`}>
                    {r.example}
                  </span>
                </li>
              ))}
            </ol>
          )}
        </Card>
      </section>
    </div>
  );
}
