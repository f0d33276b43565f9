/**
 * Other processes for the embedded-database tests (a dashboard beside the worker, a second
 * opener, a client killed mid-transaction). Node 20 cannot run TypeScript, so spawnChild()
 * bundles this file with esbuild (packages stay external) and runs it with a role:
 *   open <options-json>  opens the embedded database, prints {url, owner}; stops when stdin ends
 *   read <url>           a dashboard: reads pages with parameterised queries until stdin ends,
 *                        then prints a summary
 *   hold <url>           begins a transaction, inserts a row, prints "holding", waits (to be killed)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openEmbeddedDatabase } from './embedded.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Inside the workspace's node_modules, so the bundle resolves pg and PGlite like the sources do.
const BUNDLE = path.resolve(HERE, '../../node_modules/.cache/lascar-tests/embedded-child.mjs');

let bundled: Promise<void> | undefined;

async function bundle(): Promise<void> {
  const { build } = await import('esbuild');
  await mkdir(path.dirname(BUNDLE), { recursive: true });
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: BUNDLE,
    logLevel: 'error',
  });
}

export interface Child {
  readonly proc: ChildProcess;
  /** Resolves with the next line the child prints. */
  nextLine(): Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/** Bundles the child once (about a second); spawnChild does it too when needed. */
export function prepareChildren(): Promise<void> {
  bundled ??= bundle();
  return bundled;
}

export async function spawnChild(
  role: 'open' | 'read' | 'hold',
  ...args: string[]
): Promise<Child> {
  await prepareChildren();
  const proc = spawn(process.execPath, [BUNDLE, role, ...args], {
    env: { ...process.env, LASCAR_TEST_CHILD: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    proc,
    exited,
    nextLine: () =>
      new Promise<string>((resolve, reject) => {
        const line = lines.shift();
        if (line !== undefined) return resolve(line);
        waiting.push(resolve);
        void exited.then((code) => reject(new Error(`child ${role} exited (${code})`)));
      }),
  };
}

// ---- what the concurrency test writes and what every reader checks -------------------------

/** Batch b of a writer holds itemCount(b) items with these payloads; ids ending in 7 roll back. */
export const itemCount = (id: number): number => 1 + (id % 5);
export const payloadOf = (id: number, k: number): string => `batch ${id} item ${k} ✓`;
export const checksumOf = (id: number): string => `sum:${id * 7919}:${itemCount(id)}`;
export const rolledBack = (id: number): boolean => id % 10 === 7;

export const PAGE_SQL = `
  SELECT b.id, b.n, b.checksum, count(i.k)::int AS items,
         coalesce(string_agg(i.payload, '|' ORDER BY i.k), '') AS payloads
  FROM wire_batch b LEFT JOIN wire_item i ON i.batch = b.id
  WHERE b.id > $1 GROUP BY b.id ORDER BY b.id LIMIT $2`;

export interface PageRow {
  id: number;
  n: number;
  checksum: string;
  items: number;
  payloads: string;
}

/** What is wrong with one page of batches a reader saw (nothing, under correct isolation). */
export function pageViolations(rows: readonly PageRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const id = Number(r.id);
    const expected = Array.from({ length: itemCount(id) }, (_, k) => payloadOf(id, k)).join('|');
    if (rolledBack(id)) out.push(`batch ${id} was rolled back but is visible`);
    else if (r.n !== itemCount(id) || r.checksum !== checksumOf(id)) {
      out.push(`batch ${id} header corrupted: n=${r.n} checksum=${r.checksum}`);
    } else if (r.items !== r.n) out.push(`batch ${id} half-written: ${r.items} of ${r.n} items`);
    else if (r.payloads !== expected) out.push(`batch ${id} items corrupted: ${r.payloads}`);
  }
  return out;
}

export interface ReadSummary {
  pages: number;
  rows: number;
  violations: string[];
  errors: string[];
}

/** Reads all pages over and over while keepGoing(); says what it read and what was wrong. */
export async function readPages(
  client: pg.Pool | pg.Client,
  keepGoing: () => boolean,
  pageSize = 25,
): Promise<ReadSummary> {
  const result: ReadSummary = { pages: 0, rows: 0, violations: [], errors: [] };
  while (keepGoing()) {
    let after = 0;
    for (;;) {
      try {
        const { rows } = await client.query<PageRow>(PAGE_SQL, [after, pageSize]);
        result.pages++;
        result.rows += rows.length;
        result.violations.push(...pageViolations(rows));
        if (rows.length < pageSize) break;
        after = Number(rows[rows.length - 1]!.id);
      } catch (error) {
        result.errors.push((error as Error).message);
        break;
      }
    }
  }
  return result;
}

// ---- the child's main --------------------------------------------------------------------

async function main(role: string, args: string[]): Promise<void> {
  if (role === 'open') {
    const db = await openEmbeddedDatabase(
      JSON.parse(args[0]!) as { dataDir: string; port: number },
    );
    process.stdout.write(`${JSON.stringify({ url: db.url, owner: db.owner, pid: process.pid })}\n`);
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on('end', resolve));
    await db.stop();
  } else if (role === 'read') {
    const pool = new pg.Pool({ connectionString: args[0], max: 2 });
    let reading = true;
    process.stdin.on('end', () => (reading = false)).resume();
    process.stdout.write('reading\n');
    const summary = await readPages(pool, () => reading);
    await pool.end();
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else if (role === 'hold') {
    const client = new pg.Client({ connectionString: args[0] });
    await client.connect();
    await client.query('BEGIN');
    await client.query('INSERT INTO held (note) VALUES ($1)', ['written by a client then killed']);
    process.stdout.write('holding\n');
    await new Promise(() => undefined);
  } else {
    throw new Error(`unknown child role "${role}"`);
  }
}

if (process.env.LASCAR_TEST_CHILD === '1') {
  main(process.argv[2]!, process.argv.slice(3)).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`child failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
