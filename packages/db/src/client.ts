/**
 * Opens the product's database (worker and dashboard alike): the configured PostgreSQL, or the embedded one (PGlite served on
 * loopback) when DATABASE_URL is unset; applies pending migrations; returns a Prisma client
 * (prisma-client generator, @prisma/adapter-pg: no native engine) and the URL pg-boss uses.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import { migrate, type MigrateResult } from './migrate.js';

export { PrismaClient };

export interface Database {
  readonly url: string;
  readonly embedded: boolean;
  readonly prisma: PrismaClient;
  readonly migrations: MigrateResult;
  /** Connections a process should open at most (the embedded database runs one session). */
  readonly poolSize: number;
  /**
   * For the embedded database: the one connection every statement of this process goes through
   * (Prisma and pg-boss), because PGlite's socket server can interleave the extended-protocol
   * messages of two connections onto its single session. Undefined for PostgreSQL.
   */
  readonly sharedPool?: pg.Pool;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function applyMigrations(url: string): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await migrate(client);
  } finally {
    await client.end();
  }
}

/** Where the database is: a PostgreSQL server, or the embedded one in a data folder. */
export type DatabaseConfig =
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number };

export interface OpenOptions {
  /**
   * Apply pending migrations (default true). The dashboard's server passes false: `lascar
   * dashboard` migrates before it starts it, and a bundled server cannot find the SQL files.
   */
  readonly migrate?: boolean;
}

export async function openDatabase(
  config: DatabaseConfig,
  options: OpenOptions = {},
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url: string;
  if (config.kind === 'embedded') {
    embedded = await startEmbeddedDatabase({ dataDir: config.dataDir, port: config.port });
    url = embedded.url;
  } else {
    url = config.url;
  }
  try {
    const migrations =
      (options.migrate ?? true) ? await applyMigrations(url) : { applied: [], alreadyApplied: [] };
    const poolSize = embedded ? 1 : 10;
    const sharedPool = embedded ? new pg.Pool({ connectionString: url, max: 1 }) : undefined;
    const prisma = new PrismaClient({
      adapter: sharedPool
        ? new PrismaPg(sharedPool)
        : new PrismaPg({ connectionString: url, max: poolSize }),
    });
    return {
      url,
      embedded: Boolean(embedded),
      prisma,
      migrations,
      poolSize,
      ...(sharedPool ? { sharedPool } : {}),
      async ping() {
        await prisma.$queryRawUnsafe('SELECT 1');
      },
      async close() {
        await prisma.$disconnect();
        await sharedPool?.end();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
