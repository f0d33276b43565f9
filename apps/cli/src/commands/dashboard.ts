// `lascar dashboard`: the built web dashboard (`next start` of apps/dashboard) on
// LASCAR_DASHBOARD_PORT (default 3000) and LASCAR_DASHBOARD_HOST (default 127.0.0.1). It uses
// DATABASE_URL, or the embedded database in LASCAR_DATA_DIR (shared with a worker running there).
// This process opens the database first (applying pending migrations, starting or finding the
// embedded server) and gives the web server a plain DATABASE_URL.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** <repo>/apps/dashboard (this file is apps/cli/{src,dist}/commands/dashboard.{ts,js}). */
export const DASHBOARD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../dashboard',
);

/**
 * With the embedded database and no LASCAR_AUTH_SECRET, a secret is made once and kept beside the
 * data (owner-only), so sessions survive a restart. A PostgreSQL deployment must set its own.
 */
async function authSecret(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.LASCAR_AUTH_SECRET) return env.LASCAR_AUTH_SECRET;
  if (env.DATABASE_URL) {
    throw new UsageError(
      'LASCAR_AUTH_SECRET is not set: give every dashboard instance the same random secret of at least 32 characters',
    );
  }
  const dataDir = path.resolve(env.LASCAR_DATA_DIR ?? '.lascar/db');
  const file = path.join(path.dirname(dataDir), 'dashboard-secret');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return secret;
}

/**
 * The variables this launcher itself reads (besides the database's and the dashboard's own,
 * which it passes on): docker/compose.test.ts checks the dashboard service against them.
 */
export const DASHBOARD_LAUNCHER_ENV_NAMES = [
  'LASCAR_DASHBOARD_PORT',
  'LASCAR_DASHBOARD_HOST',
  'LASCAR_AUTH_SECRET',
] as const;

export async function runDashboard(): Promise<number> {
  if (!existsSync(path.join(DASHBOARD_DIR, '.next', 'BUILD_ID'))) {
    throw new UsageError(
      `the dashboard is not built: run \`npm run build\` first (${DASHBOARD_DIR}/.next is missing)`,
    );
  }
  const launcherEnv = (name: (typeof DASHBOARD_LAUNCHER_ENV_NAMES)[number]) => process.env[name];
  const port = launcherEnv('LASCAR_DASHBOARD_PORT') ?? '3000';
  const host = launcherEnv('LASCAR_DASHBOARD_HOST') ?? '127.0.0.1';
  const next = createRequire(path.join(DASHBOARD_DIR, 'package.json')).resolve(
    'next/dist/bin/next',
  );
  const { databaseConfigFromEnv, DatabaseConfigError, openDatabase } = await import('@lascar/db');
  let database;
  try {
    database = databaseConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof DatabaseConfigError) throw new UsageError(error.message);
    throw error;
  }
  const secret = await authSecret(process.env);
  const db = await openDatabase(database);
  const env = {
    ...process.env,
    DATABASE_URL: db.url,
    LASCAR_AUTH_SECRET: secret,
    NEXT_TELEMETRY_DISABLED: '1',
    LASCAR_DASHBOARD_PORT: port,
  };
  const child = spawn(process.execPath, [next, 'start', '-p', port, '-H', host], {
    cwd: DASHBOARD_DIR,
    env,
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  await db.close();
  return code;
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description(
      'start the built web dashboard (LASCAR_DASHBOARD_PORT, default 3000; DATABASE_URL or LASCAR_DATA_DIR)',
    )
    .action(async () => {
      process.exitCode = await runDashboard();
    });
}
