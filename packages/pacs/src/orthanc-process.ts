/**
 * Starts a real Orthanc (Debian package, 1.10+) as a child process: its own configuration, storage
 * and port, authentication on, the DICOMweb plugin and our Lua webhook script. Used by the
 * integration tests (apps/worker/test/orthanc-harness.ts), the retrieval benchmark and the quick
 * start.
 *
 * Orthanc 1.10 cannot bind to loopback only, so this refuses to start it unless the process runs
 * in a private network namespace (scripts/orthanc/in-private-network.sh).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
// src/pacs and dist/pacs sit at the same depth below the repository root.
export const LUA_SCRIPT = fileURLToPath(
  new URL('../../../docker/orthanc/on-stable-series.lua', import.meta.url),
);

export interface StartOrthancOptions {
  /** Where the Lua script posts stable series (LAScar.WebhookUrl). */
  readonly webhookUrl?: string;
  /** Shared secret sent in the X-Lascar-Webhook-Secret header. */
  readonly secret?: string;
  /** Seconds without a new instance before a series is stable (default 2). */
  readonly stableAgeSeconds?: number;
  /** Extra top-level configuration entries (override the defaults). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
  /** Folder for configuration, storage and log (kept by dispose()); default: a new temp folder. */
  readonly storeDir?: string;
  /** HTTP port; default: a free one. */
  readonly port?: number;
  /** Credentials; default: a user "lascar-test" with a random password. */
  readonly username?: string;
  readonly password?: string;
  /** Orthanc's Name (default "lascar-test"). */
  readonly name?: string;
}

export interface OrthancInstance {
  /** Orthanc's REST root, e.g. http://127.0.0.1:41234 (no trailing slash, no credentials). */
  readonly url: string;
  /** DICOMweb root, e.g. http://127.0.0.1:41234/dicom-web */
  readonly dicomWebUrl: string;
  readonly username: string;
  readonly password: string;
  readonly port: number;
  /** Temporary folder holding the configuration, the storage and orthanc.log. */
  readonly storeDir: string;
  readonly configFile: string;
  /** Stops Orthanc (SIGTERM, then SIGKILL after 10 s); the storage is kept for restart(). */
  stop(): Promise<void>;
  /** Starts Orthanc again on the same port and storage (after stop(), or stops it first). */
  restart(): Promise<void>;
  /** Stops Orthanc and removes its folder (unless the caller gave storeDir). */
  dispose(): Promise<void>;
  /** Orthanc's log so far (for failure messages). */
  log(): string;
  /** Whether the Orthanc process is running. */
  readonly running: boolean;
}

/** The worker's settings (config.ts names) for reaching this Orthanc: DICOMweb and REST roots,
 * credentials, and the secret its webhook signs with. */
export function workerPacsEnv(orthanc: OrthancInstance, secret: string): Record<string, string> {
  return {
    LASCAR_PACS_URL: orthanc.dicomWebUrl,
    LASCAR_PACS_USERNAME: orthanc.username,
    LASCAR_PACS_PASSWORD: orthanc.password,
    LASCAR_ORTHANC_URL: orthanc.url,
    LASCAR_WEBHOOK_SECRET: secret,
  };
}

/**
 * Names of the network interfaces this process can see (its network namespace), from
 * /proc/net/dev, which is per namespace.
 */
export function networkInterfaces(): string[] {
  const text = readFileSync('/proc/net/dev', 'utf8');
  return text
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name.length > 0);
}

/** Throws unless the process runs in a network namespace with loopback only. */
export function assertPrivateNetwork(): void {
  const names = networkInterfaces();
  const others = names.filter((n) => n !== 'lo');
  if (others.length > 0) {
    throw new Error(
      `refusing to start Orthanc: this process can see network interfaces ${others.join(', ')}, ` +
        'and Orthanc 1.10 listens on every interface. Run the tests inside a private network ' +
        'namespace: bash scripts/orthanc/in-private-network.sh npx vitest run --config vitest.integration.config.ts',
    );
  }
}

/** A TCP port that is free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startOrthanc(options: StartOrthancOptions = {}): Promise<OrthancInstance> {
  assertPrivateNetwork();
  if (!existsSync(ORTHANC_BINARY) || !existsSync(DICOMWEB_PLUGIN)) {
    throw new Error(
      `Orthanc or its DICOMweb plugin is not installed (${ORTHANC_BINARY}, ${DICOMWEB_PLUGIN}): ` +
        'run bash scripts/orthanc/install.sh',
    );
  }
  const ownDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(path.join(tmpdir(), 'lascar-orthanc-')));
  await mkdir(storeDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const username = options.username ?? 'lascar-test';
  const password = options.password ?? randomBytes(12).toString('hex');
  const config: Record<string, unknown> = {
    Name: options.name ?? 'lascar-test',
    StorageDirectory: path.join(storeDir, 'db'),
    IndexDirectory: path.join(storeDir, 'db'),
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [username]: password },
    HttpCompressionEnabled: false,
    DicomServerEnabled: false,
    StableAge: options.stableAgeSeconds ?? 2,
    SaveJobs: false,
    Plugins: [DICOMWEB_PLUGIN],
    LuaScripts: [LUA_SCRIPT],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: true,
      StudiesMetadata: 'Full',
      SeriesMetadata: 'Full',
    },
    LAScar: {
      ...(options.webhookUrl ? { WebhookUrl: options.webhookUrl } : {}),
      ...(options.secret !== undefined ? { WebhookSecret: options.secret } : {}),
    },
    ...options.extraConfig,
  };
  const configFile = path.join(storeDir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const logFile = path.join(storeDir, 'orthanc.log');
  const url = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const launch = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    // No LASCAR_* variables leak in from the test process: the configuration decides.
    const env = { ...process.env };
    delete env.LASCAR_WEBHOOK_URL;
    delete env.LASCAR_WEBHOOK_SECRET;
    const proc = spawn(ORTHANC_BINARY, [configFile], { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    child = proc;
    running.add(proc);
    let hasExited = false;
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        hasExited = true;
        running.delete(proc);
        resolve();
      }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (hasExited) {
        throw new Error(
          `Orthanc exited at start (code ${proc.exitCode}); log:\n${tail(readLog())}`,
        );
      }
      try {
        const res = await fetch(`${url}/system`, { headers: { authorization } });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(
          `Orthanc did not answer ${url}/system within 30 s; log:\n${tail(readLog())}`,
        );
      }
      await sleep(100);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };

  await launch();
  return {
    url,
    dicomWebUrl: `${url}/dicom-web`,
    username,
    password,
    port,
    storeDir,
    configFile,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop();
      if (ownDir) await rm(storeDir, { recursive: true, force: true });
    },
    log: readLog,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
  };
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}
