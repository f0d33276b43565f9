/**
 * A real Orthanc (Debian package, 1.10+) for integration tests: its own configuration, storage and
 * port in a temporary folder, authentication on, the DICOMweb plugin and our Lua webhook script.
 *
 * Orthanc 1.10 cannot bind to loopback only, so this refuses to start it unless the process runs
 * in a private network namespace (run the tests through scripts/orthanc/in-private-network.sh).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generatePhantom,
  phantomDicomDescription,
  readDicomSeries,
  writeMrSeries,
  type MrAcquisition,
  type StudyIdentity,
} from '@lascar/core';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
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
  /** Stops Orthanc and removes its folder. */
  dispose(): Promise<void>;
  /** Orthanc's log so far (for failure messages). */
  log(): string;
  /** Whether the Orthanc process is running. */
  readonly running: boolean;
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
  const storeDir = await mkdtemp(path.join(tmpdir(), 'lascar-orthanc-'));
  const port = await freePort();
  const username = 'lascar-test';
  const password = randomBytes(12).toString('hex');
  const config: Record<string, unknown> = {
    Name: 'lascar-test',
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
      await rm(storeDir, { recursive: true, force: true });
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

export interface PhantomSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** Part-10 MR instances, one per slice. */
  readonly instances: Uint8Array[];
}

/**
 * A synthetic LGE series (phantom) as Part-10 MR instances. `acquisition` overrides the series
 * identification (e.g. a non-LGE description or another SeriesInstanceUID).
 */
export function phantomSeries(
  seed: number,
  options: {
    scale?: number;
    slices?: number;
    acquisition?: MrAcquisition;
    /** Overrides of the phantom's patient/study identity (e.g. studyDate for a date window). */
    identity?: Partial<Omit<StudyIdentity, 'studyInstanceUid'>>;
  } = {},
): PhantomSeries {
  const phantom = generatePhantom(seed, {
    scale: options.scale ?? 0.2,
    ...(options.slices ? { slices: options.slices } : {}),
  });
  const described = phantomDicomDescription(phantom.truth, `phantom-${seed}`);
  const identity: StudyIdentity = { ...described.identity, ...options.identity };
  const acquisition = described.acquisition;
  const merged: MrAcquisition = { ...acquisition, ...options.acquisition };
  const instances = writeMrSeries(phantom.image, identity, merged);
  const first = readDicomSeries(instances).source;
  return {
    studyInstanceUid: identity.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    instances,
  };
}

/** Stores instances through Orthanc's own REST API (POST /instances), one by one. */
export async function storeInOrthanc(
  orthanc: Pick<OrthancInstance, 'url' | 'username' | 'password'>,
  instances: readonly Uint8Array[],
): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`;
  for (const bytes of instances) {
    const res = await fetch(`${orthanc.url}/instances`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/dicom' },
      body: bytes,
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`Orthanc refused an instance: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
}
