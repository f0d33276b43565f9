import { qcFlagReason } from '@lascar/core';
import { listPatients } from '@lascar/db';
import { Flag, TrendingDown, TrendingUp } from 'lucide-react';
import type { Metadata } from 'next';
import Link from 'next/link';
import { StageBadges, SyntheticBanner } from '@/components/clinical';
import { Badge, Button, Input, Table, Td, Th } from '@/components/ui';
import { Pager } from '@/components/pager';
import { percent, personName, points } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireUser } from '@/server/session';

export const metadata: Metadata = { title: 'Patients' };

const PAGE_SIZE = 25;

export default async function PatientsPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string; page?: string }>;
}) {
  const user = await requireUser();
  const { q = '', page: rawPage } = await searchParams;
  const page = Math.max(1, Number.parseInt(rawPage ?? '1', 10) || 1);
  const result = await listPatients(await prisma(), {
    ...(q.trim() ? { q: q.trim() } : {}),
    page,
    pageSize: PAGE_SIZE,
  });
  await audit(user, {
    action: 'patients.list',
    outcome: 'ok',
    detail: `page ${result.page}, ${result.rows.length} of ${result.total}${q ? ', searched' : ''}`,
  });
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const href = (p: number) =>
    `/patients?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) })}`;
  return (
    <div className="space-y-4">
      <SyntheticBanner show={result.rows.some((r) => r.latest?.syntheticTraining)} />
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Patients</h1>
          <p className="text-sm text-muted-foreground">
            Latest LA scar burden per patient (volume-based, 3 mm wall). Stages: DECAAF (1 &lt; 10,
            2 10–20, 3 20–30, 4 ≥ 30 %) and Utah (I ≤ 5, II 5–20, III 20–35, IV &gt; 35 %).
          </p>
        </div>
        <form role="search" action="/patients" className="flex gap-2">
          <label htmlFor="q" className="sr-only">
            Search by patient ID or name
          </label>
          <Input
            id="q"
            name="q"
            defaultValue={q}
            placeholder="Patient ID or name"
            className="w-64"
          />
          <Button type="submit">Search</Button>
        </form>
      </div>
      <Table data-testid="patients-table">
        <caption className="sr-only">Patients, latest result first</caption>
        <thead>
          <tr>
            <Th>Patient</Th>
            <Th>Patient ID</Th>
            <Th className="text-right">Latest burden</Th>
            <Th>Stage</Th>
            <Th className="text-right">Studies</Th>
            <Th className="text-right">Since previous</Th>
            <Th>Review</Th>
          </tr>
        </thead>
        <tbody>
          {result.rows.length === 0 && (
            <tr>
              <Td colSpan={7} className="py-8 text-center text-muted-foreground">
                {q
                  ? `No patient matches “${q}”.`
                  : 'No patients yet: the worker has not measured any study.'}
              </Td>
            </tr>
          )}
          {result.rows.map((p) => (
            <tr key={p.id} className="hover:bg-muted/50" data-patient-row={p.id}>
              <Td>
                <Link
                  href={`/patients/${p.id}`}
                  className="font-medium text-primary underline-offset-2 hover:underline"
                >
                  {personName(p.patientName)}
                </Link>
              </Td>
              <Td className="font-mono text-xs">{p.patientId}</Td>
              <Td className="text-right tabular-nums" data-testid="latest-burden">
                {percent(p.latest?.scarBurdenPercent)}
                {p.latest?.syntheticTraining && (
                  <span
                    className="ml-1 text-xs text-warning"
                    title="Model trained on synthetic data"
                  >
                    *
                  </span>
                )}
              </Td>
              <Td>
                {p.latest ? (
                  <StageBadges decaaf={p.latest.decaafStage} utah={p.latest.utahStage} />
                ) : (
                  <span className="text-muted-foreground">no result</span>
                )}
              </Td>
              <Td className="text-right tabular-nums">{p.studyCount}</Td>
              <Td className="text-right tabular-nums">
                <span className="inline-flex items-center gap-1">
                  {p.trendPoints != null && p.trendPoints > 0 && (
                    <TrendingUp className="size-4 text-danger" aria-hidden />
                  )}
                  {p.trendPoints != null && p.trendPoints < 0 && (
                    <TrendingDown className="size-4 text-success" aria-hidden />
                  )}
                  {points(p.trendPoints)}
                </span>
              </Td>
              <Td>
                {p.needsReviewCount > 0 ? (
                  <div className="flex flex-col items-start gap-1">
                    <Badge tone={p.qcFlagged ? 'danger' : 'warning'}>
                      <Flag className="size-3" aria-hidden />
                      {p.needsReviewCount} to review
                    </Badge>
                    {/* Quality control's reasons in words, not codes. */}
                    {p.qcFlags.length > 0 && (
                      <ul className="max-w-64 text-xs text-danger" data-testid="qc-reasons">
                        {p.qcFlags.map((flag) => (
                          <li key={flag}>needs review: {qcFlagReason(flag)}</li>
                        ))}
                      </ul>
                    )}
                  </div>
                ) : (
                  <span className="text-muted-foreground">–</span>
                )}
              </Td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Pager page={result.page} pages={pages} href={href} summary={`${result.total} patients`} />
      <p className="text-xs text-muted-foreground">
        * measured by a model trained on synthetic data only: research use.
      </p>
    </div>
  );
}
