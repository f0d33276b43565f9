'use client';
/**
 * The cohort view's pictures: how the latest results spread over the stages of a scheme, and
 * scar burden against LA volume. The stage counts are printed as a table as well (the text
 * alternative, and what a browser test reads).
 */
import { useRouter } from 'next/navigation';
import type { ReactElement } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  LabelList,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  type ScatterShapeProps,
  type TooltipContentProps,
} from 'recharts';
import { ml, percent } from '@/lib/format';
import { stageColour, stageRange, type StagingSchemeProps } from './burden-chart';

const AXIS_TICK = { fill: 'var(--muted-foreground)', fontSize: 12 };

interface StageRow {
  readonly stage: string;
  readonly range: string;
  readonly count: number;
  readonly colour: string;
}

/** Every bin of the scheme (0 where none), then results without a stage (no measurable wall). */
function stageRows(
  scheme: StagingSchemeProps,
  counts: readonly { readonly stage: string | null; readonly count: number }[],
  unstaged: number,
): StageRow[] {
  const byStage = new Map<string, number>();
  for (const c of [...counts, { stage: null, count: unstaged }]) {
    if (c.count === 0 && c.stage === null) continue;
    const key = c.stage ?? 'none';
    byStage.set(key, (byStage.get(key) ?? 0) + c.count);
  }
  const rows: StageRow[] = scheme.bins.map((bin, i) => ({
    stage: bin.stage,
    range: stageRange(bin),
    count: byStage.get(bin.stage) ?? 0,
    colour: stageColour(i),
  }));
  const known = new Set(scheme.bins.map((b) => b.stage));
  for (const [stage, count] of byStage) {
    if (known.has(stage)) continue;
    rows.push({
      stage,
      range: stage === 'none' ? 'no measurable wall' : 'not in this scheme',
      count,
      colour: '#6b7280',
    });
  }
  return rows;
}

export function StageDistribution({
  scheme,
  counts,
  unstaged = 0,
}: {
  scheme: StagingSchemeProps;
  counts: readonly { readonly stage: string | null; readonly count: number }[];
  /** Latest results without a burden, when `counts` leaves them out. */
  unstaged?: number;
}) {
  const rows = stageRows(scheme, counts, unstaged);
  const total = rows.reduce((n, r) => n + r.count, 0);
  const label = (stage: string) => (stage === 'none' ? 'No stage' : `${scheme.name} ${stage}`);
  return (
    <div className="space-y-3">
      <div
        role="img"
        aria-label={`${scheme.name} stages among the ${total} latest results: ${rows.map((r) => `${label(r.stage)}, ${r.count}`).join('; ')}.`}
        data-testid={`stage-chart-${scheme.name}`}
      >
        <ResponsiveContainer width="100%" height={220}>
          <BarChart
            data={rows}
            accessibilityLayer={false}
            margin={{ top: 20, right: 8, bottom: 4, left: 0 }}
          >
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" vertical={false} />
            <XAxis
              dataKey="stage"
              tickFormatter={(s: string) => label(s)}
              tick={AXIS_TICK}
              stroke="var(--border)"
            />
            <YAxis allowDecimals={false} tick={AXIS_TICK} stroke="var(--border)" width={48} />
            <Bar dataKey="count" isAnimationActive={false}>
              {rows.map((r) => (
                <Cell key={r.stage} fill={r.colour} />
              ))}
              <LabelList dataKey="count" position="top" fill="var(--foreground)" fontSize={12} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
      <table className="w-full text-sm">
        <caption className="sr-only">{scheme.name} stage counts among the latest results</caption>
        <thead>
          <tr className="text-left text-muted-foreground">
            <th scope="col" className="py-1 font-medium">
              Stage
            </th>
            <th scope="col" className="py-1 font-medium">
              Burden
            </th>
            <th scope="col" className="py-1 text-right font-medium">
              Results
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.stage} className="border-t border-border">
              <td className="py-1">
                <span
                  aria-hidden="true"
                  className="mr-2 inline-block size-2.5 rounded-sm"
                  style={{ background: r.colour }}
                />
                {label(r.stage)}
              </td>
              <td className="py-1 text-muted-foreground">{r.range}</td>
              <td
                className="py-1 text-right font-medium tabular-nums"
                data-testid={`stage-count-${scheme.name}-${r.stage}`}
              >
                {r.count}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface CohortPoint {
  readonly patientRef: string;
  readonly studyRef: string;
  readonly scarBurdenPercent: number | null;
  readonly laVolumeMl: number;
  readonly decaafStage: string | null;
}

interface ScatterPoint {
  readonly studyRef: string;
  readonly burden: number;
  readonly laVolumeMl: number;
  readonly stage: string | null;
}

function CohortTooltip({ active, payload }: TooltipContentProps) {
  const p = (active ? payload?.[0]?.payload : undefined) as ScatterPoint | undefined;
  if (!p) return null;
  return (
    <div className="rounded-md border border-border bg-card px-3 py-2 text-xs text-foreground shadow-md">
      <div>Burden {percent(p.burden)}</div>
      <div>LA volume {ml(p.laVolumeMl)}</div>
      <div>DECAAF {p.stage ?? '–'}</div>
      <div className="mt-1 text-muted-foreground">Click to open the study</div>
    </div>
  );
}

/** Burden (y) against LA volume (x), one point per patient's latest result, coloured by DECAAF stage. */
export function BurdenVolumeScatter({
  points,
  scheme,
  withBurden,
}: {
  points: readonly CohortPoint[];
  /** How many latest results have a burden (the query may send only the newest of them). */
  withBurden: number;
  /** The scheme that colours the points (DECAAF: the one cohortSummary stages by). */
  scheme: StagingSchemeProps;
}) {
  const router = useRouter();
  const data: ScatterPoint[] = points.flatMap((p) =>
    p.scarBurdenPercent === null
      ? []
      : [
          {
            studyRef: p.studyRef,
            burden: p.scarBurdenPercent,
            laVolumeMl: p.laVolumeMl,
            stage: p.decaafStage,
          },
        ],
  );
  if (data.length === 0) {
    return <p className="text-sm text-muted-foreground">No result with a burden yet.</p>;
  }
  const colourOf = (stage: string | null) => {
    const i = scheme.bins.findIndex((b) => b.stage === stage);
    return i < 0 ? '#6b7280' : stageColour(i);
  };
  const burdenMax = Math.max(50, Math.ceil(Math.max(...data.map((d) => d.burden)) / 10) * 10);
  const burdenStep = burdenMax > 60 ? 20 : 10;
  const burdenTicks = Array.from({ length: burdenMax / burdenStep + 1 }, (_, i) => i * burdenStep);
  // LA volume on the range the cohort spans (20 mL steps), not from 0: the spread is the point.
  const volumes = data.map((d) => d.laVolumeMl);
  const volumeLo = Math.max(0, Math.floor((Math.min(...volumes) - 10) / 20) * 20);
  const volumeHi = Math.ceil((Math.max(...volumes) + 10) / 20) * 20;
  const shape = (props: ScatterShapeProps): ReactElement => {
    const p = props.payload as ScatterPoint | undefined;
    if (!p || props.cx == null || props.cy == null) return <g />;
    return (
      <circle
        cx={props.cx}
        cy={props.cy}
        r={4.5}
        fill={colourOf(p.stage)}
        stroke="var(--card)"
        strokeWidth={1}
        style={{ cursor: 'pointer' }}
        data-testid="cohort-point"
        data-study={p.studyRef}
        data-burden={p.burden}
        data-la-volume={p.laVolumeMl}
        onClick={() => router.push(`/studies/${p.studyRef}`)}
      />
    );
  };
  return (
    <div className="space-y-3">
      <div
        role="img"
        aria-label={`Scar burden against LA volume for ${data.length} latest results, coloured by ${scheme.name} stage.`}
        data-testid="burden-volume-chart"
      >
        <ResponsiveContainer width="100%" height={320}>
          <ScatterChart
            accessibilityLayer={false}
            margin={{ top: 8, right: 16, bottom: 16, left: 0 }}
          >
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
            <XAxis
              type="number"
              dataKey="laVolumeMl"
              name="LA volume"
              domain={[volumeLo, volumeHi]}
              tickFormatter={(v: number) => `${v} mL`}
              tick={AXIS_TICK}
              stroke="var(--border)"
            />
            <YAxis
              type="number"
              dataKey="burden"
              name="Scar burden"
              domain={[0, burdenMax]}
              ticks={burdenTicks}
              tickFormatter={(v: number) => `${v} %`}
              tick={AXIS_TICK}
              stroke="var(--border)"
              width={56}
            />
            <Tooltip content={CohortTooltip} cursor={{ stroke: 'var(--border)' }} />
            <Scatter data={data} shape={shape} isAnimationActive={false} />
          </ScatterChart>
        </ResponsiveContainer>
      </div>
      <ul aria-label="Point colours" className="flex flex-wrap gap-x-5 gap-y-1 text-xs">
        {scheme.bins.map((bin, i) => (
          <li key={bin.stage} className="flex items-center gap-2">
            <span
              aria-hidden="true"
              className="inline-block size-2.5 rounded-full"
              style={{ background: stageColour(i) }}
            />
            {scheme.name} {bin.stage} ({stageRange(bin)})
          </li>
        ))}
      </ul>
      <p className="text-xs text-muted-foreground">
        One point per patient: the latest result with a burden
        {data.length < withBurden ? ` (the newest ${data.length} of ${withBurden} are drawn)` : ''}.
        Click a point to open its study.
      </p>
    </div>
  );
}
