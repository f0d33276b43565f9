/**
 * `npm run bench:scale`: throughput (studies per minute) of 1, 2 and 4 `lascar worker` processes
 * sharing one PostgreSQL, on a burst of small phantom LGE studies, and the ratios between them.
 * Each setting gets a fresh PostgreSQL cluster and a fresh Orthanc (with the Lua webhook), so no
 * setting inherits another's queue or studies. It also checks that nothing serialises or
 * duplicates: every study processed exactly once (one completed job, one attempt that stored,
 * one SEG in Orthanc), lock waits sampled from pg_stat_activity during the run, and the share of
 * jobs each process took (from its own JSON log). Runs inside a private network namespace
 * (scripts/orthanc/in-private-network.sh), like bench:worker.
 *
 *   LASCAR_BENCH_STUDIES (8), LASCAR_BENCH_SCALE (0.75), LASCAR_BENCH_WORKERS ("1,2,4")
 *
 * Scale 0.75 is the smallest tried at which the shipped LA model still finds the LA (measured/true
 * volume 0.84-1.03 on three phantoms); at 0.5 it missed one (0.02), at 0.25 all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { DicomWebPacsClient } from '@lascar/pacs';
import {
  freePort,
  phantomSeries,
  startOrthanc,
  startPostgres,
  storeInOrthanc,
  waitFor,
  workerPacsEnv,
  type PhantomSeries,
} from '@lascar/testkit';
import { builtLascar } from '@lascar/testkit/cli';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Orthanc calls a series stable after this quiet time; longer than a loaded machine's gaps between instances. */
const STABLE_AGE_SECONDS = 2;
const LOCK_SAMPLE_MS = 200;
/** The model "finds the LA" when its volume is within this factor of the phantom's truth. */
const LA_TOLERANCE = 0.5;

interface LogEvent {
  readonly pid: number;
  readonly level: number;
  readonly msg: string;
  readonly error?: string;
  readonly seriesInstanceUid?: string;
}

interface LockWait {
  readonly pid: number;
  readonly waitEvent: string;
  readonly query: string;
}

export interface ScaleRow {
  readonly workers: number;
  readonly studies: number;
  /** First store into Orthanc -> last job finished. */
  readonly burstMs: number;
  /** First job started -> last job finished (intake and Orthanc's stable age left out). */
  readonly processingMs: number;
  readonly completedJobs: number;
  readonly failedJobs: number;
  readonly supersededJobs: number;
  /** Series with exactly one completed job, one attempt that stored and one SEG in Orthanc. */
  readonly exactlyOnce: number;
  readonly duplicates: string[];
  readonly lockSamples: number;
  readonly samplesWithLockWaits: number;
  readonly lockWaits: LockWait[];
  /** Jobs completed per worker process (pid -> count), from each process's log. */
  readonly share: number[];
  /** Measured / true LA volume, over the studies. */
  readonly laRatio: { min: number; max: number };
  /** Warnings and errors the workers logged. */
  readonly warnings: string[];
  readonly loadBefore: number;
  readonly loadAfter: number;
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly events: LogEvent[];
  readonly ready: Promise<void>;
}

function spawnWorker(bin: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [bin, 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: LogEvent[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: LogEvent;
      try {
        e = JSON.parse(line) as LogEvent;
      } catch {
        return;
      }
      events.push(e);
      if (e.msg === 'worker ready') resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  return { child, events, ready };
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null) return;
  const exited = new Promise((r) => w.child.once('exit', r));
  w.child.kill('SIGTERM');
  await exited;
}

/** Samples backends waiting on a heavyweight lock (row, table, transaction, advisory). */
function sampleLockWaits(url: string) {
  const client = new pg.Client({ connectionString: url });
  const waits = new Map<string, LockWait>();
  let samples = 0;
  let withWaits = 0;
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<LockWait>(
        `SELECT pid, wait_event AS "waitEvent", left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query
           FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      );
      samples += 1;
      if (rows.length > 0) withWaits += 1;
      for (const r of rows) waits.set(`${r.pid}|${r.query}`, r);
      await new Promise((r) => setTimeout(r, LOCK_SAMPLE_MS));
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, withWaits, waits: [...waits.values()] };
    },
  };
}

async function runSetting(
  workers: number,
  studies: readonly PhantomSeries[],
  bin: string,
): Promise<ScaleRow> {
  const loadBefore = os.loadavg()[0]!;
  const secret = randomBytes(18).toString('hex');
  const hookPort = await freePort();
  const postgres = await startPostgres();
  const orthanc = await startOrthanc({
    webhookUrl: `http://127.0.0.1:${hookPort}/webhook/orthanc`,
    secret,
    stableAgeSeconds: STABLE_AGE_SECONDS,
  });
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const procs: WorkerProcess[] = [];
  try {
    const env = (port: number): Record<string, string> => ({
      ...workerPacsEnv(orthanc, secret),
      DATABASE_URL: postgres.url,
      LASCAR_MODELS_DIR: path.join(REPO, 'models'),
      LASCAR_EXECUTION_PROVIDER: process.env.LASCAR_EXECUTION_PROVIDER ?? 'cpu',
      LASCAR_HTTP_PORT: String(port),
      LASCAR_CONCURRENCY: '1',
      // As deployed: the webhook announces, the change feed catches what an intake missed (both
      // announcing the same series also tests that a study is still processed once).
      LASCAR_CHANGES_POLL_SECONDS: '2',
      LASCAR_LOG_LEVEL: 'info',
    });
    // The first applies the migrations alone; the others start together on a migrated database.
    procs.push(spawnWorker(bin, env(hookPort)));
    await procs[0]!.ready;
    for (let i = 1; i < workers; i++) procs.push(spawnWorker(bin, env(await freePort())));
    await Promise.all(procs.map((p) => p.ready));

    const sampler = sampleLockWaits(postgres.url);
    const firstStore = Date.now();
    for (const s of studies) await storeInOrthanc(orthanc, s.instances);
    const uids = studies.map((s) => s.seriesInstanceUid);
    const warnings = () =>
      procs
        .flatMap((p) => p.events)
        .filter((e) => e.level >= 40)
        .map((e) => `pid ${e.pid}: ${e.msg}${e.error ? `: ${e.error}` : ''}`);
    await waitFor(
      `${studies.length} jobs to finish`,
      async () => {
        const [r] = (
          await db.query<{ done: number; failed: number }>(
            `SELECT count(*) FILTER (WHERE j.state = 'completed')::int AS done,
                    count(*) FILTER (WHERE j.state = 'failed')::int AS failed
               FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef" WHERE s."seriesInstanceUid" = ANY($1)`,
            [uids],
          )
        ).rows;
        return r!.done + r!.failed >= studies.length ? true : undefined;
      },
      studies.length * 120_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; the workers' warnings:\n${warnings().join('\n')}`);
    });
    const locks = await sampler.stop();

    const jobs = (
      await db.query<{
        series: string;
        state: string;
        started: Date | null;
        finished: Date | null;
        storedAttempts: number;
        segs: number;
        laVolumeMl: number | null;
      }>(
        `SELECT s."seriesInstanceUid" AS series, j.state::text AS state, j."startedAt" AS started,
                j."finishedAt" AS finished,
                (SELECT count(DISTINCT attempt)::int FROM "JobStage" st
                  WHERE st."jobRef" = j.id AND st.stage = 'store' AND st.error IS NULL) AS "storedAttempts",
                (SELECT count(*)::int FROM "StoredObject" o WHERE o."jobRef" = j.id AND o.kind = 'SEG') AS segs,
                m."laVolumeMl" AS "laVolumeMl"
           FROM "Job" j JOIN "Series" s ON s.id = j."seriesRef"
           LEFT JOIN "Measurement" m ON m."jobRef" = j.id`,
      )
    ).rows;
    const completed = jobs.filter((j) => j.state === 'completed');
    const duplicates: string[] = [];
    let exactlyOnce = 0;
    const ratios: number[] = [];
    for (const s of studies) {
      const mine = completed.filter((j) => j.series === s.seriesInstanceUid);
      const segsInPacs = (
        await new DicomWebPacsClient({
          url: orthanc.dicomWebUrl,
          username: orthanc.username,
          password: orthanc.password,
        }).searchSeries({ StudyInstanceUID: s.studyInstanceUid, Modality: 'SEG' })
      ).length;
      const j = mine[0];
      if (mine.length === 1 && j!.storedAttempts === 1 && j!.segs === 1 && segsInPacs === 1)
        exactlyOnce += 1;
      else
        duplicates.push(
          `${s.seriesInstanceUid}: ${mine.length} completed jobs, ${j?.storedAttempts ?? 0} attempts stored, ${segsInPacs} SEG in Orthanc`,
        );
      if (j?.laVolumeMl != null) ratios.push(j.laVolumeMl / s.truth.laVolumeMl);
    }
    const times = (k: 'started' | 'finished') =>
      completed.map((j) => j[k]?.getTime()).filter((t): t is number => t !== undefined);
    const lastFinished = Math.max(...times('finished'));
    const share = procs.map(
      (p) =>
        p.events.filter(
          (e) =>
            e.msg === 'job completed' &&
            e.seriesInstanceUid !== undefined &&
            uids.includes(e.seriesInstanceUid),
        ).length,
    );
    return {
      workers,
      studies: studies.length,
      burstMs: lastFinished - firstStore,
      processingMs: lastFinished - Math.min(...times('started')),
      completedJobs: completed.length,
      failedJobs: jobs.filter((j) => j.state === 'failed').length,
      supersededJobs: jobs.filter((j) => j.state === 'superseded').length,
      exactlyOnce,
      duplicates,
      lockSamples: locks.samples,
      samplesWithLockWaits: locks.withWaits,
      lockWaits: locks.waits,
      share,
      laRatio: { min: Math.min(...ratios), max: Math.max(...ratios) },
      warnings: warnings(),
      loadBefore,
      loadAfter: os.loadavg()[0]!,
    };
  } finally {
    for (const p of procs) await stopWorker(p).catch(() => undefined);
    await db.end();
    await orthanc.dispose();
    await postgres.stop();
  }
}

export async function runScaleBench(options: {
  workers: readonly number[];
  studies: number;
  scale: number;
  onRow?: (row: ScaleRow) => void;
}): Promise<ScaleRow[]> {
  const bin = builtLascar();
  // The same studies in every setting (each setting has its own Orthanc and database).
  const studies = Array.from({ length: options.studies }, (_, i) =>
    phantomSeries(7300 + i, { scale: options.scale }),
  );
  const rows: ScaleRow[] = [];
  for (const n of options.workers) {
    const row = await runSetting(n, studies, bin);
    rows.push(row);
    options.onRow?.(row);
  }
  return rows;
}

const perMinute = (n: number, ms: number) => (n * 60_000) / ms;

export function scaleTable(rows: readonly ScaleRow[]): string {
  const base = rows.find((r) => r.workers === 1);
  const header = [
    'workers',
    'studies',
    'burst s',
    'studies/min',
    'ratio',
    'processing s',
    'studies/min',
    'ratio',
    'exactly once',
    'lock waits',
    'jobs per process',
    'LA measured/true',
    'load 1m',
  ];
  const body = rows.map((r) => {
    const burst = perMinute(r.studies, r.burstMs);
    const proc = perMinute(r.studies, r.processingMs);
    return [
      String(r.workers),
      String(r.studies),
      (r.burstMs / 1000).toFixed(1),
      burst.toFixed(1),
      base ? (burst / perMinute(base.studies, base.burstMs)).toFixed(2) : '-',
      (r.processingMs / 1000).toFixed(1),
      proc.toFixed(1),
      base ? (proc / perMinute(base.studies, base.processingMs)).toFixed(2) : '-',
      `${r.exactlyOnce}/${r.studies}`,
      `${r.samplesWithLockWaits}/${r.lockSamples}`,
      r.share.join('+'),
      `${r.laRatio.min.toFixed(2)}-${r.laRatio.max.toFixed(2)}`,
      `${r.loadBefore.toFixed(1)}->${r.loadAfter.toFixed(1)}`,
    ];
  });
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  return all.map((row) => row.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n');
}

/** What must hold for the run to count: each study once, no failure, the LA found. */
export function scaleProblems(rows: readonly ScaleRow[]): string[] {
  const problems: string[] = [];
  for (const r of rows) {
    const at = `${r.workers} worker(s)`;
    if (r.failedJobs > 0) problems.push(`${at}: ${r.failedJobs} job(s) failed`);
    for (const d of r.duplicates) problems.push(`${at}: not exactly once: ${d}`);
    if (r.share.reduce((a, b) => a + b, 0) !== r.studies)
      problems.push(`${at}: the processes' logs report ${r.share.join('+')} completed jobs`);
    if (r.laRatio.min < 1 - LA_TOLERANCE || r.laRatio.max > 1 + LA_TOLERANCE)
      problems.push(
        `${at}: LA volume measured/true ${r.laRatio.min.toFixed(2)}-${r.laRatio.max.toFixed(2)}: the model does not find the LA at this phantom scale`,
      );
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const workers = (process.env.LASCAR_BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
  const studies = Number(process.env.LASCAR_BENCH_STUDIES ?? 8);
  const scale = Number(process.env.LASCAR_BENCH_SCALE ?? 0.75);
  const cores = os.cpus().length;
  process.stderr.write(
    `bench:scale: ${studies} phantom studies (scale ${scale}) per setting, ${workers.join('/')} worker processes (concurrency 1 each), ${cores} CPU cores...\n`,
  );
  runScaleBench({
    workers,
    studies,
    scale,
    onRow: (r) =>
      process.stderr.write(`  ${r.workers} worker(s): ${(r.burstMs / 1000).toFixed(1)} s\n`),
  }).then(
    (rows) => {
      const out = (s: string) => process.stdout.write(`${s}\n`);
      out(
        `${new Date().toISOString()}  ${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      out(scaleTable(rows));
      out(
        `burst = first instance stored -> last job finished (includes Orthanc's StableAge of ${STABLE_AGE_SECONDS} s and intake); processing = first job started -> last job finished`,
      );
      out(
        'exactly once = one completed job, one attempt that stored, one SEG registered and one SEG in Orthanc per study',
      );
      out(
        `lock waits = samples (every ${LOCK_SAMPLE_MS} ms) in which a backend waited on a lock (pg_stat_activity wait_event_type = 'Lock')`,
      );
      for (const r of rows)
        for (const w of r.warnings) out(`  worker warning with ${r.workers} worker(s): ${w}`);
      for (const r of rows)
        for (const w of r.lockWaits)
          out(`  lock wait with ${r.workers} worker(s): ${w.waitEvent}: ${w.query}`);
      const maxUseful = Math.min(cores, Math.max(...workers));
      out(
        `Each worker process runs the models on the CPU; on ${cores} cores the ratio is capped near ${maxUseful}x (and lower on a machine loaded by other work): that cap is the hardware, not the queue.`,
      );
      const problems = scaleProblems(rows);
      for (const p of problems) out(`PROBLEM: ${p}`);
      if (problems.length > 0) process.exit(1);
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:scale failed: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
