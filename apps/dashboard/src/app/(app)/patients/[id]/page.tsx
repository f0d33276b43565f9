import { DECAAF_STAGING, UTAH_STAGING, qcFlagReason } from '@lascar/core';
import { patientTimeline } from '@lascar/db';
import { ArrowLeft, ExternalLink } from 'lucide-react';
import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import {
  BurdenChart,
  ClinicalEventForm,
  type TrendChartEvent,
  type TrendChartPoint,
} from '@/components/burden-chart';
import { ReviewBadge, StageBadges, SyntheticBanner } from '@/components/clinical';
import { Badge, Card, CardTitle, Table, Td, Th } from '@/components/ui';
import { dateTime, ml, percent, personName } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireUser } from '@/server/session';
import { addEvent } from './actions';

// No name in the title: it ends up in browser history and tab lists.
export const metadata: Metadata = { title: 'Patient' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EVENT_KINDS = [
  { value: 'ablation', label: 'Ablation' },
  { value: 'cardioversion', label: 'Cardioversion' },
  { value: 'other', label: 'Other' },
] as const;

function eventLabel(kind: string): string {
  return EVENT_KINDS.find((k) => k.value === kind)?.label ?? kind;
}

/**
 * A short name for a burden method ("volume-based, 3 mm wall"); the full text stays in the title
 * attribute. Two different methods that shorten alike get "variant 2", so the legend never
 * presents them as one.
 */
function methodLabels(methods: readonly string[]): Map<string, string> {
  const labels = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const method of new Set(methods)) {
    const kind = method.split(':')[0]?.trim() || method;
    const wall = /(\d+(?:\.\d+)?) ?mm/.exec(method)?.[1];
    const base = wall ? `${kind}, ${wall} mm wall` : kind;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    labels.set(method, n === 1 ? base : `${base} (variant ${n})`);
  }
  return labels;
}

export default async function PatientPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const { id } = await params;
  if (!UUID.test(id)) notFound();
  const timeline = await patientTimeline(await prisma(), id);
  if (!timeline) notFound();
  await audit(user, { action: 'patient.view', patientRef: id, outcome: 'ok' });

  const { patient, events } = timeline;
  // Oldest first, as the chart draws them; the measurement time orders results of one day.
  const results = timeline.points
    .map((p) => ({
      ...p,
      date: p.studyDate ?? p.measuredAt.toISOString().slice(0, 10),
    }))
    .sort(
      (a, b) => a.date.localeCompare(b.date) || a.measuredAt.getTime() - b.measuredAt.getTime(),
    );
  const labels = methodLabels(results.map((p) => p.burdenMethod));
  const chartPoints: TrendChartPoint[] = results.map((p) => ({
    measurementRef: p.measurementRef,
    studyRef: p.studyRef,
    date: p.date,
    dateIsStudyDate: p.studyDate !== null,
    burden: p.scarBurdenPercent,
    laVolumeMl: p.laVolumeMl,
    decaafStage: p.decaafStage,
    utahStage: p.utahStage,
    burdenMethod: p.burdenMethod,
    methodLabel: labels.get(p.burdenMethod) ?? p.burdenMethod,
    modelVersion: p.modelVersion,
    series: p.seriesDescription,
  }));
  const chartEvents: TrendChartEvent[] = events.map((e) => ({
    id: e.id,
    label: eventLabel(e.kind),
    date: e.date,
  }));
  const studies = new Set(results.map((p) => p.studyRef)).size;
  const latest = results.at(-1);
  const newestFirst = [...results].reverse();
  const eventsNewestFirst = [...events].sort((a, b) => b.date.localeCompare(a.date));

  return (
    <div className="space-y-6">
      <div>
        <Link
          href="/patients"
          className="mb-2 inline-flex items-center gap-1 text-sm text-primary underline-offset-2 hover:underline"
        >
          <ArrowLeft className="size-4" aria-hidden />
          Patients
        </Link>
        <div className="flex flex-wrap items-end justify-between gap-4">
          <div>
            <h1 className="text-2xl font-semibold" data-testid="patient-name">
              {personName(patient.patientName)}
            </h1>
            <p className="text-sm text-muted-foreground">
              Patient ID <span className="font-mono text-foreground">{patient.patientId}</span> ·{' '}
              <span data-testid="study-count">{studies}</span> {studies === 1 ? 'study' : 'studies'}{' '}
              · {results.length} {results.length === 1 ? 'result' : 'results'}
            </p>
          </div>
          {latest && (
            <div className="text-right text-sm">
              <div className="text-muted-foreground">Latest result ({latest.date})</div>
              <div className="flex items-center justify-end gap-2">
                <span className="text-lg font-semibold tabular-nums">
                  {percent(latest.scarBurdenPercent)}
                </span>
                <StageBadges decaaf={latest.decaafStage} utah={latest.utahStage} />
              </div>
            </div>
          )}
        </div>
      </div>

      <SyntheticBanner show={results.some((p) => p.syntheticTraining)} />

      <Card>
        <CardTitle>Trend</CardTitle>
        <BurdenChart
          points={chartPoints}
          events={chartEvents}
          schemes={[DECAAF_STAGING, UTAH_STAGING]}
        />
      </Card>

      <Card>
        <CardTitle>Results</CardTitle>
        <Table data-testid="results-table">
          <caption className="sr-only">
            Results of this patient, newest first: the values the charts show
          </caption>
          <thead>
            <tr>
              <Th>Study date</Th>
              <Th>Series</Th>
              <Th className="text-right">Burden</Th>
              <Th>Stage</Th>
              <Th className="text-right">LA volume</Th>
              <Th>Method</Th>
              <Th>Model version</Th>
              <Th>Review</Th>
              <Th>QC</Th>
              <Th>
                <span className="sr-only">Open</span>
              </Th>
            </tr>
          </thead>
          <tbody>
            {newestFirst.length === 0 && (
              <tr>
                <Td colSpan={10} className="py-8 text-center text-muted-foreground">
                  No results yet: the worker has not measured a study of this patient.
                </Td>
              </tr>
            )}
            {newestFirst.map((p) => (
              <tr
                key={p.measurementRef}
                className="hover:bg-muted/50"
                data-testid="result-row"
                data-study={p.studyRef}
                data-measurement={p.measurementRef}
                data-burden={p.scarBurdenPercent ?? ''}
              >
                <Td className="whitespace-nowrap tabular-nums">
                  {p.date}
                  {p.studyDate === null && (
                    <span className="block text-xs text-muted-foreground">
                      measured; no study date
                    </span>
                  )}
                </Td>
                <Td>{p.seriesDescription ?? <span className="text-muted-foreground">–</span>}</Td>
                <Td className="text-right tabular-nums">{percent(p.scarBurdenPercent)}</Td>
                <Td>
                  <StageBadges decaaf={p.decaafStage} utah={p.utahStage} />
                </Td>
                <Td className="text-right tabular-nums">{ml(p.laVolumeMl)}</Td>
                <Td title={p.burdenMethod}>{labels.get(p.burdenMethod) ?? p.burdenMethod}</Td>
                <Td className="font-mono text-xs">{p.modelVersion}</Td>
                <Td>
                  <ReviewBadge state={p.reviewState} />
                </Td>
                <Td>
                  {p.qcFlags.length > 0 ? (
                    <span className="inline-flex flex-wrap gap-1">
                      {p.qcFlags.map((flag) => (
                        <Badge key={flag} tone="warning">
                          needs review: {qcFlagReason(flag)}
                        </Badge>
                      ))}
                    </span>
                  ) : (
                    <span className="text-muted-foreground">–</span>
                  )}
                </Td>
                <Td>
                  <Link
                    href={`/studies/${p.studyRef}`}
                    className="inline-flex items-center gap-1 font-medium whitespace-nowrap text-primary underline-offset-2 hover:underline"
                  >
                    Open study<span className="sr-only"> of {p.date}</span>
                    <ExternalLink className="size-3" aria-hidden />
                  </Link>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      </Card>

      <Card>
        <CardTitle>Clinical events</CardTitle>
        {eventsNewestFirst.length === 0 ? (
          <p className="mb-4 text-sm text-muted-foreground">
            No clinical events recorded. An ablation or cardioversion added here is drawn on the
            trend.
          </p>
        ) : (
          <ul className="mb-4 divide-y divide-border text-sm" data-testid="event-list">
            {eventsNewestFirst.map((e) => (
              <li key={e.id} className="flex flex-wrap items-baseline gap-x-4 gap-y-1 py-2">
                <span className="font-mono tabular-nums">{e.date}</span>
                <span className="font-medium">{eventLabel(e.kind)}</span>
                {e.note && <span className="text-foreground">{e.note}</span>}
                <span className="ml-auto text-xs text-muted-foreground">
                  added {dateTime(e.createdAt)}
                </span>
              </li>
            ))}
          </ul>
        )}
        {user.role === 'cardiologist' ? (
          <ClinicalEventForm
            patientRef={patient.id}
            action={addEvent}
            kinds={EVENT_KINDS}
            today={new Date().toISOString().slice(0, 10)}
          />
        ) : (
          <p className="text-sm text-muted-foreground">Only cardiologists add clinical events.</p>
        )}
      </Card>
    </div>
  );
}
