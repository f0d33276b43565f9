/**
 * The real stack the drills run against, as the integration tests do: a private Orthanc (Debian
 * package, DICOMweb plugin, the Lua webhook), a private PostgreSQL cluster, and `lascar worker`
 * processes spawned from the built CLI (apps/cli/bin/lascar.js), so that a crash or a SIGKILL
 * takes down a real process. Only inside a private network namespace
 * (scripts/orthanc/in-private-network.sh).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  freePort,
  startOrthanc,
  startPostgres,
  workerPacsEnv,
  type OrthancInstance,
  type PostgresCluster,
} from '@lascar/testkit';

export const REPO = process.cwd();

export interface DrillStack {
  readonly orthanc: OrthancInstance;
  readonly postgres: PostgresCluster;
  readonly secret: string;
  /** The workers' LASCAR_API_TOKEN: what an admin's script sends to POST /jobs/:id/retry. */
  readonly apiToken: string;
  /** Where Orthanc's Lua script posts stable series (a worker listening there gets them). */
  readonly webhookPort: number;
  /** Environment for a `lascar worker` process on this stack. */
  workerEnv(overrides?: Record<string, string>): Record<string, string>;
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  /** POST /instances: the series it landed in, or Orthanc's refusal. */
  store(bytes: Uint8Array): Promise<StoreResult>;
  /** Every series in Orthanc with its modality (GET /series?expand). */
  listSeries(): Promise<OrthancSeries[]>;
  /** SeriesInstanceUIDs Orthanc has announced as stable (StableSeries in /changes). */
  stableSeries(): Promise<Set<string>>;
  dispose(): Promise<void>;
}

export type StoreResult =
  | { readonly ok: true; readonly seriesInstanceUid: string; readonly studyInstanceUid: string }
  | { readonly ok: false; readonly message: string };

export interface OrthancSeries {
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly modality: string;
}

export interface StackOptions {
  /** Orthanc's storage folder (e.g. on a small tmpfs); default a new temporary folder. */
  readonly orthancStoreDir?: string;
  readonly stableAgeSeconds?: number;
}

export async function startDrillStack(options: StackOptions = {}): Promise<DrillStack> {
  const secret = randomBytes(18).toString('hex');
  const apiToken = randomBytes(32).toString('hex');
  const webhookPort = await freePort();
  const postgres = await startPostgres();
  const orthanc = await startOrthanc({
    webhookUrl: `http://127.0.0.1:${webhookPort}/webhook/orthanc`,
    secret,
    stableAgeSeconds: options.stableAgeSeconds ?? 1,
    ...(options.orthancStoreDir ? { storeDir: options.orthancStoreDir } : {}),
  }).catch(async (error: unknown) => {
    await postgres.stop();
    throw error;
  });
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  // A restarted PostgreSQL cuts idle connections: the pool must not die of it.
  db.on('error', () => undefined);
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  const orthancJson = async <T>(route: string): Promise<T> => {
    const res = await fetch(`${orthanc.url}${route}`, { headers: { authorization } });
    if (!res.ok) throw new Error(`Orthanc ${route}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
  interface OrthancSeriesJson {
    readonly ParentStudy: string;
    readonly MainDicomTags: { SeriesInstanceUID?: string; Modality?: string };
  }
  const studyUids = new Map<string, string>();
  const studyUidOf = async (orthancStudyId: string): Promise<string> => {
    let uid = studyUids.get(orthancStudyId);
    if (!uid) {
      const study = await orthancJson<{ MainDicomTags: { StudyInstanceUID?: string } }>(
        `/studies/${orthancStudyId}`,
      );
      uid = study.MainDicomTags.StudyInstanceUID ?? '';
      studyUids.set(orthancStudyId, uid);
    }
    return uid;
  };
  return {
    orthanc,
    postgres,
    secret,
    apiToken,
    webhookPort,
    workerEnv: (overrides = {}) => ({
      ...workerPacsEnv(orthanc, secret),
      LASCAR_API_TOKEN: apiToken,
      DATABASE_URL: postgres.url,
      LASCAR_MODELS_DIR: path.join(REPO, 'models'),
      LASCAR_EXECUTION_PROVIDER: 'cpu',
      LASCAR_HTTP_PORT: '0',
      LASCAR_CHANGES_POLL_SECONDS: '1',
      LASCAR_MAINTENANCE_SECONDS: '2',
      LASCAR_LOG_LEVEL: 'info',
      ...overrides,
    }),
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await db.query<T>(sql, params)).rows;
    },
    async store(bytes) {
      let res: Response;
      try {
        res = await fetch(`${orthanc.url}/instances`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/dicom' },
          body: bytes,
        });
      } catch (error) {
        return { ok: false, message: `no answer from Orthanc: ${String(error)}` };
      }
      const text = await res.text();
      if (!res.ok) {
        // Orthanc answers with JSON {Message, Details, ...}: keep its one-line reason.
        let reason = text.slice(0, 200);
        try {
          const body = JSON.parse(text) as { Message?: string; Details?: string };
          reason = [body.Message, body.Details].filter(Boolean).join(': ');
        } catch {
          // not JSON: keep the text
        }
        return { ok: false, message: `HTTP ${res.status} ${reason}`.trim() };
      }
      const stored = JSON.parse(text) as { ParentSeries: string; ParentStudy: string };
      const series = await orthancJson<OrthancSeriesJson>(`/series/${stored.ParentSeries}`);
      return {
        ok: true,
        seriesInstanceUid: series.MainDicomTags.SeriesInstanceUID ?? '',
        studyInstanceUid: await studyUidOf(stored.ParentStudy),
      };
    },
    async listSeries() {
      const all = await orthancJson<OrthancSeriesJson[]>('/series?expand');
      return Promise.all(
        all.map(async (s) => ({
          seriesInstanceUid: s.MainDicomTags.SeriesInstanceUID ?? '',
          modality: s.MainDicomTags.Modality ?? '',
          studyInstanceUid: await studyUidOf(s.ParentStudy),
        })),
      );
    },
    async stableSeries() {
      const changes = await orthancJson<{ Changes: { ChangeType: string; ID: string }[] }>(
        '/changes?since=0&limit=10000',
      );
      const uids = new Set<string>();
      for (const c of changes.Changes.filter((x) => x.ChangeType === 'StableSeries')) {
        const series = await orthancJson<OrthancSeriesJson>(`/series/${c.ID}`).catch(
          () => undefined,
        );
        if (series?.MainDicomTags.SeriesInstanceUID)
          uids.add(series.MainDicomTags.SeriesInstanceUID);
      }
      return uids;
    },
    async dispose() {
      await db.end().catch(() => undefined);
      await orthanc.dispose().catch(() => undefined);
      await postgres.stop().catch(() => undefined);
    },
  };
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/**
 * One `lascar worker` process. Its JSON log goes to a file; the drill reads the few lines it
 * needs (ready, job started/ended) as they come.
 */
export class WorkerProcess {
  private proc: ChildProcess | undefined;
  private log: WriteStream;
  private readyNow = false;
  private running = 0;
  private tail: string[] = [];
  private messages = new Set<string>();
  private exitWaiters: ((exit: Exit) => void)[] = [];
  /** Every exit, in order (a restart starts the same object again). */
  readonly exits: Exit[] = [];
  starts = 0;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    logFile: string,
    private readonly onUnexpectedExit?: (worker: WorkerProcess, exit: Exit) => void,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  start(): void {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.readyNow = false;
    this.running = 0;
    this.starts++;
    const proc = spawn(process.execPath, [path.join(REPO, 'apps/cli/bin/lascar.js'), 'worker'], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.log.write(
      `--- ${this.name} start #${this.starts} pid ${proc.pid} at ${new Date().toISOString()}\n`,
    );
    let partial = '';
    const onData = (chunk: Buffer) => {
      this.log.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.read(line);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code, signal) => {
      const exit: Exit = { code, signal, at: Date.now() };
      this.exits.push(exit);
      this.log.write(`--- ${this.name} exited code ${code} signal ${signal}\n`);
      const waiters = this.exitWaiters.splice(0);
      for (const w of waiters) w(exit);
      if (!this.expectingExit) this.onUnexpectedExit?.(this, exit);
      this.expectingExit = false;
    });
  }

  private expectingExit = false;

  private read(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    if (!line.startsWith('{')) return;
    let msg: string | undefined;
    try {
      msg = (JSON.parse(line) as { msg?: string }).msg;
    } catch {
      return;
    }
    if (msg) this.messages.add(msg);
    if (msg === 'worker ready') this.readyNow = true;
    else if (msg === 'job started') this.running++;
    else if (
      msg === 'job completed' ||
      msg === 'job failed (not retried)' ||
      msg === 'job will be retried' ||
      msg === 'job failed after its last retry'
    )
      this.running = Math.max(0, this.running - 1);
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get ready(): boolean {
    return this.alive && this.readyNow;
  }

  /** A job started and not yet ended, as the process's own log says. */
  get busy(): boolean {
    return this.alive && this.running > 0;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Whether any of its log lines (any start) had a message containing `text`. */
  said(text: string): boolean {
    for (const m of this.messages) if (m.includes(text)) return true;
    return false;
  }

  /** The last lines it printed (for a crash report). */
  lastLines(n = 10): string {
    return this.tail.slice(-n).join('\n');
  }

  async untilReady(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (!this.alive)
        throw new Error(`${this.name} exited before it was ready:\n${this.lastLines()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Sends a signal the drill means to send (not reported as a crash). */
  kill(signal: NodeJS.Signals): Promise<Exit> {
    if (!this.alive) return Promise.resolve(this.exits[this.exits.length - 1]!);
    this.expectingExit = true;
    const exited = new Promise<Exit>((resolve) => this.exitWaiters.push(resolve));
    this.proc!.kill(signal);
    return exited;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = this.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  close(): void {
    this.log.end();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until probe returns a value, or gives up (undefined) at the deadline. */
export async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 500,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}
