'use client';
/**
 * A patient's scar burden over time, on the stage bands of the chosen scheme, with LA volume
 * below on the same time axis and clinical events (an ablation...) as dashed vertical lines.
 *
 * Results measured with another burden method or model version than the latest result are not
 * comparable point for point (a method change moves about a third of patients to another stage):
 * each (method, model version) is its own series with its own marker and colour, joined only
 * within itself, and the legend names both.
 *
 * The charts are pictures (role="img"); the results table on the page is their text alternative
 * and the keyboard way to open a study. Points carry data-* attributes so a browser test can
 * compare them with the database rows.
 */
import { useRouter } from 'next/navigation';
import { useActionState, useId, useMemo, useState, type ReactElement } from 'react';
import {
  CartesianGrid,
  ReferenceArea,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Symbols,
  Tooltip,
  XAxis,
  YAxis,
  type ScatterShapeProps,
  type SymbolType,
  type TooltipContentProps,
} from 'recharts';
import { ml, percent } from '@/lib/format';
import { Alert, Button, Input, Label, Select } from './ui';

/** One bin of a staging scheme (the shape of @lascar/core's StageBin, passed in as props). */
export interface StageBinProps {
  readonly stage: string;
  readonly min: number | null;
  readonly minInclusive: boolean;
  readonly max: number | null;
  readonly maxInclusive: boolean;
}

export interface StagingSchemeProps {
  readonly name: string;
  readonly description: string;
  readonly bins: readonly StageBinProps[];
}

export interface TrendChartPoint {
  readonly measurementRef: string;
  readonly studyRef: string;
  /** YYYY-MM-DD: the study date, or the measurement date when the study has none. */
  readonly date: string;
  /** False when `date` is the measurement date because the study carries no StudyDate. */
  readonly dateIsStudyDate: boolean;
  readonly burden: number | null;
  readonly laVolumeMl: number;
  readonly decaafStage: string | null;
  readonly utahStage: string | null;
  /** The full method text, and a short name for it (legend, tooltip). */
  readonly burdenMethod: string;
  readonly methodLabel: string;
  readonly modelVersion: string;
  readonly series: string | null;
}

export interface TrendChartEvent {
  readonly id: string;
  /** What the chart prints at the line, e.g. "Ablation". */
  readonly label: string;
  /** YYYY-MM-DD */
  readonly date: string;
}

/** Band (and cohort stage) colours, lowest stage first: readable on light and dark cards. */
export const STAGE_COLOURS = ['#16a34a', '#2563eb', '#d97706', '#dc2626'] as const;

export function stageColour(index: number): string {
  return STAGE_COLOURS[Math.min(Math.max(index, 0), STAGE_COLOURS.length - 1)] ?? '#6b7280';
}

/** A bin's limits as a cardiologist reads them: "< 10 %", "10–20 %", "≥ 30 %". */
export function stageRange(bin: StageBinProps): string {
  if (bin.min === null && bin.max === null) return 'any';
  if (bin.min === null) return `${bin.maxInclusive ? '≤' : '<'} ${bin.max} %`;
  if (bin.max === null) return `${bin.minInclusive ? '≥' : '>'} ${bin.min} %`;
  return `${bin.min}–${bin.max} %`;
}

const DAY_MS = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dayMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

/** Time axis: the dates shown plus a margin, so the first and last points are not on the edge. */
function timeDomain(times: readonly number[]): [number, number] {
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const pad = Math.max(30 * DAY_MS, (hi - lo) * 0.05);
  return [lo - pad, hi + pad];
}

/** Ticks on month starts, every 1..120 months so that at most 7 show; UTC throughout. */
function timeTicks([lo, hi]: [number, number]): { ticks: number[]; yearly: boolean } {
  const spanMonths = (hi - lo) / (30.44 * DAY_MS);
  const step = [1, 2, 3, 6, 12, 24, 60, 120].find((s) => spanMonths / s <= 7) ?? 240;
  const start = new Date(lo);
  let index = start.getUTCFullYear() * 12 + start.getUTCMonth();
  if (Date.UTC(Math.floor(index / 12), index % 12, 1) < lo) index += 1;
  while (index % step !== 0) index += 1;
  const ticks: number[] = [];
  for (; ; index += step) {
    const t = Date.UTC(Math.floor(index / 12), index % 12, 1);
    if (t > hi) break;
    ticks.push(t);
  }
  return { ticks, yearly: step >= 12 };
}

function tickLabel(t: number, yearly: boolean): string {
  const d = new Date(t);
  return yearly ? String(d.getUTCFullYear()) : `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

interface Plotted extends TrendChartPoint {
  readonly t: number;
}

interface Series {
  readonly key: string;
  readonly burdenMethod: string;
  readonly methodLabel: string;
  readonly modelVersion: string;
  readonly latest: boolean;
  readonly symbol: SymbolType;
  readonly colour: string;
  readonly points: Plotted[];
}

/** The latest result's series is the primary circle; every other series gets its own mark. */
const OTHER_MARKS: readonly { symbol: SymbolType; colour: string }[] = [
  { symbol: 'diamond', colour: '#d97706' },
  { symbol: 'triangle', colour: '#9333ea' },
  { symbol: 'square', colour: '#0d9488' },
  { symbol: 'star', colour: '#db2777' },
  { symbol: 'wye', colour: '#65a30d' },
];

function seriesOf(points: readonly TrendChartPoint[]): Series[] {
  const plotted = points
    .map((p) => ({ ...p, t: dayMs(p.date) }))
    .filter((p) => Number.isFinite(p.t));
  const latest = plotted.at(-1);
  if (!latest) return [];
  const keyOf = (p: TrendChartPoint) => `${p.burdenMethod}\u0000${p.modelVersion}`;
  const latestKey = keyOf(latest);
  const byKey = new Map<string, Plotted[]>();
  for (const p of plotted) {
    const list = byKey.get(keyOf(p)) ?? [];
    list.push(p);
    byKey.set(keyOf(p), list);
  }
  const keys = [latestKey, ...[...byKey.keys()].filter((k) => k !== latestKey)];
  return keys.map((key, i) => {
    const list = byKey.get(key) ?? [];
    const first = list[0] ?? latest;
    const mark =
      i === 0
        ? { symbol: 'circle' as const, colour: 'var(--primary)' }
        : (OTHER_MARKS[(i - 1) % OTHER_MARKS.length] ?? { symbol: 'cross', colour: '#6b7280' });
    return {
      key,
      burdenMethod: first.burdenMethod,
      methodLabel: first.methodLabel,
      modelVersion: first.modelVersion,
      latest: i === 0,
      ...mark,
      points: list,
    };
  });
}

function PointTooltip({ active, payload }: TooltipContentProps) {
  const p = (active ? payload?.[0]?.payload : undefined) as Plotted | undefined;
  if (!p) return null;
  return (
    <div className="max-w-xs rounded-md border border-border bg-card px-3 py-2 text-xs text-foreground shadow-md">
      <div className="font-semibold">
        {p.date}
        {!p.dateIsStudyDate && ' (measured; no study date)'}
      </div>
      <div>
        Burden {percent(p.burden)} · DECAAF {p.decaafStage ?? '–'} · Utah {p.utahStage ?? '–'}
      </div>
      <div>LA volume {ml(p.laVolumeMl)}</div>
      <div className="text-muted-foreground">
        {p.methodLabel} · model {p.modelVersion}
      </div>
      {p.series && <div className="text-muted-foreground">{p.series}</div>}
      <div className="mt-1 text-muted-foreground">Click to open the study</div>
    </div>
  );
}

const AXIS_TICK = { fill: 'var(--muted-foreground)', fontSize: 12 };
const Y_AXIS_WIDTH = 64;

export function BurdenChart({
  points,
  events,
  schemes,
}: {
  /** Oldest first; the last one is the latest result. */
  points: readonly TrendChartPoint[];
  events: readonly TrendChartEvent[];
  schemes: readonly StagingSchemeProps[];
}) {
  const router = useRouter();
  const radioName = useId();
  const [schemeName, setSchemeName] = useState(schemes[0]?.name ?? '');
  const scheme = schemes.find((s) => s.name === schemeName) ?? schemes[0];

  const series = useMemo(() => seriesOf(points), [points]);
  const eventLines = useMemo(
    () => events.map((e) => ({ ...e, t: dayMs(e.date) })).filter((e) => Number.isFinite(e.t)),
    [events],
  );
  const plotted = series.flatMap((s) => s.points);
  if (plotted.length === 0) {
    return <p className="text-sm text-muted-foreground">No results yet for this patient.</p>;
  }

  const domain = timeDomain([...plotted.map((p) => p.t), ...eventLines.map((e) => e.t)]);
  const { ticks, yearly } = timeTicks(domain);
  const burdens = plotted.flatMap((p) => (p.burden === null ? [] : [p.burden]));
  const burdenMax = Math.max(50, Math.ceil(Math.max(0, ...burdens) / 10) * 10);
  const burdenTicks = Array.from(
    { length: burdenMax / (burdenMax > 60 ? 20 : 10) + 1 },
    (_, i) => i * (burdenMax > 60 ? 20 : 10),
  );
  const laMax = Math.max(
    50,
    Math.ceil((Math.max(...plotted.map((p) => p.laVolumeMl)) * 1.1) / 20) * 20,
  );
  const open = (studyRef: string) => router.push(`/studies/${studyRef}`);

  const xAxis = (
    <XAxis
      type="number"
      dataKey="t"
      scale="time"
      domain={domain}
      ticks={ticks}
      tickFormatter={(t: number) => tickLabel(t, yearly)}
      tick={AXIS_TICK}
      stroke="var(--border)"
      allowDataOverflow
    />
  );
  const mark =
    (s: Series, testId: 'trend-point' | 'la-volume-point') =>
    (props: ScatterShapeProps): ReactElement => {
      const p = props.payload as Plotted | undefined;
      if (!p || props.cx == null || props.cy == null) return <g />;
      return (
        <g
          data-testid={testId}
          data-study={p.studyRef}
          data-measurement={p.measurementRef}
          data-burden={p.burden ?? ''}
          data-la-volume={p.laVolumeMl}
          data-date={p.date}
          data-model-version={p.modelVersion}
          data-latest-series={s.latest ? 'true' : 'false'}
          style={{ cursor: 'pointer' }}
          onClick={() => open(p.studyRef)}
        >
          <Symbols
            cx={props.cx}
            cy={props.cy}
            type={s.symbol}
            size={s.latest ? 90 : 120}
            fill={s.colour}
            stroke="var(--card)"
            strokeWidth={1.5}
          />
        </g>
      );
    };
  const eventMarks = (labelled: boolean) =>
    eventLines.map((e) => (
      <ReferenceLine
        key={e.id}
        x={e.t}
        stroke="var(--foreground)"
        strokeDasharray="4 3"
        {...(labelled
          ? {
              label: {
                value: e.label,
                position: 'top' as const,
                fill: 'var(--foreground)',
                fontSize: 11,
              },
            }
          : {})}
      />
    ));
  const first = plotted[0]?.date;
  const last = plotted.at(-1)?.date;
  const differing = series.length - 1;

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h3 className="text-sm font-semibold">Scar burden (%)</h3>
        <fieldset className="flex items-center gap-1">
          <legend className="sr-only">Staging scheme</legend>
          <span aria-hidden="true" className="mr-2 text-xs text-muted-foreground">
            Staging scheme
          </span>
          {schemes.map((s) => (
            <label
              key={s.name}
              title={s.description}
              className="relative cursor-pointer rounded-md border border-border px-3 py-1 text-sm text-foreground has-checked:border-primary has-checked:bg-primary has-checked:text-primary-foreground has-focus-visible:outline-2 has-focus-visible:outline-offset-2 has-focus-visible:outline-ring"
            >
              <input
                type="radio"
                name={radioName}
                value={s.name}
                checked={s.name === scheme?.name}
                onChange={() => setSchemeName(s.name)}
                // Laid over its label (not off-screen), so pointer and test clicks reach it.
                className="absolute inset-0 cursor-pointer appearance-none opacity-0"
              />
              {s.name}
            </label>
          ))}
        </fieldset>
      </div>
      {burdens.length === 0 ? (
        <p className="text-sm text-muted-foreground">
          No burden: no result of this patient has a measurable LA wall.
        </p>
      ) : (
        <div
          role="img"
          aria-label={`Scar burden over time: ${burdens.length} results from ${first} to ${last} on ${scheme?.name ?? ''} stage bands${eventLines.length ? `, ${eventLines.length} clinical events marked` : ''}${differing ? `, ${differing} other method or model version shown apart` : ''}. The results table lists the same values.`}
          data-testid="burden-chart"
          data-scheme={scheme?.name}
        >
          <ResponsiveContainer width="100%" height={300}>
            <ScatterChart
              accessibilityLayer={false}
              margin={{ top: 24, right: 16, bottom: 4, left: 0 }}
            >
              <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
              {scheme?.bins.map((bin, i) =>
                (bin.min ?? 0) >= burdenMax ? null : (
                  <ReferenceArea
                    key={`${scheme.name}-${bin.stage}`}
                    y1={bin.min ?? 0}
                    y2={Math.min(bin.max ?? burdenMax, burdenMax)}
                    fill={stageColour(i)}
                    fillOpacity={0.12}
                    stroke="none"
                    label={{
                      value: `${scheme.name} ${bin.stage} (${stageRange(bin)})`,
                      position: 'insideRight',
                      fill: 'var(--muted-foreground)',
                      fontSize: 11,
                    }}
                  />
                ),
              )}
              {xAxis}
              <YAxis
                type="number"
                dataKey="burden"
                domain={[0, burdenMax]}
                ticks={burdenTicks}
                tickFormatter={(v: number) => `${v} %`}
                tick={AXIS_TICK}
                stroke="var(--border)"
                width={Y_AXIS_WIDTH}
                allowDataOverflow
              />
              {eventMarks(true)}
              <Tooltip content={PointTooltip} cursor={{ stroke: 'var(--border)' }} />
              {series.map((s) => (
                <Scatter
                  key={s.key}
                  name={`${s.methodLabel} · ${s.modelVersion}`}
                  data={s.points.filter((p) => p.burden !== null)}
                  fill={s.colour}
                  line={{ stroke: s.colour, strokeWidth: 2 }}
                  lineJointType="linear"
                  shape={mark(s, 'trend-point')}
                  isAnimationActive={false}
                />
              ))}
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      )}

      <h3 className="text-sm font-semibold">LA volume (mL)</h3>
      <div
        role="img"
        aria-label={`LA volume over time: ${plotted.length} results from ${first} to ${last}. The results table lists the same values.`}
        data-testid="la-volume-chart"
      >
        <ResponsiveContainer width="100%" height={180}>
          <ScatterChart
            accessibilityLayer={false}
            margin={{ top: 8, right: 16, bottom: 4, left: 0 }}
          >
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
            {xAxis}
            <YAxis
              type="number"
              dataKey="laVolumeMl"
              domain={[0, laMax]}
              tickFormatter={(v: number) => `${v} mL`}
              tick={AXIS_TICK}
              stroke="var(--border)"
              width={Y_AXIS_WIDTH}
            />
            {eventMarks(false)}
            <Tooltip content={PointTooltip} cursor={{ stroke: 'var(--border)' }} />
            {series.map((s) => (
              <Scatter
                key={s.key}
                name={`${s.methodLabel} · ${s.modelVersion}`}
                data={s.points}
                fill={s.colour}
                line={{ stroke: s.colour, strokeWidth: 2 }}
                lineJointType="linear"
                shape={mark(s, 'la-volume-point')}
                isAnimationActive={false}
              />
            ))}
          </ScatterChart>
        </ResponsiveContainer>
      </div>

      <ul aria-label="Chart legend" className="flex flex-wrap gap-x-6 gap-y-2 text-xs">
        {series.map((s) => (
          <li
            key={s.key}
            className="flex items-center gap-2"
            title={s.burdenMethod}
            data-testid="trend-series"
          >
            <svg width="14" height="14" aria-hidden="true">
              <Symbols cx={7} cy={7} type={s.symbol} size={s.latest ? 60 : 70} fill={s.colour} />
            </svg>
            <span>
              {s.methodLabel} · model <span className="font-mono">{s.modelVersion}</span>
              {s.latest ? ' (latest result)' : ': differs from the latest result, not joined to it'}
              {` · ${s.points.length} ${s.points.length === 1 ? 'result' : 'results'}`}
            </span>
          </li>
        ))}
        {eventLines.length > 0 && (
          <li className="flex items-center gap-2">
            <svg width="14" height="14" aria-hidden="true">
              <line
                x1="7"
                y1="0"
                x2="7"
                y2="14"
                stroke="var(--foreground)"
                strokeDasharray="3 2"
                strokeWidth="1.5"
              />
            </svg>
            <span>Clinical event</span>
          </li>
        )}
      </ul>
      <p className="text-xs text-muted-foreground">
        Click a point to open its study; the results table below has the same values and links.
      </p>
    </div>
  );
}

export interface EventFormState {
  readonly error?: string;
  readonly added?: string;
}

/** Adds a clinical event (an ablation...) to the timeline through the page's Server Action. */
export function ClinicalEventForm({
  patientRef,
  action,
  kinds,
  today,
}: {
  patientRef: string;
  action: (state: EventFormState, form: FormData) => Promise<EventFormState>;
  kinds: readonly { readonly value: string; readonly label: string }[];
  /** YYYY-MM-DD: the latest date the form offers (the server checks again). */
  today: string;
}) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form
      action={formAction}
      className="grid gap-3 sm:grid-cols-[minmax(9rem,auto)_minmax(10rem,auto)_1fr_auto] sm:items-end"
      data-testid="add-event-form"
    >
      <input type="hidden" name="patientRef" value={patientRef} />
      <div>
        <Label htmlFor="event-kind">Event</Label>
        <Select id="event-kind" name="kind" defaultValue={kinds[0]?.value} className="w-full">
          {kinds.map((k) => (
            <option key={k.value} value={k.value}>
              {k.label}
            </option>
          ))}
        </Select>
      </div>
      <div>
        <Label htmlFor="event-date">Date</Label>
        <Input id="event-date" name="date" type="date" max={today} required />
      </div>
      <div>
        <Label htmlFor="event-note">Note (optional)</Label>
        <Input id="event-note" name="note" maxLength={500} autoComplete="off" />
      </div>
      <Button type="submit" disabled={pending}>
        {pending ? 'Adding…' : 'Add event'}
      </Button>
      {state.error && (
        <Alert tone="danger" className="sm:col-span-4">
          {state.error}
        </Alert>
      )}
      {state.added && !state.error && (
        <Alert tone="success" className="sm:col-span-4">
          {state.added}
        </Alert>
      )}
    </form>
  );
}
