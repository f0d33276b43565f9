/**
 * A private PostgreSQL cluster for integration tests: initdb into a temporary folder, started
 * with pg_ctl on loopback and a free port (inside the tests' private network namespace, so
 * nothing outside can reach it), trust authentication, removed afterwards. Runs the server as
 * the `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@lascar/pacs/orthanc';

export interface PostgresCluster {
  readonly url: string;
  readonly port: number;
  /** `pg_ctl restart -m fast`: every connection is cut, the server is back on the same port. */
  restart(): Promise<void>;
  /** Stops the server (fast: connections cut), keeping its data for resume(). */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  for (const v of ['17', '16', '15', '14']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(path.join(d, 'initdb'))) return d;
  }
  throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
}

function uidOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = binDir();
  const root = await mkdtemp(path.join(tmpdir(), 'lascar-pg-'));
  const data = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const full = asRoot
      ? (['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const)
      : ([cmd, args] as const);
    execFileSync(full[0], [...full[1]], { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  const runAsync = async (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    await promisify(execFile)(file, argv);
  };
  if (asRoot) {
    const { uid, gid } = uidOf('postgres');
    await chown(root, uid, gid);
  }
  await chmod(root, 0o700);
  run(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  const port = await freePort();
  const startArgs = [
    '-D',
    data,
    '-l',
    path.join(root, 'postgres.log'),
    '-w',
    '-o',
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c fsync=off -c max_connections=100`,
    'start',
  ];
  run(path.join(bin, 'pg_ctl'), startArgs);
  // Asynchronous: the caller keeps watching its workers while the server goes down and up.
  const pause = () => runAsync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  const resume = () => runAsync(path.join(bin, 'pg_ctl'), startArgs);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart() {
      await runAsync(path.join(bin, 'pg_ctl'), [
        '-D',
        data,
        '-l',
        path.join(root, 'postgres.log'),
        '-m',
        'fast',
        '-w',
        'restart',
      ]);
    },
    pause,
    resume,
    async stop() {
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}
