/**
 * Opens the product's database (worker and dashboard alike): the configured PostgreSQL, or the embedded one (PGlite served on
 * loopback) when DATABASE_URL is unset; applies pending migrations; returns a Prisma client
 * (prisma-client generator, @prisma/adapter-pg: no native engine) and the URL pg-boss uses.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import { migrate, type MigrateResult } from './migrate.js';

export { PrismaClient };

export interface Database {
  readonly url: string;
  readonly embedded: boolean;
  /** Embedded database: this process serves it (true) or attached to another process's (false). */
  readonly embeddedOwner?: boolean;
  readonly prisma: PrismaClient;
  readonly migrations: MigrateResult;
  /**
   * Connections a pool of this process should open at most. Smaller for the embedded database:
   * its clients take turns on one PGlite session, so more connections only queue.
   */
  readonly poolSize: number;
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
    embedded = await openEmbeddedDatabase({ dataDir: config.dataDir, port: config.port });
    url = embedded.url;
  } else {
    url = config.url;
  }
  try {
    // Migrations take an advisory lock, which excludes nobody on the embedded database (every
    // client shares PGlite's one session): there only the process that owns the server migrates.
    const migrate = (options.migrate ?? true) && (embedded ? embedded.owner : true);
    const migrations = migrate ? await applyMigrations(url) : { applied: [], alreadyApplied: [] };
    const poolSize = embedded ? 4 : 10;
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ connectionString: url, max: poolSize }),
    });
    return {
      url,
      embedded: Boolean(embedded),
      ...(embedded ? { embeddedOwner: embedded.owner } : {}),
      prisma,
      migrations,
      poolSize,
      async ping() {
        await prisma.$queryRawUnsafe('SELECT 1');
      },
      async close() {
        await prisma.$disconnect();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
