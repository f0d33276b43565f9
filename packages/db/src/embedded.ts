/**
 * The embedded database used when DATABASE_URL is unset: PostgreSQL compiled to WASM (PGlite)
 * keeping its files in a data folder, served over the PostgreSQL wire protocol on loopback so the
 * worker (Prisma, pg-boss) and a dashboard process can share it as if it were a server.
 *
 * PGlite runs ONE session: the socket server queues statements from its connections onto it.
 * Statements never interleave, but a multi-statement transaction on one connection can see
 * statements of another in between; the worker therefore keeps its writes to single statements
 * (upserts), and pg-boss's fetch/complete are single statements too. For a hospital deployment,
 * set DATABASE_URL to a real PostgreSQL.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedDatabase {
  /** postgres://... connection string for pg / Prisma / pg-boss. */
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  readonly dataDir: string;
  /** Loopback port; 0 picks a free one. */
  readonly port: number;
  readonly maxConnections?: number;
}

export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir });
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: options.port,
    maxConnections: options.maxConnections ?? 32,
  });
  await server.start();
  // getServerConn() answers "host:port" with the port actually bound.
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) {
    await server.stop();
    await db.close();
    throw new Error(`embedded database: socket server reported an unusable address "${conn}"`);
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    dataDir: options.dataDir,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
