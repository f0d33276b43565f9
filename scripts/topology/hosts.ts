/**
 * The services of the multi-host test, each started on its own private host (a network namespace
 * made by run.sh) with the same entrypoints and environment variables as the containers
 * (docker/compose.yaml): `lascar worker`, `lascar dashboard`, Orthanc with our Lua hook, PostgreSQL.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LASCAR = path.join(REPO, 'apps/cli/bin/lascar.js');

export const HOSTS = {
  pacs: '10.77.0.2',
  db: '10.77.0.3',
  gpu1: '10.77.0.11',
  gpu2: '10.77.0.12',
  web: '10.77.0.20',
} as const;
export type Host = keyof typeof HOSTS;

export const SECRETS = {
  postgres: 'topology-postgres-password-0123456789',
  pacsPassword: 'topology-pacs-password-0123456789',
  webhook: 'topology-webhook-secret-0123456789',
  apiToken: 'topology-worker-api-token-0123456789abcdef',
  auth: 'topology-auth-secret-0123456789abcdef0123456789',
} as const;

export const DATABASE_URL = `postgres://lascar:${SECRETS.postgres}@${HOSTS.db}:5432/lascar`;
export const PACS = {
  url: `http://${HOSTS.pacs}:8042`,
  username: 'lascar',
  password: SECRETS.pacsPassword,
};

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

let workDir: string | undefined;
export async function scratch(): Promise<string> {
  if (!workDir) {
    workDir = await mkdtemp(path.join(tmpdir(), 'lascar-topology-'));
    // Traversable (not listable) for the postgres user, which owns its own folder inside.
    await chmod(workDir, 0o711);
  }
  return workDir;
}

/** Runs `command` on `host` (ip netns exec), output to a log file. */
export async function startOn(
  host: Host,
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  user?: string,
): Promise<Service> {
  const logFile = path.join(await scratch(), `${name}.log`);
  const out = createWriteStream(logFile);
  const argv = user
    ? ['netns', 'exec', host, 'runuser', '-u', user, '--', command, ...args]
    : ['netns', 'exec', host, command, ...args];
  const child = spawn('ip', argv, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return {
    name,
    child,
    logFile,
    log: () => readFile(logFile, 'utf8'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

/** `ip link set v-<host> down|up`: the host's cable, on the bridge side. */
export function cable(host: Host, state: 'up' | 'down'): void {
  execFileSync('ip', ['link', 'set', `v-${host}`, state]);
}

function pgBin(): string {
  for (const v of ['17', '16', '15']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(path.join(d, 'initdb'))) return d;
  }
  throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
}

/** PostgreSQL on db, listening on its address only, password (SCRAM) authentication. */
export async function startPostgres(): Promise<Service> {
  const bin = pgBin();
  const dir = path.join(await scratch(), 'pg');
  execFileSync('mkdir', ['-p', dir]);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  await chown(dir, uid, gid);
  await chmod(dir, 0o700);
  const pwfile = path.join(dir, 'pw');
  await writeFile(pwfile, SECRETS.postgres);
  await chown(pwfile, uid, gid);
  execFileSync('runuser', [
    '-u',
    'postgres',
    '--',
    path.join(bin, 'initdb'),
    '-D',
    path.join(dir, 'data'),
    '-U',
    'lascar',
    `--pwfile=${pwfile}`,
    '--auth-host=scram-sha-256',
    '--auth-local=trust',
  ]);
  await writeFile(
    path.join(dir, 'data/pg_hba.conf'),
    'local all all trust\nhost all all 10.77.0.0/24 scram-sha-256\n',
  );
  const pg = await startOn(
    'db',
    'postgres',
    path.join(bin, 'postgres'),
    [
      '-D',
      path.join(dir, 'data'),
      '-c',
      `listen_addresses=${HOSTS.db}`,
      '-c',
      'port=5432',
      '-c',
      `unix_socket_directories=${dir}`,
    ],
    {},
    'postgres',
  );
  await waitForLog(pg, /ready to accept connections/, 60_000);
  execFileSync('ip', [
    'netns',
    'exec',
    'db',
    'runuser',
    '-u',
    'postgres',
    '--',
    path.join(bin, 'createdb'),
    '-h',
    dir,
    '-U',
    'lascar',
    'lascar',
  ]);
  return pg;
}

/** Orthanc on pacs with the DICOMweb plugin and the Lua hook posting to gpu1's worker. */
export async function startOrthanc(): Promise<Service> {
  const dir = path.join(await scratch(), 'orthanc');
  execFileSync('mkdir', ['-p', dir]);
  const config = {
    Name: 'topology-pacs',
    StorageDirectory: dir,
    IndexDirectory: dir,
    HttpPort: 8042,
    RemoteAccessAllowed: true,
    AuthenticationEnabled: true,
    RegisteredUsers: { [PACS.username]: PACS.password },
    HttpCompressionEnabled: false,
    DicomServerEnabled: false,
    StableAge: 3,
    SaveJobs: false,
    HttpTimeout: 10,
    Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'],
    LuaScripts: [path.join(REPO, 'docker/orthanc/on-stable-series.lua')],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
  };
  const file = path.join(dir, 'orthanc.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  // The Lua hook's settings come from the environment, as in the Orthanc image.
  return startOn('pacs', 'orthanc', '/usr/sbin/Orthanc', [file], {
    LASCAR_WEBHOOK_URL: `http://${HOSTS.gpu1}:8300/webhook/orthanc`,
    LASCAR_WEBHOOK_SECRET: SECRETS.webhook,
  });
}

/** `lascar worker` on a GPU host, configured as the compose service is. */
export function startWorker(host: 'gpu1' | 'gpu2'): Promise<Service> {
  return startOn(host, `worker-${host}`, process.execPath, [LASCAR, 'worker'], {
    DATABASE_URL,
    LASCAR_PACS_URL: `${PACS.url}/dicom-web`,
    LASCAR_PACS_USERNAME: PACS.username,
    LASCAR_PACS_PASSWORD: PACS.password,
    LASCAR_ORTHANC_URL: PACS.url,
    LASCAR_WEBHOOK_SECRET: SECRETS.webhook,
    // Required: the API listens on the host's network address.
    LASCAR_API_TOKEN: SECRETS.apiToken,
    LASCAR_HTTP_HOST: HOSTS[host],
    LASCAR_HTTP_PORT: '8300',
    LASCAR_EXECUTION_PROVIDER: 'cpu',
    LASCAR_CHANGES_POLL_SECONDS: '2',
    LASCAR_RETRY_DELAY_SECONDS: '2',
    LASCAR_RETRY_LIMIT: '8',
    // The lease: long enough for one attempt on a loaded two-core machine, short enough for the
    // cut-off test to wait for it.
    LASCAR_JOB_TIMEOUT_SECONDS: '150',
    LASCAR_MAINTENANCE_SECONDS: '2',
    LASCAR_SHUTDOWN_GRACE_SECONDS: '5',
    LASCAR_PACS_TIMEOUT_SECONDS: '10',
    LASCAR_LOG_LEVEL: 'info',
  });
}

/** `lascar dashboard` on web. */
export function startDashboard(): Promise<Service> {
  return startOn('web', 'dashboard', process.execPath, [LASCAR, 'dashboard'], {
    DATABASE_URL,
    LASCAR_AUTH_SECRET: SECRETS.auth,
    LASCAR_DASHBOARD_HOST: HOSTS.web,
    LASCAR_DASHBOARD_PORT: '3000',
    LASCAR_DASHBOARD_URL: `http://${HOSTS.web}:3000`,
    LASCAR_PACS_URL: `${PACS.url}/dicom-web`,
    LASCAR_PACS_USERNAME: PACS.username,
    LASCAR_PACS_PASSWORD: PACS.password,
  });
}

/** `lascar users add` from the web host (the runbook's first admin). */
export function addUser(email: string, password: string, role: 'admin' | 'cardiologist'): string {
  return execFileSync(
    'ip',
    [
      'netns',
      'exec',
      'web',
      process.execPath,
      LASCAR,
      'users',
      'add',
      '--email',
      email,
      '--role',
      role,
    ],
    { cwd: REPO, input: `${password}\n`, env: { PATH: process.env.PATH ?? '', DATABASE_URL } },
  ).toString();
}

export async function waitForLog(
  service: Service,
  pattern: RegExp,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pattern.test(await service.log().catch(() => ''))) return;
    if (service.child.exitCode !== null) {
      throw new Error(
        `${service.name} exited (${service.child.exitCode}):\n${(await service.log()).slice(-2000)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${service.name}: no ${pattern} in ${timeoutMs} ms:\n${(await service.log()).slice(-2000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
