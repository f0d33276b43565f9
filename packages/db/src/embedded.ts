/**
 * The embedded database used when DATABASE_URL is unset: PostgreSQL compiled to WASM (PGlite)
 * keeping its files in a data folder, served over the PostgreSQL wire protocol on loopback
 * (wire-server.ts) so that the worker, the dashboard and psql can share it as if it were a
 * server. For a hospital deployment, set DATABASE_URL to a real PostgreSQL.
 *
 * One process owns the folder: it opens PGlite and serves it. PGlite must never open a data
 * folder twice (two WASM backends writing the same files corrupt it), so every other process
 * asking for the same folder attaches to the running server instead:
 *   <dataDir>/server.lock  created with O_EXCL by the process that starts the server, kept while
 *                          it runs: {pid, hostname}. A lock whose process is dead is stale.
 *   <dataDir>/server.json  written (mode 0600) once the server listens: {host, port, user,
 *                          database, password, pid}. The password is random per start.
 * Both are removed when the owner stops. Both processes must share loopback and process ids
 * (one host or one container): a lock written on another host is never taken over.
 *
 * Depends only on node builtins, @electric-sql/pglite and pg.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { link, mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { ServerThreadData } from './embedded-thread.js';

export interface EmbeddedDatabase {
  /** postgres://... connection string for pg / Prisma / pg-boss. */
  readonly url: string;
  readonly dataDir: string;
  /** True in the process that opened PGlite and serves it; false when attached to it. */
  readonly owner: boolean;
  /** The owner stops the server (clients are disconnected); an attached process does nothing. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  readonly dataDir: string;
  /** Loopback port for the owner to listen on; 0 picks a free one. */
  readonly port: number;
  /** Default 60 s: see wire-server.ts. */
  readonly idleInTransactionTimeoutMs?: number;
  /** How long to wait for another process that is starting the server; default 120 s. */
  readonly startTimeoutMs?: number;
  /** Owner only: PGlite failed underneath and every client was disconnected. */
  readonly onFatal?: (error: Error) => void;
}

export interface ServerInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
}

interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
}

export const SERVER_INFO_FILE = 'server.json';
export const SERVER_LOCK_FILE = 'server.lock';

/** Lock files this process holds: a lock naming our pid but absent here is left from a crash. */
const heldHere = new Set<string>();

export function embeddedUrl(info: ServerInfo): string {
  const pw = encodeURIComponent(info.password);
  return `postgres://${info.user}:${pw}@${info.host}:${info.port}/${info.database}?sslmode=disable`;
}

export async function openEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const infoPath = path.join(dataDir, SERVER_INFO_FILE);
  const lockPath = path.join(dataDir, SERVER_LOCK_FILE);
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  for (;;) {
    const info = await readServerInfo(infoPath);
    if (info && processAlive(info) && (await answers(info))) {
      return { url: embeddedUrl(info), dataDir, owner: false, stop: async () => undefined };
    }
    if (await createLock(lockPath)) {
      heldHere.add(lockPath);
      try {
        return await startOwner(dataDir, infoPath, lockPath, options);
      } catch (error) {
        heldHere.delete(lockPath);
        await rm(lockPath, { force: true });
        throw error;
      }
    }
    const holder = await readLock(lockPath);
    if (holder === 'gone') continue;
    if (holder === 'stale' || (holder !== 'unwritten' && lockIsStale(lockPath, holder))) {
      await removeStaleLock(lockPath, holder);
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder === 'unwritten' ? 'a process' : describeHolder(holder);
      throw new Error(
        `embedded database ${dataDir}: ${who} holds ${SERVER_LOCK_FILE} but serves no database; ` +
          `stop it, or delete ${lockPath} if no process uses this folder`,
      );
    }
    // Another process is starting the server (PGlite takes seconds to open): wait for it.
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startOwner(
  dataDir: string,
  infoPath: string,
  lockPath: string,
  options: EmbeddedOptions,
): Promise<EmbeddedDatabase> {
  // A server.json still here was left by an owner that died: its server is gone.
  await rm(infoPath, { force: true });
  const password = randomBytes(24).toString('hex');
  let server: ServerThread | undefined;
  try {
    server = await startServerThread(
      {
        dataDir,
        password,
        port: options.port,
        ...(options.idleInTransactionTimeoutMs !== undefined
          ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
          : {}),
      },
      options.onFatal,
    );
    const info: ServerInfo = {
      host: server.host,
      port: server.port,
      user: 'postgres',
      database: 'postgres',
      password,
      pid: process.pid,
      hostname: hostname(),
      startedAt: new Date().toISOString(),
    };
    // Written aside and renamed: a reader never sees half a file.
    const tmp = `${infoPath}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, infoPath);
  } catch (error) {
    await server?.stop();
    throw error;
  }
  const running = server;
  // A process that exits without stop() (an uncaught error) leaves no files claiming a server.
  const onExit = () => {
    if (!heldHere.has(lockPath)) return;
    for (const f of [infoPath, lockPath]) {
      try {
        unlinkSync(f);
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', onExit);
  let stopped: Promise<void> | undefined;
  return {
    url: embeddedUrl((await readServerInfo(infoPath))!),
    dataDir,
    owner: true,
    stop() {
      stopped ??= (async () => {
        try {
          await rm(infoPath, { force: true });
          await running.stop();
        } finally {
          heldHere.delete(lockPath);
          process.off('exit', onExit);
          await rm(lockPath, { force: true });
        }
      })();
      return stopped;
    },
  };
}

interface ServerThread {
  readonly host: string;
  readonly port: number;
  /** Stops the wire server, closes PGlite, ends the thread. */
  stop(): Promise<void>;
}

/**
 * The thread's compiled module, found through the package (dist/embedded-thread.js) so that it
 * resolves from the TypeScript sources (tests), from dist/, and from a test's bundled copy alike;
 * the build runs before anything starts a server.
 */
function threadModule(): URL {
  const pkg = createRequire(import.meta.url).resolve('@lascar/db/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'embedded-thread.js'));
}

/** PGlite and the wire server on a thread of their own (see embedded-thread.ts). */
function startServerThread(
  data: ServerThreadData,
  onFatal: ((error: Error) => void) | undefined,
): Promise<ServerThread> {
  const thread = new Worker(threadModule(), { workerData: data });
  return new Promise((resolve, reject) => {
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= new Promise<void>((done) => {
        const timer = setTimeout(() => void thread.terminate().then(() => done()), 15_000);
        thread.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        thread.postMessage('stop');
      });
      return stopping;
    };
    thread.on(
      'message',
      (m: { type: string; host?: string; port?: number; message?: string; code?: string }) => {
        if (m.type === 'ready') resolve({ host: m.host!, port: m.port!, stop });
        else if (m.type === 'error') {
          void thread.terminate();
          reject(
            m.code === 'EADDRINUSE'
              ? new Error(
                  `embedded database: 127.0.0.1:${data.port} is in use by another program; ` +
                    'set LASCAR_EMBEDDED_DB_PORT to a free port (0 picks one)',
                )
              : new Error(`embedded database: ${m.message}`),
          );
        } else if (m.type === 'fatal') onFatal?.(new Error(m.message));
      },
    );
    thread.once('error', (error) => reject(error));
    thread.once('exit', (code) => {
      if (!stopping) reject(new Error(`embedded database: its server thread exited (${code})`));
    });
  });
}

export async function readServerInfo(infoPath: string): Promise<ServerInfo | undefined> {
  let text: string;
  try {
    text = await readFile(infoPath, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<ServerInfo>;
    const ok =
      typeof v.host === 'string' &&
      typeof v.port === 'number' &&
      typeof v.user === 'string' &&
      typeof v.database === 'string' &&
      typeof v.password === 'string' &&
      typeof v.pid === 'number' &&
      typeof v.hostname === 'string';
    return ok ? (v as ServerInfo) : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return true; // cannot tell: assume it runs
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The server answers and accepts the password: it is ours, not a process that reused the pid. */
async function answers(info: ServerInfo): Promise<boolean> {
  const client = new pg.Client({
    connectionString: embeddedUrl(info),
    connectionTimeoutMillis: 3_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createLock(lockPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    const holder: LockHolder = { pid: process.pid, hostname: hostname() };
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

async function readLock(lockPath: string): Promise<LockHolder | 'gone' | 'unwritten' | 'stale'> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch {
    return 'gone';
  }
  if (text.trim() === '') {
    // Created, not written yet, or its writer died in between.
    const age = await stat(lockPath).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    return age > 10_000 ? 'stale' : 'unwritten';
  }
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string') {
      return { pid: v.pid, hostname: v.hostname };
    }
  } catch {
    // fall through
  }
  return 'stale';
}

function lockIsStale(lockPath: string, holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return false;
  if (holder.pid === process.pid) return !heldHere.has(lockPath);
  return !processAlive(holder);
}

/**
 * Takes a stale lock away without racing another process doing the same: the lock is renamed
 * (atomic) to a name of our own, and put back if it turns out to be a fresh one.
 */
async function removeStaleLock(lockPath: string, seen: LockHolder | 'stale'): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return; // someone else took it away first
  }
  const now = await readLock(aside);
  const same =
    seen === 'stale'
      ? now === 'stale'
      : typeof now === 'object' && now.pid === seen.pid && now.hostname === seen.hostname;
  if (!same) await link(aside, lockPath).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

function describeHolder(h: LockHolder): string {
  return h.hostname === hostname() ? `process ${h.pid}` : `process ${h.pid} on host ${h.hostname}`;
}
