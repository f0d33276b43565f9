/**
 * What the bad-input drill expects of each input, and whether what happened meets it. Pure, so
 * the rules themselves are unit-tested (expectations.test.ts).
 *
 * - usable: the CLI exits 0 with a report; every series the worker was given ends `completed`.
 * - unusable: the CLI exits 2 with one clear line; in the worker each series is refused by the
 *   PACS, skipped by the selection rules with a reason, or its job fails with one clear line.
 * - either: a result or a clear refusal are both right (e.g. a coronal stack: resampled, or
 *   refused by a selection rule).
 * Whatever the input, the worker process stays up and no stored series is left without a job or
 * a selection decision.
 */

export type Expectation = 'usable' | 'unusable' | 'either';

export interface CliOutcome {
  /** null when the process was killed (by a signal or the drill's time limit). */
  readonly exitCode: number | null;
  readonly signal?: string | null;
  /** The line that explains the outcome: the `lascar: ...` error line, or the last stderr line. */
  readonly message: string;
  /** Everything on stderr (to recognise a stack trace). */
  readonly stderr: string;
  readonly laVolumeMl?: number;
  readonly timedOut?: boolean;
}

/** What became of one series handed to the worker (stored into Orthanc). */
export type SeriesOutcome =
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'skipped'; readonly message: string }
  | {
      readonly kind: 'completed';
      readonly attempts: number;
      readonly laVolumeMl: number | null;
      readonly message?: string;
    }
  | { readonly kind: 'failed'; readonly attempts: number; readonly message: string }
  | { readonly kind: 'open'; readonly state: string; readonly message: string }
  | { readonly kind: 'lost'; readonly message: string };

export interface WorkerOutcome {
  readonly series: readonly SeriesOutcome[];
  /** False when the worker process exited while this input was being handled. */
  readonly stayedUp: boolean;
}

export interface Verdict {
  readonly ok: boolean;
  /** Why not, when not ok. */
  readonly why?: string;
}

const OK: Verdict = { ok: true };
const fail = (why: string): Verdict => ({ ok: false, why });

/** Text that gives away an internal error rather than a reason a person can act on. */
const INTERNAL = [
  /\b(TypeError|ReferenceError|SyntaxError|EvalError)\b/,
  /Cannot read propert/i,
  /is not a function/,
  /is not defined/,
  /Maximum call stack/,
  /\[object Object\]/,
  /Invalid (typed )?array length/i,
  /out of memory|heap limit/i,
  /\bundefined\b/,
];

/** Undefined when `message` is a clear one-line error; otherwise what is wrong with it. */
export function unclearMessage(message: string): string | undefined {
  const text = message.trim();
  if (text.length === 0) return 'no message';
  if (/\n/.test(text)) return 'more than one line';
  if (/^\s*at .+:\d+:\d+\)?$/m.test(text) || /\(node:internal|file:\/\/.*\.js:\d+/.test(text))
    return 'a stack trace';
  const internal = INTERNAL.find((pattern) => pattern.test(text));
  if (internal) return `internal error text (${internal.source})`;
  if (text.length > 2000) return `${text.length} characters long`;
  return undefined;
}

/** Whether stderr holds a stack trace (a crash, whatever the exit code). */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m.test(stderr);
}

// `lascar segment` exit 3: the study was read and segmented, but no LA was found (report.json
// says so; no SEG or SR). The input was usable; quality control flagged the result.
const NO_LA_FOUND = 3;

function cliUsable(o: CliOutcome): Verdict {
  if (o.timedOut) return fail('CLI timed out');
  if (o.exitCode === 0 || o.exitCode === NO_LA_FOUND) return OK;
  return fail(`expected a result, CLI exited ${o.exitCode ?? o.signal}`);
}

function cliUnusable(o: CliOutcome): Verdict {
  if (o.timedOut) return fail('CLI timed out');
  if (o.exitCode === 0 || o.exitCode === NO_LA_FOUND)
    return fail('CLI segmented an input that should be refused');
  if (o.exitCode !== 2)
    return fail(`CLI crashed (exit ${o.exitCode ?? o.signal}) instead of a usage error (exit 2)`);
  if (hasStackTrace(o.stderr)) return fail('CLI printed a stack trace');
  const unclear = unclearMessage(o.message);
  return unclear ? fail(`CLI message is not a clear one-line error: ${unclear}`) : OK;
}

export function judgeCli(expected: Expectation, o: CliOutcome): Verdict {
  if (expected === 'usable') return cliUsable(o);
  if (expected === 'unusable') return cliUnusable(o);
  return o.exitCode === 0 || o.exitCode === NO_LA_FOUND ? cliUsable(o) : cliUnusable(o);
}

function seriesUsable(s: SeriesOutcome): Verdict {
  if (s.kind === 'completed') return OK;
  return fail(`expected a result, worker: ${describeSeries(s)}`);
}

function seriesUnusable(s: SeriesOutcome): Verdict {
  switch (s.kind) {
    case 'completed':
      return fail('worker segmented an input that should be refused');
    case 'refused':
    case 'skipped':
    case 'failed': {
      const unclear = unclearMessage(s.message);
      return unclear ? fail(`worker ${s.kind} without a clear one-line error: ${unclear}`) : OK;
    }
    default:
      return fail(`worker: ${describeSeries(s)}`);
  }
}

export function judgeWorker(expected: Expectation, o: WorkerOutcome): Verdict {
  if (!o.stayedUp) return fail('the worker process exited');
  if (o.series.length === 0) return fail('nothing reached the worker');
  // Files the PACS refused beside a usable series (a stray text file) are no loss.
  const refusedOnly = o.series.every((s) => s.kind === 'refused');
  for (const s of o.series) {
    // Whatever is expected, a series left behind is lost work.
    if (s.kind === 'lost' || s.kind === 'open') return fail(`worker: ${describeSeries(s)}`);
    if (expected === 'usable' && s.kind === 'refused' && !refusedOnly) continue;
    const verdict =
      expected === 'usable'
        ? seriesUsable(s)
        : expected === 'unusable'
          ? seriesUnusable(s)
          : s.kind === 'completed'
            ? OK
            : seriesUnusable(s);
    if (!verdict.ok) return verdict;
  }
  return OK;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function describeSeries(s: SeriesOutcome): string {
  switch (s.kind) {
    case 'refused':
      return `refused by the PACS: ${s.message}`;
    case 'skipped':
      // The selection rules' reasons already start with "skipped: ...".
      return /^skipped\b/i.test(s.message) ? s.message : `skipped: ${s.message}`;
    case 'completed':
      return `completed${s.attempts > 1 ? ` after ${plural(s.attempts, 'attempt')}` : ''}: LA ${
        s.laVolumeMl === null ? '-' : s.laVolumeMl.toFixed(1)
      } mL${s.message ? ` (${s.message})` : ''}`;
    case 'failed':
      return `failed (${plural(s.attempts, 'attempt')}): ${s.message}`;
    case 'open':
      return `still ${s.state} at the deadline${s.message ? `: ${s.message}` : ''}`;
    case 'lost':
      return `LOST: ${s.message}`;
  }
}

export function describeCli(o: CliOutcome): string {
  if (o.timedOut) return `timed out: ${o.message}`;
  const head = o.exitCode === null ? `killed (${o.signal})` : `exit ${o.exitCode}`;
  if (o.exitCode === 0)
    return `${head}: LA ${o.laVolumeMl === undefined ? '-' : o.laVolumeMl.toFixed(1)} mL`;
  return `${head}: ${o.message}`;
}

/** The line of a CLI's stderr that explains a failure: its `lascar:` line, else the last one. */
export function explainingLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
  return lines.find((l) => l.startsWith('lascar:')) ?? lines[lines.length - 1] ?? '';
}

/** A Markdown table (pipes in cells escaped, newlines folded). */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ⏎ ');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** Shortens `text` to `max` characters for the console (the file keeps it whole). */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `--only`: a letter selects its drills, unless single drills of that letter are named (d3). */
export function selected(only: string, key: string): boolean {
  const letter = key[0]!;
  if (key.length > 1 && new RegExp(`${letter}\\d`).test(only)) return only.includes(key);
  return only.includes(letter);
}
