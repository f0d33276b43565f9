import { DECAAF_STAGING, UTAH_STAGING, qcFlagReason } from '@lascar/core';
import { studyDetail, type ResultDetail } from '@lascar/db';
import { ExternalLink } from 'lucide-react';
import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { ReviewBadge, StageBadges, SyntheticBanner } from '@/components/clinical';
import { Alert, Badge, Card, CardTitle, Facts, Table, Td, Th, buttonClass } from '@/components/ui';
import { dateTime, duration, ml, percent, personName } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { viewerUrl } from '@/server/pacs';
import { requireUser, type SignedInUser } from '@/server/session';
import { SignOffForm } from './sign-off-form';

export const metadata: Metadata = { title: 'Study' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ModelProvenance {
  architecture?: string;
  width?: number;
  sha256?: string;
  trainingData?: string;
  synthetic?: boolean;
}

function models(provenance: unknown): [string, ModelProvenance][] {
  const m = (provenance as { models?: Record<string, ModelProvenance> } | null)?.models;
  return m ? Object.entries(m) : [];
}

export default async function StudyPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const { id } = await params;
  if (!UUID.test(id)) notFound();
  const detail = await studyDetail(await prisma(), id);
  if (!detail) notFound();
  const { study, results } = detail;
  await audit(user, {
    action: 'study.view',
    outcome: 'ok',
    studyRef: study.id,
    ...(study.patient ? { patientRef: study.patient.id } : {}),
  });
  return (
    <div className="space-y-6">
      <SyntheticBanner show={results.some((r) => r.syntheticTraining)} />
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <p className="text-sm text-muted-foreground">
            {study.patient ? (
              <Link href={`/patients/${study.patient.id}`} className="text-primary underline">
                {personName(study.patient.patientName)} · {study.patient.patientId}
              </Link>
            ) : (
              'Unknown patient'
            )}
          </p>
          <h1 className="text-2xl font-semibold">
            LGE study {study.studyDate ?? 'without a date'}
          </h1>
          <p className="font-mono text-xs text-muted-foreground">
            {study.accessionNumber ? `Accession ${study.accessionNumber} · ` : ''}
            {study.studyInstanceUid}
          </p>
        </div>
        <a
          className={buttonClass('secondary')}
          href={viewerUrl(study.studyInstanceUid, results[0]?.segSeriesInstanceUid)}
          target="_blank"
          rel="noreferrer noopener"
        >
          <ExternalLink className="size-4" aria-hidden />
          Open in viewer (with SEG)
        </a>
      </div>
      {results.length === 0 && <Alert tone="info">No result for this study yet.</Alert>}
      {results.map((r) => (
        <Result key={r.measurementRef} result={r} user={user} />
      ))}
    </div>
  );
}

function Result({ result: r, user }: { result: ResultDetail; user: SignedInUser }) {
  const burden = r.scarBurdenPercent;
  return (
    <div className="space-y-4" data-testid="result" data-measurement={r.measurementRef}>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card className="lg:col-span-1">
          <CardTitle>Measurements</CardTitle>
          <Facts
            items={[
              [
                'Scar burden',
                <span data-testid="burden" key="b">
                  {percent(burden)}
                </span>,
              ],
              ['Stage', <StageBadges key="s" decaaf={r.decaafStage} utah={r.utahStage} />],
              [
                'LA volume',
                <span data-testid="la-volume" key="la">
                  {ml(r.laVolumeMl)}
                </span>,
              ],
              [
                'Scar volume',
                <span data-testid="scar-volume" key="sv">
                  {ml(r.scarVolumeMl, 2)}
                </span>,
              ],
              [
                'Wall volume',
                <span data-testid="wall-volume" key="wv">
                  {ml(r.wallVolumeMl, 2)}
                </span>,
              ],
              ...(r.scarInShellMl != null && r.scarInCavityMl != null
                ? ([
                    ['Scar in wall, outside cavity mask', ml(r.scarInShellMl, 2)],
                    ['Scar in wall, inside cavity mask', ml(r.scarInCavityMl, 2)],
                  ] as [string, string][])
                : []),
              ['Burden method', r.burdenMethod],
              ['Wall', r.wallDefinition],
            ]}
          />
          <p className="mt-3 text-xs text-muted-foreground">
            {DECAAF_STAGING.description}. {UTAH_STAGING.description}.
          </p>
        </Card>
        <Card className="lg:col-span-2">
          <CardTitle>Review</CardTitle>
          <div className="mb-3 flex flex-wrap items-center gap-2">
            <ReviewBadge state={r.reviewState} />
          </div>
          {/* Quality control: why a person should look, in words (the stored code is only for filters). */}
          {r.qcFlags.length > 0 && (
            <div className="mb-3 rounded-md border border-danger/40 p-3" data-testid="qc-flags">
              <p className="mb-1 flex items-center gap-2 text-sm font-medium text-danger">
                <Badge tone="danger">Needs review</Badge> Quality control flagged this result:
              </p>
              <ul className="list-disc pl-5 text-sm">
                {r.qcFlags.map((f) => (
                  <li key={f}>{qcFlagReason(f)}</li>
                ))}
              </ul>
            </div>
          )}
          {r.reviewState === 'pending' ? (
            user.role === 'cardiologist' ? (
              <SignOffForm measurementRef={r.measurementRef} />
            ) : (
              <p className="text-sm text-muted-foreground">
                Awaiting a cardiologist&apos;s sign-off.
              </p>
            )
          ) : (
            <p className="text-sm" data-testid="signed-by">
              {r.reviewState === 'accepted' ? 'Signed off' : 'Rejected'} by{' '}
              <strong>{r.reviewedByName}</strong> on {dateTime(r.reviewedAt)}
              {r.reviewReason ? ` · reason: ${r.reviewReason}` : ''}
              {r.verifiedSrSopInstanceUid && (
                <span className="block font-mono text-xs text-muted-foreground">
                  VERIFIED report (SR) {r.verifiedSrSopInstanceUid}
                </span>
              )}
            </p>
          )}
        </Card>
      </div>
      <Card>
        <CardTitle>Key slices</CardTitle>
        <p className="mb-3 text-sm text-muted-foreground">
          LGE slices with the LA cavity outlined (green) and the scar filled (red), at full
          resolution.
        </p>
        {r.overlays.length === 0 ? (
          <p className="text-sm text-muted-foreground">No key-slice pictures for this result.</p>
        ) : (
          <div className="flex flex-wrap gap-4">
            {r.overlays.map((o) => (
              <figure key={o.sliceIndex} className="space-y-1">
                <img
                  src={`/api/overlays/${r.measurementRef}/${o.sliceIndex}.png`}
                  width={o.width}
                  height={o.height}
                  alt={`Slice ${o.sliceIndex}: LA outline and scar overlay`}
                  className="max-w-full rounded border border-border"
                  style={{ imageRendering: 'pixelated' }}
                />
                <figcaption className="text-xs text-muted-foreground">
                  Slice {o.sliceIndex} · {o.width} × {o.height}
                </figcaption>
              </figure>
            ))}
          </div>
        )}
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <CardTitle>Model and provenance</CardTitle>
          <Facts
            items={[
              [
                'Model version',
                <span key="mv" className="font-mono text-xs">
                  {r.modelVersion}
                </span>,
              ],
              [
                'Training data',
                r.syntheticTraining ? 'SYNTHETIC phantoms (research use only)' : 'see model card',
              ],
              ['Execution provider', r.executionProvider],
              ['Series', r.seriesDescription ?? r.seriesInstanceUid],
              ...models(r.provenance).map(
                ([name, m]) =>
                  [
                    `${name.toUpperCase()} network`,
                    <span key={name} className="font-mono text-xs">
                      {m.architecture} w{m.width} · sha256 {m.sha256?.slice(0, 12)}
                    </span>,
                  ] as [string, React.ReactNode],
              ),
              [
                'SEG',
                <span key="seg" className="font-mono text-xs">
                  {r.segSeriesInstanceUid ?? '–'}
                </span>,
              ],
              [
                'Report (SR)',
                <span key="sr" className="font-mono text-xs">
                  {r.srSopInstanceUid ?? '–'}
                </span>,
              ],
            ]}
          />
        </Card>
        <Card>
          <CardTitle>Processing</CardTitle>
          <p className="mb-2 text-sm">
            Total <strong data-testid="processing-time">{duration(r.processingMs)}</strong>
            {r.finishedAt ? ` · finished ${dateTime(r.finishedAt)}` : ''} · attempts {r.attempts}
          </p>
          <Table>
            <caption className="sr-only">Processing stages of the last attempt</caption>
            <thead>
              <tr>
                <Th>Stage</Th>
                <Th className="text-right">Time</Th>
              </tr>
            </thead>
            <tbody>
              {r.stages.map((s) => (
                <tr key={s.stage}>
                  <Td>{s.stage.replace('_', ' ')}</Td>
                  <Td className="text-right tabular-nums">{duration(s.durationMs)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        </Card>
      </div>
    </div>
  );
}
