/**
 * Worker heartbeats: every worker process rewrites its row every few seconds; the admins' overview
 * lists the rows. Times come from the database's clock (now()), never the writer's or the
 * reader's, so workers on other hosts and the dashboard agree on a beat's age.
 */
import { Prisma, type PrismaClient } from './generated/prisma/client.js';

// The columns are timestamp without time zone holding UTC (as Prisma writes them): stamp them the
// same way whatever the session's TimeZone is.
const UTC_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** What a worker says about itself at each beat. */
export interface WorkerBeat {
  /** Chosen once per process (randomUUID). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly modelVersion: string;
  readonly executionProvider: string;
  readonly concurrency: number;
  readonly intervalSeconds: number;
  /** The jobs it is running now (jobKey). */
  readonly jobKeys: readonly string[];
}

/** A worker that misses this many beats in a row counts as silent (dead, hung or cut off). */
export const MISSED_BEATS_BEFORE_SILENT = 3;

/** Upserts the worker's row, stamped now; a beat after a stop marks it running again. */
export async function recordHeartbeat(prisma: PrismaClient, beat: WorkerBeat): Promise<void> {
  await prisma.$executeRaw`
    INSERT INTO "WorkerHeartbeat" (id, host, pid, version, "modelVersion", "executionProvider",
                                   concurrency, "intervalSeconds", "jobKeys", "startedAt", "lastBeatAt")
    VALUES (${beat.id}::uuid, ${beat.host}, ${beat.pid}, ${beat.version}, ${beat.modelVersion},
            ${beat.executionProvider}, ${beat.concurrency}, ${beat.intervalSeconds},
            ${[...beat.jobKeys]}::text[], ${UTC_NOW}, ${UTC_NOW})
    ON CONFLICT (id) DO UPDATE SET
      host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
      "modelVersion" = EXCLUDED."modelVersion", "executionProvider" = EXCLUDED."executionProvider",
      concurrency = EXCLUDED.concurrency, "intervalSeconds" = EXCLUDED."intervalSeconds",
      "jobKeys" = EXCLUDED."jobKeys", "lastBeatAt" = ${UTC_NOW}, "stoppedAt" = NULL`;
}

/** An orderly stop: the row stays (the list shows when it stopped) and holds no job. */
export async function recordWorkerStopped(prisma: PrismaClient, id: string): Promise<void> {
  await prisma.$executeRaw`
    UPDATE "WorkerHeartbeat" SET "stoppedAt" = ${UTC_NOW}, "lastBeatAt" = ${UTC_NOW}, "jobKeys" = '{}'
     WHERE id = ${id}::uuid`;
}

/** How long rows of workers that are gone stay (the overview lists a day; this leaves room to look back). */
export const WORKER_ROWS_KEPT_DAYS = 30;

/**
 * Deletes the rows of workers gone for over `days`: stopped, or silent holding nothing. Every
 * worker process writes a new row, so a fleet restarted daily would otherwise pile them up. A
 * silent worker that still held a job stays, however old: the overview flags it until someone
 * looks. Returns how many rows went.
 */
export async function pruneWorkerRows(
  prisma: PrismaClient,
  days: number = WORKER_ROWS_KEPT_DAYS,
): Promise<number> {
  return prisma.$executeRaw`
    DELETE FROM "WorkerHeartbeat"
     WHERE "lastBeatAt" < ${UTC_NOW} - make_interval(days => ${days}::int)
       AND ("stoppedAt" IS NOT NULL OR cardinality("jobKeys") = 0)`;
}

export type WorkerStatus = 'running' | 'silent' | 'stopped';

/** A job a worker said it was on, as the Job table has it now. */
export interface HeldJob {
  readonly jobKey: string;
  /** The Job row's id and state; null when the row is gone. */
  readonly id: string | null;
  readonly state: string | null;
}

export interface WorkerRow {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly modelVersion: string;
  readonly executionProvider: string;
  readonly concurrency: number;
  readonly intervalSeconds: number;
  readonly startedAt: Date;
  readonly lastBeatAt: Date;
  readonly stoppedAt: Date | null;
  /** Seconds since its last beat, by the database's clock. */
  readonly beatAgeSeconds: number;
  readonly status: WorkerStatus;
  readonly jobs: readonly HeldJob[];
  /** Silent while holding a job: that job may be stuck until its lease runs out. */
  readonly stoppedBeatingWithJob: boolean;
}

/**
 * Workers that beat in the last `windowHours` (stopped ones included), plus any silent worker
 * that still held a job at its last beat, however old: that one needs looking at. Running
 * workers first, then silent, then stopped; newest beat first within each.
 */
export async function listWorkers(
  prisma: PrismaClient,
  options: { windowHours?: number } = {},
): Promise<WorkerRow[]> {
  const windowHours = options.windowHours ?? 24;
  const rows = await prisma.$queryRaw<
    {
      id: string;
      host: string;
      pid: number;
      version: string;
      modelVersion: string;
      executionProvider: string;
      concurrency: number;
      intervalSeconds: number;
      jobKeys: string[];
      startedAt: Date;
      lastBeatAt: Date;
      stoppedAt: Date | null;
      beatAgeSeconds: number;
      silent: boolean;
    }[]
  >`
    SELECT id::text, host, pid, version, "modelVersion", "executionProvider", concurrency,
           "intervalSeconds", "jobKeys", "startedAt", "lastBeatAt", "stoppedAt",
           extract(epoch FROM (${UTC_NOW} - "lastBeatAt"))::float8 AS "beatAgeSeconds",
           ("stoppedAt" IS NULL AND "lastBeatAt" <
              ${UTC_NOW} - make_interval(secs => "intervalSeconds" * ${MISSED_BEATS_BEFORE_SILENT})) AS silent
      FROM "WorkerHeartbeat"
     WHERE "lastBeatAt" > ${UTC_NOW} - make_interval(hours => ${windowHours}::int)
        OR ("stoppedAt" IS NULL AND cardinality("jobKeys") > 0)
     ORDER BY "lastBeatAt" DESC
     LIMIT 200`;
  const keys = [...new Set(rows.flatMap((r) => r.jobKeys))];
  const jobs = keys.length
    ? await prisma.job.findMany({
        where: { jobKey: { in: keys } },
        select: { id: true, jobKey: true, state: true },
      })
    : [];
  const byKey = new Map(jobs.map((j) => [j.jobKey, j]));
  const rank: Record<WorkerStatus, number> = { running: 0, silent: 1, stopped: 2 };
  return rows
    .map((r): WorkerRow => {
      const status: WorkerStatus = r.stoppedAt ? 'stopped' : r.silent ? 'silent' : 'running';
      const held = r.jobKeys.map((jobKey) => {
        const j = byKey.get(jobKey);
        return { jobKey, id: j?.id ?? null, state: j?.state ?? null };
      });
      return {
        id: r.id,
        host: r.host,
        pid: r.pid,
        version: r.version,
        modelVersion: r.modelVersion,
        executionProvider: r.executionProvider,
        concurrency: r.concurrency,
        intervalSeconds: r.intervalSeconds,
        startedAt: r.startedAt,
        lastBeatAt: r.lastBeatAt,
        stoppedAt: r.stoppedAt,
        beatAgeSeconds: Math.max(0, r.beatAgeSeconds),
        status,
        jobs: held,
        stoppedBeatingWithJob: status === 'silent' && held.length > 0,
      };
    })
    .sort((a, b) => rank[a.status] - rank[b.status]);
}
