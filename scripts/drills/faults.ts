/**
 * `npm run drill:faults`: fault drills against the real stack (private Orthanc, private
 * PostgreSQL cluster, `lascar worker` processes), each with its figures: outcome, time to
 * recover, duplicates, lost studies.
 *
 *   a. 20 SIGKILLs of a worker at random moments while two worker processes segment 10 studies;
 *      the killed process is started again at once.
 *   b. Orthanc down for 2 minutes in the middle of a batch (stopped and started again on the same
 *      port and storage by the launcher's handle).
 *   c. PostgreSQL restarted (pg_ctl restart -m fast) in the middle of a job.
 *   d. A full disk: (d1) the worker's TMPDIR on a full 1 MiB tmpfs; (d2) Orthanc's storage on a
 *      small tmpfs that fills up while the worker stores its results, then is freed; (d3) the
 *      same while the series arrive (found later by the QIDO-RS poll only).
 *      (tmpfs needs root; without it, d is reported as not run.)
 *
 * Prints the figures, writes them to .drills/faults.md (raw: .drills/faults.json).
 *   npm run drill:faults [-- --only abcd] [--seed N] [--kills N]
 * `--only` takes letters (every drill of that letter) or single drills: `--only d3`, `--only c2d2`.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dicomDate } from '@lascar/core';
import { freePort } from '@lascar/testkit';
import { phantomStudy, type PhantomStudy } from './corpus.js';
import { markdownTable, selected } from './expectations.js';
import {
  REPO,
  sleep,
  startDrillStack,
  until,
  WorkerProcess,
  type DrillStack,
  type Exit,
} from './stack.js';

interface Args {
  readonly only: string;
  readonly seed: number;
  readonly kills: number;
  readonly studies: number;
  readonly out: string;
}

function parseArgs(argv: readonly string[]): Args {
  let only = 'abcd';
  let seed = 4242;
  let kills = 20;
  let studies = 10;
  let out = path.join(REPO, '.drills');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only = argv[++i] ?? only;
    else if (a === '--seed') seed = Number(argv[++i]);
    else if (a === '--kills') kills = Number(argv[++i]);
    else if (a === '--studies') studies = Number(argv[++i]);
    else if (a === '--out') out = path.resolve(argv[++i] ?? '.drills');
    else throw new Error(`unknown argument ${a}`);
  }
  return { only, seed, kills, studies, out };
}

const started = Date.now();
const say = (line: string) =>
  process.stderr.write(`[drill:faults ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** Mulberry32: the kill schedule is reproducible from --seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------

interface StudyState {
  readonly name: string;
  readonly state: string;
  readonly attempts: number;
  readonly error: string | null;
  readonly jobs: number;
  readonly results: number;
  readonly segs: number;
  readonly srs: number;
  readonly queueState: string | null;
}

/** What the database, the queue and Orthanc hold for each study. */
async function studyStates(
  stack: DrillStack,
  studies: readonly PhantomStudy[],
): Promise<StudyState[]> {
  const rows = await stack.query<{
    uid: string;
    state: string | null;
    attempts: number | null;
    error: string | null;
    jobs: number;
    results: number;
    queue: string | null;
  }>(
    `SELECT s."seriesInstanceUid" AS uid,
            (SELECT j.state::text FROM "Job" j WHERE j."seriesRef" = s.id ORDER BY j."createdAt" DESC LIMIT 1) AS state,
            (SELECT j.attempts FROM "Job" j WHERE j."seriesRef" = s.id ORDER BY j."createdAt" DESC LIMIT 1) AS attempts,
            (SELECT j.error FROM "Job" j WHERE j."seriesRef" = s.id ORDER BY j."createdAt" DESC LIMIT 1) AS error,
            (SELECT count(*)::int FROM "Job" j WHERE j."seriesRef" = s.id) AS jobs,
            (SELECT count(*)::int FROM "Measurement" m JOIN "Job" j ON j.id = m."jobRef" WHERE j."seriesRef" = s.id) AS results,
            (SELECT q.state::text FROM "Job" j JOIN pgboss.job q ON q.id = j."queueJobId"
              WHERE j."seriesRef" = s.id ORDER BY j."createdAt" DESC LIMIT 1) AS queue
       FROM "Series" s WHERE s."seriesInstanceUid" = ANY($1)`,
    [studies.map((s) => s.seriesInstanceUid)],
  );
  const bySeries = new Map(rows.map((r) => [r.uid, r]));
  const inOrthanc = await stack.listSeries();
  return studies.map((st) => {
    const r = bySeries.get(st.seriesInstanceUid);
    const count = (modality: string) =>
      inOrthanc.filter((x) => x.studyInstanceUid === st.studyInstanceUid && x.modality === modality)
        .length;
    return {
      name: st.name,
      state: r?.state ?? 'no job',
      attempts: r?.attempts ?? 0,
      error: r?.error ?? null,
      jobs: r?.jobs ?? 0,
      results: r?.results ?? 0,
      segs: count('SEG'),
      srs: count('SR'),
      queueState: r?.queue ?? null,
    };
  });
}

const TERMINAL = new Set(['completed', 'failed']);

async function untilAllTerminal(
  stack: DrillStack,
  studies: readonly PhantomStudy[],
  timeoutMs: number,
): Promise<{ states: StudyState[]; at: number; timedOut: boolean }> {
  const done = await until(
    async () => {
      const states = await studyStates(stack, studies).catch(() => undefined);
      return states?.every((s) => TERMINAL.has(s.state)) ? states : undefined;
    },
    timeoutMs,
    1000,
  );
  if (done) return { states: done, at: Date.now(), timedOut: false };
  return { states: await studyStates(stack, studies), at: Date.now(), timedOut: true };
}

interface Tally {
  readonly completed: number;
  readonly failed: string[];
  /** Extra SEGs, SRs, result rows or Job rows beyond one per study. */
  readonly duplicates: number;
  readonly duplicateDetail: string[];
  /** Studies without a completed job holding one SEG and one result. */
  readonly lost: string[];
  /** Job rows whose pg-boss entry says otherwise (completed vs not). */
  readonly queueDisagrees: string[];
  readonly attempts: number;
}

function tally(states: readonly StudyState[]): Tally {
  const duplicateDetail: string[] = [];
  let duplicates = 0;
  for (const s of states) {
    for (const [what, n] of [
      ['SEG', s.segs],
      ['SR', s.srs],
      ['result rows', s.results],
      ['Job rows', s.jobs],
    ] as const) {
      if (n > 1) {
        duplicates += n - 1;
        duplicateDetail.push(`${s.name}: ${n} ${what}`);
      }
    }
  }
  return {
    completed: states.filter((s) => s.state === 'completed').length,
    failed: states.filter((s) => s.state === 'failed').map((s) => `${s.name}: ${s.error}`),
    duplicates,
    duplicateDetail,
    lost: states
      .filter((s) => !(s.state === 'completed' && s.segs >= 1 && s.results >= 1))
      .map((s) => `${s.name} (${s.state}, ${s.segs} SEG, ${s.results} results)`),
    queueDisagrees: states
      .filter((s) => (s.state === 'completed') !== (s.queueState === 'completed'))
      .map((s) => `${s.name}: Job ${s.state}, queue ${s.queueState}`),
    attempts: states.reduce((a, s) => a + s.attempts, 0),
  };
}

async function storeStudies(stack: DrillStack, studies: readonly PhantomStudy[]): Promise<void> {
  for (const st of studies)
    for (const bytes of st.instances) {
      const r = await stack.store(bytes);
      if (!r.ok) throw new Error(`Orthanc refused an instance of ${st.name}: ${r.message}`);
    }
}

function rulesFile(dir: string): string {
  const file = path.join(dir, 'selection-rules.json');
  // The drills' studies are short (4 slices): let them past the instance-count rule.
  writeFileSync(file, JSON.stringify({ instanceCount: { min: 1, max: 1024 } }));
  return file;
}

interface DrillReport {
  readonly drill: string;
  readonly outcome: string;
  readonly recover: string;
  readonly duplicates: string;
  readonly lost: string;
  readonly figures: [string, string][];
  readonly ok: boolean;
}

function crashWatcher(crashes: string[]) {
  return (w: WorkerProcess, exit: Exit) => {
    crashes.push(
      `${w.name} exited by itself (code ${exit.code}, signal ${exit.signal}):\n${w.lastLines(6)}`,
    );
    say(`${w.name} exited by itself (code ${exit.code}); starting it again`);
    w.start();
  };
}

// ---------------------------------------------------------------------------------------------
// a. SIGKILLs

async function drillKills(args: Args, dir: string): Promise<DrillReport> {
  const random = rng(args.seed);
  const stack = await startDrillStack();
  const crashes: string[] = [];
  const workers: WorkerProcess[] = [];
  try {
    const env = stack.workerEnv({
      LASCAR_SELECTION_RULES: rulesFile(dir),
      // A killed job's lease: it is retried this long after the kill (default 900 s).
      LASCAR_JOB_TIMEOUT_SECONDS: '60',
      // 20 kills must not use up a study's retries (default 5).
      LASCAR_RETRY_LIMIT: '30',
      LASCAR_RETRY_DELAY_SECONDS: '1',
    });
    for (const n of [1, 2])
      workers.push(
        new WorkerProcess(
          `worker-${n}`,
          env,
          path.join(dir, `worker-${n}.log`),
          crashWatcher(crashes),
        ),
      );
    for (const w of workers) w.start();
    for (const w of workers) await w.untilReady();
    const studies = Array.from({ length: args.studies }, (_, n) =>
      phantomStudy(args.seed + n, `kill-${n + 1}`, 0.5, 6),
    );
    const t0 = Date.now();
    await storeStudies(stack, studies);
    say(`a: ${studies.length} studies stored; killing a worker ${args.kills} times`);
    const kills: { at: number; victim: string; phase: string }[] = [];
    for (let n = 0; n < args.kills; n++) {
      await sleep(2000 + random() * 8000);
      const alive = workers.filter((w) => w.alive);
      if (alive.length === 0) continue;
      const victim = alive[Math.floor(random() * alive.length)]!;
      const phase = victim.busy ? 'mid-job' : victim.ready ? 'idle' : 'starting';
      await victim.kill('SIGKILL');
      kills.push({ at: Date.now(), victim: victim.name, phase });
      victim.start(); // the killed one comes back at once, as a supervisor would start it
    }
    const lastKill = Date.now();
    const done = Array.from(await studyStates(stack, studies)).filter((s) =>
      TERMINAL.has(s.state),
    ).length;
    say(
      `a: ${kills.length} kills done (${done}/${studies.length} studies finished meanwhile); waiting for the rest`,
    );
    const end = await untilAllTerminal(stack, studies, 15 * 60_000);
    // The queue settles a moment after the Job row (pg-boss completes the job when the handler returns).
    const settled =
      (await until(async () => {
        const s = await studyStates(stack, studies);
        return tally(s).queueDisagrees.length === 0 ? s : undefined;
      }, 30_000)) ?? (await studyStates(stack, studies));
    const t = tally(settled);
    const phases = (p: string) => kills.filter((k) => k.phase === p).length;
    const ok =
      !end.timedOut && t.completed === studies.length && t.duplicates === 0 && crashes.length === 0;
    return {
      drill: `a. ${kills.length} SIGKILLs, 2 workers, ${studies.length} studies`,
      outcome: `${t.completed}/${studies.length} completed${t.failed.length ? `, ${t.failed.length} failed` : ''}${end.timedOut ? ' (timed out)' : ''}`,
      recover: `${seconds(end.at - lastKill)} after the last kill (${seconds(end.at - t0)} in all)`,
      duplicates: String(t.duplicates),
      lost: String(t.lost.length),
      ok,
      figures: [
        [
          'kills',
          `${kills.length}: ${phases('mid-job')} mid-job, ${phases('idle')} idle, ${phases('starting')} while starting`,
        ],
        ['studies finished before the last kill', String(done)],
        ['attempts (sum over studies)', `${t.attempts} for ${studies.length} studies`],
        [
          'per study: SEG / SR / result rows / Job rows',
          settled.map((s) => `${s.segs}/${s.srs}/${s.results}/${s.jobs}`).join(' '),
        ],
        ['failed', t.failed.join('; ') || 'none'],
        ['duplicates', t.duplicateDetail.join('; ') || 'none'],
        ['lost', t.lost.join('; ') || 'none'],
        ['Job row vs pg-boss after 30 s', t.queueDisagrees.join('; ') || 'agree'],
        ['worker exits not caused by the drill', crashes.length ? crashes.join(' | ') : 'none'],
        [
          'settings',
          'LASCAR_JOB_TIMEOUT_SECONDS=60, LASCAR_RETRY_LIMIT=30, LASCAR_RETRY_DELAY_SECONDS=1',
        ],
      ],
    };
  } finally {
    for (const w of workers) {
      await w.stop().catch(() => undefined);
      w.close();
    }
    await stack.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// b. Orthanc down for 2 minutes

async function drillOrthancDown(args: Args, dir: string): Promise<DrillReport> {
  const stack = await startDrillStack();
  const crashes: string[] = [];
  const port = await freePort();
  const worker = new WorkerProcess(
    'worker',
    stack.workerEnv({
      LASCAR_SELECTION_RULES: rulesFile(dir),
      LASCAR_HTTP_PORT: String(port),
      LASCAR_JOB_TIMEOUT_SECONDS: '300',
      // Production retry settings: 5 retries, 30 s doubling (30 + 60 + 120 + ... s).
    }),
    path.join(dir, 'worker-b.log'),
    crashWatcher(crashes),
  );
  try {
    worker.start();
    await worker.untilReady();
    const studies = Array.from({ length: 6 }, (_, n) =>
      phantomStudy(args.seed + 100 + n, `pacs-down-${n + 1}`),
    );
    await storeStudies(stack, studies);
    // "Mid-batch": two studies done, the third running.
    await until(async () => {
      const s = await studyStates(stack, studies);
      return s.filter((x) => x.state === 'completed').length >= 2 &&
        s.some((x) => x.state === 'active')
        ? true
        : undefined;
    }, 10 * 60_000);
    const before = tally(await studyStates(stack, studies)).completed;
    const down = Date.now();
    await stack.orthanc.stop();
    say(`b: Orthanc stopped with ${before}/${studies.length} studies done; down for 120 s`);
    await sleep(10_000);
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then(async (r) => `HTTP ${r.status} ${(await r.text()).slice(0, 120)}`)
      .catch((e: unknown) => `no answer (${String(e)})`);
    await sleep(Math.max(0, down + 120_000 - Date.now()));
    const during = await studyStates(stack, studies);
    await stack.orthanc.restart();
    const up = Date.now();
    say('b: Orthanc back; waiting for the batch to finish');
    const end = await untilAllTerminal(stack, studies, 15 * 60_000);
    const t = tally(end.states);
    const ok =
      !end.timedOut && t.completed === studies.length && t.duplicates === 0 && crashes.length === 0;
    return {
      drill: 'b. Orthanc down 120 s mid-batch (6 studies, 1 worker)',
      outcome: `${t.completed}/${studies.length} completed${t.failed.length ? `, ${t.failed.length} failed` : ''}${end.timedOut ? ' (timed out)' : ''}`,
      recover: `${seconds(end.at - up)} after Orthanc was back`,
      duplicates: String(t.duplicates),
      lost: String(t.lost.length),
      ok,
      figures: [
        ['completed before the outage', String(before)],
        ['job states at the end of the outage', countBy(during.map((s) => s.state))],
        [
          'errors recorded during the outage',
          [...new Set(during.map((s) => s.error).filter(Boolean))].join(' | ') || 'none',
        ],
        ['worker /readyz 10 s into the outage', readyz],
        ['attempts (sum)', `${t.attempts} for ${studies.length} studies`],
        ['failed', t.failed.join('; ') || 'none'],
        ['duplicates', t.duplicateDetail.join('; ') || 'none'],
        ['lost', t.lost.join('; ') || 'none'],
        ['worker exits not caused by the drill', crashes.length ? crashes.join(' | ') : 'none'],
        [
          'settings',
          'production retry defaults (LASCAR_RETRY_LIMIT=5, LASCAR_RETRY_DELAY_SECONDS=30, doubling)',
        ],
      ],
    };
  } finally {
    await worker.stop().catch(() => undefined);
    worker.close();
    await stack.dispose();
  }
}

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// c. PostgreSQL restarted mid-job

/**
 * c1 (`restart`): pg_ctl restart -m fast while the networks run (down ~ seconds).
 * c2 (`outage`): pg_ctl stop -m fast while the networks run, start again once the job has ended
 * without a database (the worker's "queue update was lost" line) or after 90 s: the job's last
 * writes (its stage, its Job row, pg-boss's own complete/fail) find no database.
 */
async function drillPostgres(
  kind: 'restart' | 'outage',
  args: Args,
  dir: string,
): Promise<DrillReport> {
  const stack = await startDrillStack();
  const crashes: string[] = [];
  const worker = new WorkerProcess(
    'worker',
    stack.workerEnv({ LASCAR_SELECTION_RULES: rulesFile(dir), LASCAR_JOB_TIMEOUT_SECONDS: '60' }),
    path.join(dir, `worker-c-${kind}.log`),
    crashWatcher(crashes),
  );
  const seedBase = args.seed + (kind === 'restart' ? 200 : 250);
  try {
    worker.start();
    await worker.untilReady();
    const studies = Array.from({ length: 3 }, (_, n) =>
      phantomStudy(seedBase + n, `pg-${kind}-${n + 1}`, 0.5, 6),
    );
    await storeStudies(stack, studies);
    // Mid-job: the first series is loaded and the networks are running.
    const midJob = await until(
      async () => {
        const rows = await stack.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "JobStage" st JOIN "Job" j ON j.id = st."jobRef"
          WHERE st.stage = 'load' AND st.error IS NULL AND j.state = 'active'`,
        );
        return rows[0]!.n > 0 ? true : undefined;
      },
      5 * 60_000,
      200,
    );
    const t0 = Date.now();
    let lostWrite = false;
    if (kind === 'restart') {
      await stack.postgres.restart();
    } else {
      await stack.postgres.pause();
      lostWrite =
        (await until(() => (worker.said('queue update was lost') ? true : undefined), 90_000)) ??
        false;
      await stack.postgres.resume();
    }
    const back = Date.now();
    say(
      `c: PostgreSQL ${kind === 'restart' ? 'restarted' : 'stopped and started'} (${seconds(back - t0)} down)${midJob ? ' mid-job' : ' (no job was running)'}`,
    );
    const end = await untilAllTerminal(stack, studies, 12 * 60_000);
    const t = tally(end.states);
    const ok =
      !end.timedOut && t.completed === studies.length && t.duplicates === 0 && crashes.length === 0;
    return {
      drill:
        kind === 'restart'
          ? 'c1. PostgreSQL restarted (pg_ctl restart -m fast) mid-job (3 studies, 1 worker)'
          : 'c2. PostgreSQL stopped mid-job until the job ended, then started (3 studies, 1 worker)',
      outcome: `${t.completed}/${studies.length} completed${t.failed.length ? `, ${t.failed.length} failed` : ''}${end.timedOut ? ' (timed out)' : ''}`,
      recover: `${seconds(end.at - back)} after PostgreSQL was back`,
      duplicates: String(t.duplicates),
      lost: String(t.lost.length),
      ok,
      figures: [
        ['database down for', seconds(back - t0)],
        ...(kind === 'outage'
          ? ([['worker logged a lost queue write', String(lostWrite)]] as [string, string][])
          : []),
        ['attempts per study', end.states.map((s) => `${s.name} ${s.attempts}`).join(', ')],
        [
          'errors recorded',
          [...new Set(end.states.map((s) => s.error).filter(Boolean))].join(' | ') || 'none',
        ],
        ['failed', t.failed.join('; ') || 'none'],
        ['duplicates', t.duplicateDetail.join('; ') || 'none'],
        ['lost', t.lost.join('; ') || 'none'],
        ['worker exits not caused by the drill', crashes.length ? crashes.join(' | ') : 'none'],
        ['settings', 'LASCAR_JOB_TIMEOUT_SECONDS=60, production retry defaults'],
      ],
    };
  } finally {
    await worker.stop().catch(() => undefined);
    worker.close();
    await stack.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// d. full disks (tmpfs)

function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    // not mounted
  }
}

/** Fills the filesystem holding `dir` up to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler.bin');
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  for (;;) {
    try {
      appendFileSync(filler, chunk);
    } catch {
      break; // ENOSPC
    }
  }
  for (;;) {
    try {
      appendFileSync(filler, Buffer.alloc(512));
    } catch {
      return filler;
    }
  }
}

async function drillTmpFull(args: Args, dir: string): Promise<DrillReport> {
  const mount = mkdtempSync(path.join(tmpdir(), 'lascar-drill-tmp-'));
  if (!mountTmpfs(mount, '1m')) {
    rmSync(mount, { recursive: true, force: true });
    return notRun('d1. worker TMPDIR on a full disk', 'cannot mount a tmpfs (needs root)');
  }
  const stack = await startDrillStack();
  const crashes: string[] = [];
  const worker = new WorkerProcess(
    'worker',
    stack.workerEnv({
      LASCAR_SELECTION_RULES: rulesFile(dir),
      TMPDIR: mount,
      TMP: mount,
      TEMP: mount,
    }),
    path.join(dir, 'worker-d1.log'),
    crashWatcher(crashes),
  );
  try {
    const filler = fill(mount);
    const free = statfsSync(mount);
    worker.start();
    await worker.untilReady();
    const studies = Array.from({ length: 2 }, (_, n) =>
      phantomStudy(args.seed + 300 + n, `tmp-full-${n + 1}`),
    );
    const t0 = Date.now();
    await storeStudies(stack, studies);
    const end = await untilAllTerminal(stack, studies, 8 * 60_000);
    const t = tally(end.states);
    const written = readdirSync(mount)
      .filter((f) => path.join(mount, f) !== filler)
      .map((f) => `${f} (${statSync(path.join(mount, f)).size} bytes)`);
    return {
      drill: 'd1. worker TMPDIR on a full 1 MiB tmpfs (2 studies)',
      outcome: `${t.completed}/${studies.length} completed${t.failed.length ? `, ${t.failed.length} failed: ${t.failed.join('; ')}` : ''}${end.timedOut ? ' (timed out)' : ''}`,
      recover: `not needed (${seconds(end.at - t0)} for the batch)`,
      duplicates: String(t.duplicates),
      lost: String(t.lost.length),
      ok: !end.timedOut && t.completed === studies.length && crashes.length === 0,
      figures: [
        ['free bytes in TMPDIR', String(Number(free.bavail) * Number(free.bsize))],
        ['files created in TMPDIR by the worker process', written.join(', ') || 'none'],
        ['worker exits not caused by the drill', crashes.length ? crashes.join(' | ') : 'none'],
      ],
    };
  } finally {
    await worker.stop().catch(() => undefined);
    worker.close();
    await stack.dispose();
    unmount(mount);
    rmSync(mount, { recursive: true, force: true });
  }
}

/**
 * Orthanc's storage on a 64 MiB tmpfs that fills up:
 * - `results` (d2): the series arrived and became stable; the disk is full while the worker
 *   retrieves them and stores its SEG and SR, for 90 s; then it is freed.
 * - `arrival` (d3): the disk fills while the series arrive (before Orthanc calls them stable),
 *   for 30 s; then it is freed.
 */
async function drillPacsDiskFull(
  kind: 'results' | 'arrival',
  args: Args,
  dir: string,
): Promise<DrillReport> {
  const title =
    kind === 'results'
      ? "d2. Orthanc's storage (64 MiB tmpfs) full for 90 s while the worker stores results"
      : "d3. Orthanc's storage full for 30 s while the series arrive";
  const mount = mkdtempSync(path.join(tmpdir(), 'lascar-drill-pacs-'));
  if (!mountTmpfs(mount, '64m')) {
    rmSync(mount, { recursive: true, force: true });
    return notRun(title, 'cannot mount a tmpfs (needs root)');
  }
  const stack = await startDrillStack({ orthancStoreDir: mount, stableAgeSeconds: 3 });
  const crashes: string[] = [];
  const port = await freePort();
  const worker = new WorkerProcess(
    'worker',
    stack.workerEnv({
      LASCAR_SELECTION_RULES: rulesFile(dir),
      LASCAR_HTTP_PORT: String(port),
      LASCAR_JOB_TIMEOUT_SECONDS: '300',
      // Only the QIDO-RS poll can find what Orthanc never announced (d3); production polls every
      // 300 s after 60 s quiet: shortened here so the drill fits in minutes.
      LASCAR_QIDO_POLL_SECONDS: '20',
      LASCAR_QIDO_QUIET_SECONDS: '10',
    }),
    path.join(dir, `worker-d-${kind}.log`),
    crashWatcher(crashes),
  );
  try {
    // Dated today, as a scan arriving now is: the QIDO-RS poll watches recent study dates only.
    const today = dicomDate(new Date());
    const studies = Array.from({ length: 3 }, (_, n) =>
      phantomStudy(
        args.seed + (kind === 'results' ? 400 : 450) + n,
        `pacs-full-${kind}-${n + 1}`,
        0.5,
        4,
        today,
      ),
    );
    const ours = new Set(studies.map((st) => st.seriesInstanceUid));
    const stableOnes = async () =>
      [...(await stack.stableSeries())].filter((uid) => ours.has(uid)).length;
    await storeStudies(stack, studies);
    if (kind === 'results') {
      // Full only once Orthanc has announced every series (its StableSeries changes).
      await until(async () => ((await stableOnes()) === studies.length ? true : undefined), 60_000);
    }
    const filler = fill(mount);
    say(`${title.slice(0, 3)} Orthanc storage full; starting the worker`);
    const t0 = Date.now();
    worker.start();
    await worker.untilReady();
    await sleep(kind === 'results' ? 90_000 : 30_000);
    const full = await studyStates(stack, studies);
    const orthancUp = stack.orthanc.running;
    rmSync(filler);
    const freed = Date.now();
    say(`${title.slice(0, 3)} disk freed; waiting for the jobs`);
    let end = await untilAllTerminal(stack, studies, (kind === 'results' ? 6 : 3) * 60_000);
    let t = tally(end.states);
    let manual = 'not needed';
    const failed = await stack.query<{ id: string }>(`SELECT id FROM "Job" WHERE state = 'failed'`);
    if (failed.length > 0) {
      // What an admin would do: POST /jobs/:id/retry for each failed job.
      for (const f of failed)
        await fetch(`http://127.0.0.1:${port}/jobs/${f.id}/retry`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.apiToken}` },
        });
      const retried = Date.now();
      end = await untilAllTerminal(stack, studies, 6 * 60_000);
      t = tally(end.states);
      manual = `${failed.length} failed job(s) retried by POST /jobs/:id/retry; ${t.completed} completed ${seconds(end.at - retried)} later`;
    }
    const announced = await stableOnes();
    return {
      drill: `${title} (3 studies)`,
      outcome: `${t.completed}/${studies.length} completed${t.failed.length ? `, ${t.failed.length} failed` : ''}${end.timedOut ? ' (timed out)' : ''}`,
      recover:
        t.completed === 0
          ? 'never'
          : manual === 'not needed'
            ? `${seconds(end.at - freed)} after the disk was freed`
            : `only after a manual retry (${manual})`,
      duplicates: String(t.duplicates),
      lost: String(t.lost.length),
      ok:
        !end.timedOut &&
        t.completed === studies.length &&
        t.duplicates === 0 &&
        crashes.length === 0,
      figures: [
        ['job states while the disk was full', countBy(full.map((s) => s.state))],
        [
          'errors while the disk was full',
          [...new Set(full.map((s) => s.error).filter(Boolean))].join(' | ') || 'none',
        ],
        ['Orthanc still running while full', String(orthancUp)],
        [
          'series Orthanc announced as stable (StableSeries changes)',
          `${announced}/${studies.length}`,
        ],
        ['manual action', manual],
        ['failed at the end', t.failed.join('; ') || 'none'],
        ['lost', t.lost.join('; ') || 'none'],
        ['duplicates', t.duplicateDetail.join('; ') || 'none'],
        ['worker exits not caused by the drill', crashes.length ? crashes.join(' | ') : 'none'],
        ['time in all', seconds(Date.now() - t0)],
      ],
    };
  } finally {
    await worker.stop().catch(() => undefined);
    worker.close();
    await stack.dispose();
    unmount(mount);
    rmSync(mount, { recursive: true, force: true });
  }
}

function notRun(drill: string, why: string): DrillReport {
  return {
    drill,
    outcome: `not run: ${why}`,
    recover: '-',
    duplicates: '-',
    lost: '-',
    figures: [],
    ok: true,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = path.join(args.out, 'faults');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const drills: [string, (a: Args, d: string) => Promise<DrillReport>][] = [
    ['a', drillKills],
    ['b', drillOrthancDown],
    ['c1', (a, d) => drillPostgres('restart', a, d)],
    ['c2', (a, d) => drillPostgres('outage', a, d)],
    ['d1', drillTmpFull],
    ['d2', (a, d) => drillPacsDiskFull('results', a, d)],
    ['d3', (a, d) => drillPacsDiskFull('arrival', a, d)],
  ];
  const reports: DrillReport[] = [];
  for (const [key, run] of drills) {
    if (!selected(args.only, key)) continue;
    const t0 = Date.now();
    try {
      reports.push(await run(args, dir));
    } catch (error) {
      reports.push({
        drill: `${key}. ${run.name}`,
        outcome: `drill error: ${error instanceof Error ? error.message : String(error)}`,
        recover: '-',
        duplicates: '-',
        lost: '-',
        figures: [],
        ok: false,
      });
    }
    say(
      `${reports[reports.length - 1]!.drill}: ${reports[reports.length - 1]!.outcome} (${seconds(Date.now() - t0)})`,
    );
  }
  const summary = markdownTable(
    ['drill', 'outcome', 'time to recover', 'duplicates', 'lost studies'],
    reports.map((r) => [r.drill, r.outcome, r.recover, r.duplicates, r.lost]),
  );
  const details = reports
    .filter((r) => r.figures.length > 0)
    .map((r) => `### ${r.drill}\n\n${markdownTable(['figure', 'value'], r.figures)}`)
    .join('\n\n');
  const md = `# Fault drills (${new Date().toISOString()}, seed ${args.seed})\n\n${summary}\n\n${details}\n`;
  writeFileSync(path.join(args.out, 'faults.md'), md);
  writeFileSync(path.join(args.out, 'faults.json'), JSON.stringify(reports, null, 2));
  process.stdout.write(`${md}\ntable: ${path.join(args.out, 'faults.md')}\n`);
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `drill:faults: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(2);
});
