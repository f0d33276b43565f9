/**
 * `npm run drill:inputs`: the bad-input corpus (corpus.ts) through `lascar segment` and through a
 * real worker (stored into a private Orthanc, processed by a `lascar worker` process on a private
 * PostgreSQL cluster; NIfTI inputs only through the CLI). Prints a table of what was expected and
 * what happened, writes it to .drills/inputs.md (and the raw outcomes to .drills/inputs.json),
 * and exits 1 when an expectation is not met.
 *
 *   npm run drill:inputs [-- --only REGEX] [--no-worker] [--no-cli] [--out DIR]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCorpus, DEFAULT_CORPUS_OPTIONS, type CorpusCase } from './corpus.js';
import {
  clip,
  describeCli,
  describeSeries,
  explainingLine,
  judgeCli,
  judgeWorker,
  markdownTable,
  type CliOutcome,
  type SeriesOutcome,
  type Verdict,
  type WorkerOutcome,
} from './expectations.js';
import { REPO, startDrillStack, until, WorkerProcess, type DrillStack } from './stack.js';

interface Args {
  readonly only?: RegExp;
  readonly worker: boolean;
  readonly cli: boolean;
  readonly out: string;
  /** Seconds the worker may take after the CLI runs are done. */
  readonly settleSeconds: number;
}

function parseArgs(argv: readonly string[]): Args {
  let only: RegExp | undefined;
  let worker = true;
  let cli = true;
  let out = path.join(REPO, '.drills');
  let settleSeconds = 240;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only = new RegExp(argv[++i] ?? '');
    else if (a === '--no-worker') worker = false;
    else if (a === '--no-cli') cli = false;
    else if (a === '--out') out = path.resolve(argv[++i] ?? '.drills');
    else if (a === '--settle-seconds') settleSeconds = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return { ...(only ? { only } : {}), worker, cli, out, settleSeconds };
}

const CLI = path.join(REPO, 'apps/cli/bin/lascar.js');
const CLI_TIMEOUT_MS = 240_000;

/** Where a case's input lies on disk: its folder (DICOM) or its one file (NIfTI). */
function writeCase(root: string, c: CorpusCase): string {
  const dir = path.join(root, 'cases', c.name);
  mkdirSync(dir, { recursive: true });
  for (const f of c.files) writeFileSync(path.join(dir, f.name), f.bytes);
  return c.kind === 'nifti' ? path.join(dir, c.files[0]!.name) : dir;
}

function runCli(input: string, out: string): Promise<CliOutcome> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, 'segment', input, '--out', out, '--ep', 'cpu'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stdout.resume();
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, CLI_TIMEOUT_MS);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      let laVolumeMl: number | undefined;
      try {
        laVolumeMl = (
          JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as { laVolumeMl: number }
        ).laVolumeMl;
      } catch {
        // no report: a refusal or a crash
      }
      resolve({
        exitCode: code,
        signal,
        message: timedOut ? `no answer after ${CLI_TIMEOUT_MS / 1000} s` : explainingLine(stderr),
        stderr,
        ...(laVolumeMl !== undefined ? { laVolumeMl } : {}),
        ...(timedOut ? { timedOut } : {}),
      });
    });
  });
}

interface Stored {
  /** Series UIDs Orthanc accepted files into. */
  readonly series: Set<string>;
  /** Orthanc's refusals, by file. */
  readonly refused: string[];
}

interface SeriesRow {
  uid: string;
  selected: boolean | null;
  reason: string | null;
  state: string | null;
  attempts: number | null;
  error: string | null;
  la: number | null;
  qc: string[] | null;
}

/** What the database says of each series, or undefined for a series it does not know. */
async function seriesRows(
  stack: DrillStack,
  uids: readonly string[],
): Promise<Map<string, SeriesRow>> {
  const rows = await stack.query<SeriesRow>(
    `SELECT s."seriesInstanceUid" AS uid, d.selected, d.reason,
            j.state::text AS state, j.attempts, j.error, m."laVolumeMl" AS la, m."qcFlags" AS qc
       FROM "Series" s
       LEFT JOIN LATERAL (SELECT selected, reason FROM "SelectionDecision"
                           WHERE "seriesRef" = s.id ORDER BY "decidedAt" DESC LIMIT 1) d ON true
       LEFT JOIN LATERAL (SELECT * FROM "Job" WHERE "seriesRef" = s.id
                           ORDER BY "createdAt" DESC LIMIT 1) j ON true
       LEFT JOIN "Measurement" m ON m."jobRef" = j.id
      WHERE s."seriesInstanceUid" = ANY($1)`,
    [uids],
  );
  return new Map(rows.map((r) => [r.uid, r]));
}

function outcomeOf(row: SeriesRow | undefined, final: boolean): SeriesOutcome | undefined {
  if (row?.state === 'completed') {
    const qc = row.qc?.length ? `needs review: ${row.qc.join('; ')}` : undefined;
    return {
      kind: 'completed',
      attempts: row.attempts ?? 1,
      laVolumeMl: row.la,
      ...(qc ? { message: qc } : {}),
    };
  }
  if (row?.state === 'failed')
    return { kind: 'failed', attempts: row.attempts ?? 1, message: row.error ?? '' };
  if (row?.selected === false) return { kind: 'skipped', message: row.reason ?? '' };
  if (!final) return undefined;
  if (row?.state) return { kind: 'open', state: row.state, message: row.error ?? '' };
  return {
    kind: 'lost',
    message: row ? 'selected but no job' : 'stored in Orthanc, never seen by the worker',
  };
}

interface Result {
  readonly c: CorpusCase;
  cli?: CliOutcome;
  cliVerdict?: Verdict;
  worker?: WorkerOutcome;
  workerVerdict?: Verdict;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  const say = (line: string) => process.stderr.write(`[drill:inputs ${elapsed()}] ${line}\n`);
  rmSync(path.join(args.out, 'inputs'), { recursive: true, force: true });
  const root = path.join(args.out, 'inputs');
  mkdirSync(root, { recursive: true });

  const corpus = (await buildCorpus({ ...DEFAULT_CORPUS_OPTIONS, repoRoot: REPO })).filter(
    (c) => !args.only || args.only.test(c.name),
  );
  say(`${corpus.length} inputs generated`);
  const results: Result[] = corpus.map((c) => ({ c }));

  let stack: DrillStack | undefined;
  let worker: WorkerProcess | undefined;
  const crashes: { at: number; exit: string; during: string[]; lines: string }[] = [];
  const stored = new Map<string, Stored>();
  const stop = async () => {
    await worker?.stop().catch(() => undefined);
    worker?.close();
    await stack?.dispose();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stop().then(() => process.exit(130)));

  try {
    if (args.worker) {
      stack = await startDrillStack();
      const rules = path.join(root, 'selection-rules.json');
      // The corpus's series are short (4-9 slices): let them past the instance-count rule, so the
      // reader, not the rule, decides about them. Everything else is the shipped rule set.
      writeFileSync(rules, JSON.stringify({ instanceCount: { min: 1, max: 1024 } }));
      const env = stack.workerEnv({
        LASCAR_HTTP_PORT: String(stack.webhookPort),
        LASCAR_SELECTION_RULES: rules,
        LASCAR_RETRY_LIMIT: '2',
        LASCAR_RETRY_DELAY_SECONDS: '1',
        LASCAR_JOB_TIMEOUT_SECONDS: '600',
      });
      const s = stack;
      worker = new WorkerProcess('worker', env, path.join(root, 'worker.log'), (w, exit) => {
        // A crash: note the series it was working on, start it again, carry on.
        void s
          .query<{ uid: string }>(
            `SELECT s."seriesInstanceUid" AS uid FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef" WHERE j.state = 'active'`,
          )
          .catch(() => [])
          .then((rows) => {
            crashes.push({
              at: exit.at,
              exit: `code ${exit.code} signal ${exit.signal}`,
              during: rows.map((r) => r.uid),
              lines: w.lastLines(),
            });
            say(`worker exited (code ${exit.code}, signal ${exit.signal}); restarting`);
            w.start();
          });
      });
      worker.start();
      await worker.untilReady();
      say('worker ready; storing the DICOM inputs in Orthanc');
      for (const c of corpus) {
        if (c.kind !== 'dicom') continue;
        const entry: Stored = { series: new Set(), refused: [] };
        for (const f of c.files) {
          const r = await stack.store(f.bytes);
          if (r.ok) entry.series.add(r.seriesInstanceUid);
          else entry.refused.push(`${f.name}: ${r.message}`);
        }
        stored.set(c.name, entry);
      }
    }

    if (args.cli) {
      for (const [n, r] of results.entries()) {
        const input = writeCase(root, r.c);
        r.cli = await runCli(input, path.join(root, 'out', r.c.name));
        r.cliVerdict = judgeCli(r.c.expected.cli, r.cli);
        say(`CLI ${n + 1}/${results.length} ${r.c.name}: ${clip(describeCli(r.cli), 120)}`);
      }
    }

    if (stack && worker) {
      const all = [...stored.values()].flatMap((s) => [...s.series]);
      say(`waiting for the worker to decide about ${all.length} series`);
      const s = stack;
      await until(
        async () => {
          const rows = await seriesRows(s, all);
          const open = all.filter((uid) => !outcomeOf(rows.get(uid), false));
          return open.length === 0 ? true : undefined;
        },
        args.settleSeconds * 1000,
        2000,
      );
      const rows = await seriesRows(stack, all);
      for (const r of results) {
        const st = stored.get(r.c.name);
        if (!st || !r.c.expected.worker) continue;
        const series: SeriesOutcome[] = [...st.series].map((uid) =>
          outcomeOf(rows.get(uid), true)!,
        );
        if (st.refused.length > 0)
          series.push({
            kind: 'refused',
            message:
              st.refused.length === 1
                ? st.refused[0]!
                : `${st.refused.length} files, e.g. ${st.refused[0]!}`,
          });
        const crashedDuring = crashes.some((c) => c.during.some((uid) => st.series.has(uid)));
        r.worker = { series, stayedUp: !crashedDuring };
        r.workerVerdict = judgeWorker(r.c.expected.worker, r.worker);
      }
      // Nothing lost: every series Orthanc holds (but our own SEG and SR) has a job or a decision.
      const inOrthanc = (await stack.listSeries()).filter(
        (x) => x.modality !== 'SEG' && x.modality !== 'SR',
      );
      const known = await seriesRows(
        stack,
        inOrthanc.map((x) => x.seriesInstanceUid),
      );
      const lost = inOrthanc.filter((x) => !outcomeOf(known.get(x.seriesInstanceUid), false));
      const segs = (await stack.listSeries()).filter((x) => x.modality === 'SEG').length;
      summary.push(
        `worker: ${inOrthanc.length} series stored, ${lost.length} without a job outcome or a decision` +
          (lost.length ? ` (${lost.map((x) => x.seriesInstanceUid).join(', ')})` : '') +
          `; ${segs} SEG stored; worker process started ${worker.starts} time(s), ${crashes.length} crash(es)`,
      );
      if (lost.length > 0) failures.push(`${lost.length} stored series lost`);
      for (const c of crashes)
        summary.push(
          `crash at +${((c.at - started) / 1000).toFixed(0)} s (${c.exit}) during ${c.during.join(', ') || 'no job'}:\n${c.lines}`,
        );
    }
  } finally {
    await stop();
  }

  report(results, args, started);
}

const summary: string[] = [];
const failures: string[] = [];

function report(results: readonly Result[], args: Args, started: number): void {
  const header = [
    'input',
    'expected (CLI / worker)',
    'CLI got',
    'worker got',
    'worker stayed up',
    'verdict',
  ];
  const verdictOf = (r: Result): string => {
    const problems = [r.cliVerdict, r.workerVerdict]
      .filter((v): v is Verdict => v !== undefined && !v.ok)
      .map((v) => v.why);
    return problems.length ? `NOT MET: ${problems.join('; ')}` : 'met';
  };
  const rows = results.map((r) => [
    `${r.c.name} (${r.c.what})`,
    `${r.c.expected.cli} / ${r.c.expected.worker ?? 'CLI only'}`,
    r.cli ? describeCli(r.cli) : 'not run',
    r.worker
      ? r.worker.series.map(describeSeries).join('; ')
      : r.c.expected.worker
        ? 'not run'
        : '-',
    r.worker ? (r.worker.stayedUp ? 'yes' : 'NO') : '-',
    verdictOf(r),
  ]);
  const unmet = results.filter((r) => verdictOf(r) !== 'met');
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const totals = `${results.length} inputs, ${results.length - unmet.length} met, ${unmet.length} not met; ${minutes} min`;
  const md = [
    `# Bad-input drill (${new Date().toISOString()})`,
    '',
    totals,
    '',
    markdownTable(header, rows),
    '',
    ...summary.map((s) => `- ${s.replace(/\n/g, '\n  ')}`),
    '',
  ].join('\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'inputs.md'), md);
  writeFileSync(
    path.join(args.out, 'inputs.json'),
    JSON.stringify(
      results.map((r) => ({
        input: r.c.name,
        what: r.c.what,
        expected: r.c.expected,
        cli: r.cli && { ...r.cli, stderr: undefined },
        cliVerdict: r.cliVerdict,
        worker: r.worker,
        workerVerdict: r.workerVerdict,
      })),
      null,
      2,
    ),
  );
  // The console gets the same table with long messages shortened.
  const shortRows = rows.map((r) => [
    clip(r[0]!, 48),
    r[1]!,
    clip(r[2]!, 70),
    clip(r[3]!, 70),
    r[4]!,
    clip(r[5]!, 60),
  ]);
  process.stdout.write(`${markdownTable(header, shortRows)}\n\n${summary.join('\n')}\n${totals}\n`);
  process.stdout.write(`table: ${path.join(args.out, 'inputs.md')}\n`);
  if (unmet.length > 0 || failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `drill:inputs: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(2);
});
