import { listAudit } from '@lascar/db';
import type { Metadata } from 'next';
import Link from 'next/link';
import { Badge, Table, Td, Th } from '@/components/ui';
import { FilterBar } from '@/components/filter-bar';
import { Pager } from '@/components/pager';
import { dateTime } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';

export const metadata: Metadata = { title: 'Audit log' };

const PAGE_SIZE = 50;

export default async function AuditPage({
  searchParams,
}: {
  searchParams: Promise<{ user?: string; patient?: string; action?: string; page?: string }>;
}) {
  const admin = await requireRole('admin');
  const params = await searchParams;
  const user = params.user?.trim().slice(0, 200) ?? '';
  const patient = params.patient?.trim().slice(0, 200) ?? '';
  const action = params.action?.trim().slice(0, 100) ?? '';
  const page = Math.max(1, Number.parseInt(params.page ?? '1', 10) || 1);
  const result = await listAudit(await prisma(), {
    ...(user ? { userEmail: user } : {}),
    ...(patient ? { patient } : {}),
    ...(action ? { action } : {}),
    page,
    pageSize: PAGE_SIZE,
  });
  // Reading the audit log is itself audited; the filter is not recorded (it may be a patient ID).
  await audit(admin, {
    action: 'audit.view',
    outcome: 'ok',
    detail: `page ${result.page}, ${result.rows.length} of ${result.total}`,
  });
  const kept = Object.fromEntries(
    Object.entries({ user, patient, action }).filter(([, v]) => v !== ''),
  );
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const href = (p: number) => `/admin/audit?${new URLSearchParams({ ...kept, page: String(p) })}`;
  return (
    <div className="space-y-4">
      <div>
        <h1 className="text-2xl font-semibold">Audit log</h1>
        <p className="text-sm text-muted-foreground">
          Every view and change, newest first. {result.total} match.
        </p>
      </div>
      <FilterBar
        action="/admin/audit"
        fields={[
          { kind: 'text', name: 'user', label: 'User email', value: user },
          { kind: 'text', name: 'patient', label: 'Patient ID', value: patient, width: 'w-56' },
          {
            kind: 'text',
            name: 'action',
            label: 'Action (or prefix, e.g. job.)',
            value: action,
            width: 'w-56',
          },
        ]}
      />
      <Table data-testid="audit-table">
        <caption className="sr-only">Audit events, newest first</caption>
        <thead>
          <tr>
            <Th>When</Th>
            <Th>User</Th>
            <Th>Action</Th>
            <Th>Outcome</Th>
            <Th>Patient / study</Th>
            <Th>Detail</Th>
            <Th>From</Th>
          </tr>
        </thead>
        <tbody>
          {result.rows.length === 0 && (
            <tr>
              <Td colSpan={7} className="py-8 text-center text-muted-foreground">
                No audit event matches.
              </Td>
            </tr>
          )}
          {result.rows.map((r) => (
            <tr key={r.id} data-audit-row={r.action}>
              <Td className="text-xs whitespace-nowrap">{dateTime(r.at)}</Td>
              <Td className="text-xs">
                {r.userEmail ?? '–'}
                {r.role ? <span className="text-muted-foreground"> · {r.role}</span> : null}
              </Td>
              <Td className="font-mono text-xs">{r.action}</Td>
              <Td>
                <Badge
                  tone={
                    r.outcome === 'ok' ? 'success' : r.outcome === 'denied' ? 'warning' : 'danger'
                  }
                >
                  {r.outcome}
                </Badge>
              </Td>
              <Td className="text-xs">
                {r.patientRef && (
                  <Link
                    href={`/patients/${r.patientRef}`}
                    className="text-primary underline underline-offset-2"
                  >
                    patient
                  </Link>
                )}
                {r.patientRef && r.studyRef && ' · '}
                {r.studyRef && (
                  <Link
                    href={`/studies/${r.studyRef}`}
                    className="text-primary underline underline-offset-2"
                  >
                    study
                  </Link>
                )}
              </Td>
              <Td className="max-w-md text-xs break-words">{r.detail ?? ''}</Td>
              <Td className="text-xs">{r.clientAddress ?? '–'}</Td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Pager page={result.page} pages={pages} href={href} />
    </div>
  );
}
