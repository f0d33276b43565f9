// The embedded database used by a worker and a dashboard at the same time: writers run
// multi-statement transactions (extended protocol with parameters, simple-query scripts, Prisma
// interactive transactions) on their own connections while dashboard readers (pg pools in this
// process, Prisma, and a second process) page through the same tables with parameterised
// queries. No reader may ever see a half-written or rolled-back transaction, no statement may
// fail, and at the end every committed row is there with exactly the contents written.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from './generated/prisma/client.js';
import { applyMigrations } from './client.js';
import {
  PAGE_SQL,
  checksumOf,
  itemCount,
  pageViolations,
  payloadOf,
  readPages,
  rolledBack,
  spawnChild,
  type PageRow,
  type ReadSummary,
} from './embedded-child.test-helper.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';

let db: EmbeddedDatabase;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'lascar-concurrency-'));
  db = await openEmbeddedDatabase({ dataDir, port: 0 });
  await applyMigrations(db.url);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(`CREATE TABLE wire_batch (id int PRIMARY KEY, n int NOT NULL, checksum text NOT NULL);
                 CREATE TABLE wire_item (batch int NOT NULL REFERENCES wire_batch(id), k int NOT NULL,
                                         payload text NOT NULL, PRIMARY KEY (batch, k))`);
  await c.end();
});

afterAll(async () => {
  await db?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

class Rollback extends Error {}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const studyUid = (i: number) => `2.25.4242.${i}`;

/** A worker writing batches through Parse/Bind/Execute, one transaction per batch. */
async function extendedWriter(pool: pg.Pool, ids: number[]): Promise<void> {
  for (const id of ids) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO wire_batch (id, n, checksum) VALUES ($1, $2, $3)', [
        id,
        itemCount(id),
        checksumOf(id),
      ]);
      for (let k = 0; k < itemCount(id); k++) {
        await c.query('INSERT INTO wire_item (batch, k, payload) VALUES ($1, $2, $3)', [
          id,
          k,
          payloadOf(id, k),
        ]);
      }
      await c.query(rolledBack(id) ? 'ROLLBACK' : 'COMMIT');
    } finally {
      c.release();
    }
  }
}

/** A worker sending each batch as one multi-statement simple query. */
async function scriptWriter(pool: pg.Pool, ids: number[]): Promise<void> {
  for (const id of ids) {
    const lit = (s: string) => pg.Client.prototype.escapeLiteral(s);
    const items = range(0, itemCount(id)).map(
      (k) =>
        `INSERT INTO wire_item (batch, k, payload) VALUES (${id}, ${k}, ${lit(payloadOf(id, k))});`,
    );
    await pool.query(
      `BEGIN; INSERT INTO wire_batch (id, n, checksum) VALUES (${id}, ${itemCount(id)}, ${lit(checksumOf(id))});
       ${items.join('\n')} ${rolledBack(id) ? 'ROLLBACK' : 'COMMIT'};`,
    );
  }
}

/** The worker's Prisma: a study and its series in one interactive transaction. */
async function prismaWriter(prisma: PrismaClient, ids: number[]): Promise<void> {
  for (const i of ids) {
    try {
      await prisma.$transaction(async (tx) => {
        const study = await tx.study.create({
          data: { studyInstanceUid: studyUid(i), accessionNumber: String(itemCount(i)) },
        });
        for (let k = 0; k < itemCount(i); k++) {
          await tx.series.create({
            data: {
              seriesInstanceUid: `${studyUid(i)}.${k}`,
              studyRef: study.id,
              seriesDescription: payloadOf(i, k),
              numberOfInstances: itemCount(i),
            },
          });
        }
        if (rolledBack(i)) throw new Rollback();
      });
    } catch (error) {
      if (!(error instanceof Rollback)) throw error;
    }
  }
}

/** A dashboard reading studies with their series through Prisma. */
async function prismaReader(prisma: PrismaClient, keepGoing: () => boolean): Promise<ReadSummary> {
  const result: ReadSummary = { pages: 0, rows: 0, violations: [], errors: [] };
  while (keepGoing()) {
    for (let skip = 0; ; skip += 10) {
      try {
        const page = await prisma.study.findMany({
          where: { studyInstanceUid: { startsWith: '2.25.4242.' } },
          include: { series: { orderBy: { seriesInstanceUid: 'asc' } } },
          orderBy: { studyInstanceUid: 'asc' },
          skip,
          take: 10,
        });
        result.pages++;
        result.rows += page.length;
        for (const s of page) {
          const i = Number(s.studyInstanceUid.split('.').pop());
          const got = s.series.map((x) => x.seriesDescription).join('|');
          const want = range(0, itemCount(i))
            .map((k) => payloadOf(i, k))
            .join('|');
          if (rolledBack(i)) result.violations.push(`study ${i} was rolled back but is visible`);
          else if (got !== want) result.violations.push(`study ${i} has series ${got}`);
        }
        if (page.length < 10) break;
      } catch (error) {
        result.errors.push((error as Error).message);
        break;
      }
    }
  }
  return result;
}

/** A dashboard's consistent snapshot: the batches' item counts add up to the items present. */
async function snapshotReader(pool: pg.Pool, keepGoing: () => boolean): Promise<ReadSummary> {
  const result: ReadSummary = { pages: 0, rows: 0, violations: [], errors: [] };
  while (keepGoing()) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const b = await c.query<{ batches: number; expected: number }>(
        'SELECT count(*)::int AS batches, coalesce(sum(n), 0)::int AS expected FROM wire_batch WHERE id > $1',
        [0],
      );
      const i = await c.query<{ items: number }>(
        'SELECT count(*)::int AS items FROM wire_item WHERE batch > $1',
        [0],
      );
      await c.query('COMMIT');
      result.pages++;
      result.rows += b.rows[0]!.batches;
      if (b.rows[0]!.expected !== i.rows[0]!.items) {
        result.violations.push(
          `snapshot: batches promise ${b.rows[0]!.expected} items, ${i.rows[0]!.items} present`,
        );
      }
    } catch (error) {
      result.errors.push((error as Error).message);
      await c.query('ROLLBACK').catch(() => undefined);
    } finally {
      c.release();
    }
  }
  return result;
}

describe('the embedded database shared by a worker and a dashboard', () => {
  it('keeps concurrent transactions and parameterised reads apart: nothing lost, nothing half-seen', async () => {
    const url = db.url;
    const pools = {
      writerA: new pg.Pool({ connectionString: url, max: 1 }),
      writerB: new pg.Pool({ connectionString: url, max: 1 }),
      script: new pg.Pool({ connectionString: url, max: 1 }),
      readers: new pg.Pool({ connectionString: url, max: 3 }),
      snapshot: new pg.Pool({ connectionString: url, max: 1 }),
    };
    const prismaW = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
    const prismaR = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
    const dashboard = await spawnChild('read', url);
    expect(await dashboard.nextLine()).toBe('reading');

    const started = Date.now();
    let writing = true;
    const keepGoing = () => writing;
    const readers = Promise.all([
      readPages(pools.readers, keepGoing),
      readPages(pools.readers, keepGoing),
      readPages(pools.readers, keepGoing, 7),
      snapshotReader(pools.snapshot, keepGoing),
      prismaReader(prismaR, keepGoing),
    ]);
    const extendedA = range(1, 150);
    const extendedB = range(1001, 150);
    const scripted = range(2001, 100);
    const studies = range(1, 60);
    try {
      await Promise.all([
        extendedWriter(pools.writerA, extendedA),
        extendedWriter(pools.writerB, extendedB),
        scriptWriter(pools.script, scripted),
        prismaWriter(prismaW, studies),
      ]);
    } finally {
      writing = false;
    }
    const writeMs = Date.now() - started;
    const summaries = await readers;
    dashboard.proc.stdin!.end();
    const fromChild = JSON.parse(await dashboard.nextLine()) as ReadSummary;
    expect(await dashboard.exited).toBe(0);

    for (const s of [...summaries, fromChild]) {
      expect(s.errors).toEqual([]);
      expect(s.violations).toEqual([]);
      expect(s.pages).toBeGreaterThan(0);
    }

    // Every committed batch is there, whole and intact; no rolled-back one is.
    const { rows } = await pools.readers.query<PageRow>(PAGE_SQL, [0, 100_000]);
    const committed = [...extendedA, ...extendedB, ...scripted].filter((id) => !rolledBack(id));
    expect(rows.map((r) => r.id)).toEqual(committed);
    expect(pageViolations(rows)).toEqual([]);
    const studiesNow = await prismaR.study.findMany({
      where: { studyInstanceUid: { startsWith: '2.25.4242.' } },
      include: { _count: { select: { series: true } } },
    });
    expect(studiesNow.map((s) => s.studyInstanceUid).sort()).toEqual(
      studies
        .filter((i) => !rolledBack(i))
        .map(studyUid)
        .sort(),
    );
    for (const s of studiesNow) {
      expect(s._count.series).toBe(itemCount(Number(s.studyInstanceUid.split('.').pop())));
    }

    const pages = [...summaries, fromChild].map((s) => s.pages);
    console.log(
      `concurrency: ${committed.length} batches + ${studiesNow.length} studies written in ${writeMs} ms ` +
        `while readers read ${pages.join('/')} pages (pg, pg, pg, snapshot, prisma, other process)`,
    );
    await Promise.all([
      ...Object.values(pools).map((p) => p.end()),
      prismaW.$disconnect(),
      prismaR.$disconnect(),
    ]);
  });
});
