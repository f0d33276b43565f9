/**
 * A fresh, migrated PostgreSQL database for one test file, on the machine's PostgreSQL server
 * (127.0.0.1:5432, trust authentication; LASCAR_TEST_POSTGRES_URL overrides it). Every call
 * creates `lascar_test_<random>`, applies the migrations and opens a Prisma client on it;
 * `drop()` closes the client and removes the database. A server that cannot be reached is an
 * error, never a skip: these tests prove the queries on a real PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { migrate, type MigrateResult } from './migrate.js';

export const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The temporary database's URL. */
  readonly url: string;
  readonly name: string;
  readonly prisma: PrismaClient;
  readonly migrations: MigrateResult;
  /** Closes the client and drops the database (also when sessions are still open). */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function redacted(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** The server's maintenance connection; fails with one clear line when nobody listens. */
async function connectAdmin(serverUrl: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw new Error(
      `PostgreSQL at ${redacted(serverUrl)} is not reachable (${(error as Error).message}): ` +
        'these tests need a real PostgreSQL server (start it, or set LASCAR_TEST_POSTGRES_URL)',
    );
  }
  return admin;
}

export async function createTestDatabase(
  options: { serverUrl?: string; poolSize?: number } = {},
): Promise<TestDatabase> {
  const serverUrl =
    options.serverUrl ?? process.env.LASCAR_TEST_POSTGRES_URL ?? DEFAULT_TEST_POSTGRES_URL;
  const name = `lascar_test_${randomBytes(6).toString('hex')}`;
  const admin = await connectAdmin(serverUrl);
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const dropDatabase = async () => {
    const again = await connectAdmin(serverUrl);
    try {
      await again.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await again.end();
    }
  };
  let prisma: PrismaClient | undefined;
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let migrations: MigrateResult;
    try {
      migrations = await migrate(client);
    } finally {
      await client.end();
    }
    const p = new PrismaClient({
      adapter: new PrismaPg({ connectionString: url, max: options.poolSize ?? 4 }),
    });
    prisma = p;
    return {
      url,
      name,
      prisma: p,
      migrations,
      async drop() {
        await p.$disconnect();
        await dropDatabase();
      },
    };
  } catch (error) {
    await prisma?.$disconnect();
    await dropDatabase();
    throw error;
  }
}
