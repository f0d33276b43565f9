/** The jobs page's filter as the URL (and the "retry all failed" form) carries it. */
import { JOB_STATES, type JobFilter, type JobState } from '@lascar/db';

export interface JobSearchParams {
  state?: string;
  from?: string;
  to?: string;
  q?: string;
  page?: string;
}

function day(value: string | undefined): Date | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const d = new Date(`${value}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Unknown states and malformed dates are ignored (the form only offers valid ones). */
export function jobFilterOf(p: JobSearchParams): JobFilter {
  const state = JOB_STATES.find((s) => s === p.state) as JobState | undefined;
  const from = day(p.from);
  const toDay = day(p.to);
  // "to" is the last day included.
  const to = toDay ? new Date(toDay.getTime() + 24 * 3600_000) : undefined;
  const q = p.q?.trim().slice(0, 200);
  return {
    ...(state ? { state } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(q ? { q } : {}),
  };
}

/** The filter's fields, for links and hidden inputs (page excluded). */
export function filterParams(p: JobSearchParams): Record<string, string> {
  return Object.fromEntries(
    (['state', 'from', 'to', 'q'] as const)
      .map((k) => [k, p[k]?.trim() ?? ''] as const)
      .filter(([, v]) => v !== ''),
  );
}
