/** How numbers and dates read on every page (one place, so tables, charts and CSV agree). */

export function percent(value: number | null | undefined, digits = 1): string {
  return value == null || !Number.isFinite(value) ? '–' : `${value.toFixed(digits)} %`;
}

export function ml(value: number | null | undefined, digits = 1): string {
  return value == null || !Number.isFinite(value) ? '–' : `${value.toFixed(digits)} mL`;
}

/** Percentage points with a sign: "+3.2 pp". */
export function points(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–';
  const sign = value > 0 ? '+' : value < 0 ? '−' : '±';
  return `${sign}${Math.abs(value).toFixed(1)} pp`;
}

/** DICOM person names (SMITH^JOHN) as people read them: "SMITH, JOHN". */
export function personName(name: string | null | undefined): string {
  if (!name) return '–';
  const [family, given, middle] = name.split('^');
  return [family, [given, middle].filter(Boolean).join(' ')].filter(Boolean).join(', ');
}

export function dateTime(d: Date | string | null | undefined): string {
  if (!d) return '–';
  const date = typeof d === 'string' ? new Date(d) : d;
  return date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function duration(ms: number | null | undefined): string {
  if (ms == null) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
