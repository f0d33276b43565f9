/**
 * Where the database is, from the environment, the same for every app (worker, dashboard,
 * `lascar users`): DATABASE_URL names a PostgreSQL server; without it, the embedded database in
 * LASCAR_DATA_DIR (default .lascar/db), served on loopback at LASCAR_EMBEDDED_DB_PORT.
 */
import path from 'node:path';
import type { DatabaseConfig } from './client.js';

export class DatabaseConfigError extends Error {
  override name = 'DatabaseConfigError';
}

/** postgres://user:pw@host/db -> postgres://user:***@host/db (also ?password=...). */
export function redactDatabaseUrl(url: string): string {
  return url
    .replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
    .replace(/([?&]password=)[^&]*/gi, '$1***');
}

/** Every environment variable `databaseConfigFromEnv` reads (docker/compose.test.ts uses it). */
export const DATABASE_ENV_NAMES = [
  'DATABASE_URL',
  'LASCAR_DATA_DIR',
  'LASCAR_EMBEDDED_DB_PORT',
] as const;
export type DatabaseEnvName = (typeof DATABASE_ENV_NAMES)[number];

export function databaseConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): DatabaseConfig {
  const read = (name: DatabaseEnvName) => env[name]?.trim();
  const url = read('DATABASE_URL');
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new DatabaseConfigError(
        `DATABASE_URL=${redactDatabaseUrl(url)} must start with postgres:// or postgresql://`,
      );
    }
    return { kind: 'postgres', url };
  }
  const rawPort = read('LASCAR_EMBEDDED_DB_PORT') || '54329';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65535) {
    throw new DatabaseConfigError(`LASCAR_EMBEDDED_DB_PORT=${rawPort} is not a port (0..65535)`);
  }
  return {
    kind: 'embedded',
    dataDir: path.resolve(read('LASCAR_DATA_DIR') || '.lascar/db'),
    port,
  };
}
