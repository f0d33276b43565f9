// One process owns an embedded data folder and serves it; every other process asking for the
// same folder attaches to that server instead of opening PGlite on the folder a second time.
// Real processes throughout: owners that crash (SIGKILL), two processes starting at once.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareChildren, spawnChild, type Child } from './embedded-child.test-helper.js';
import {
  SERVER_INFO_FILE,
  SERVER_LOCK_FILE,
  openEmbeddedDatabase,
  readServerInfo,
} from './embedded.js';

const dirs: string[] = [];
const children: Child[] = [];

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'lascar-embedded-owner-'));
  dirs.push(d);
  return d;
}

async function openInChild(
  dataDir: string,
): Promise<{ child: Child; url: string; owner: boolean }> {
  const child = await spawnChild('open', JSON.stringify({ dataDir, port: 0 }));
  children.push(child);
  const { url, owner } = JSON.parse(await child.nextLine()) as { url: string; owner: boolean };
  return { child, url, owner };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(() => prepareChildren());

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('an embedded data folder shared by several processes', () => {
  it('is served by its first opener and attached to by the next, across a crash of the owner', async () => {
    const dataDir = await freshDir();
    const first = await openInChild(dataDir);
    expect(first.owner).toBe(true);
    await query(
      first.url,
      "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the crash')",
    );

    // server.json: owner-only, loopback, the password the URL carries.
    const infoPath = path.join(dataDir, SERVER_INFO_FILE);
    expect((await stat(infoPath)).mode & 0o777).toBe(0o600);
    const info = (await readServerInfo(infoPath))!;
    expect(info.host).toBe('127.0.0.1');
    expect(info.pid).toBe(first.child.proc.pid);
    expect(info.password.length).toBeGreaterThanOrEqual(32);
    expect(first.url).toContain(`:${info.password}@127.0.0.1:${info.port}/`);

    // This process asks for the same folder: it attaches, PGlite is not opened twice.
    const attached = await openEmbeddedDatabase({ dataDir, port: 0 });
    expect(attached.owner).toBe(false);
    expect(attached.url).toBe(first.url);
    await attached.stop(); // an attached process's stop leaves the server running
    expect(await query(first.url, 'SELECT v FROM kept')).toEqual([{ v: 'before the crash' }]);

    // The owner dies without cleaning up: its server.json and lock stay behind, stale.
    first.child.proc.kill('SIGKILL');
    await first.child.exited;
    expect(existsSync(infoPath)).toBe(true);
    expect(existsSync(path.join(dataDir, SERVER_LOCK_FILE))).toBe(true);

    const next = await openEmbeddedDatabase({ dataDir, port: 0 });
    try {
      expect(next.owner).toBe(true);
      expect(next.url).not.toBe(first.url); // a new password (and port)
      expect(await query(next.url, 'SELECT v FROM kept')).toEqual([{ v: 'before the crash' }]);
      expect((await readServerInfo(infoPath))!.pid).toBe(process.pid);

      // Another process now attaches to this one.
      const third = await openInChild(dataDir);
      expect(third.owner).toBe(false);
      expect(third.url).toBe(next.url);
      third.child.proc.stdin!.end();
      expect(await third.child.exited).toBe(0);
      expect(await query(next.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 1 }]);
    } finally {
      await next.stop();
    }
    expect(existsSync(infoPath)).toBe(false);
    expect(existsSync(path.join(dataDir, SERVER_LOCK_FILE))).toBe(false);
  });

  it('has exactly one owner when two processes start on a new folder at the same moment', async () => {
    const dataDir = await freshDir();
    const [a, b] = await Promise.all([openInChild(dataDir), openInChild(dataDir)]);
    expect([a.owner, b.owner].sort()).toEqual([false, true]);
    expect(a.url).toBe(b.url);
    expect(await query(a.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const owner = a.owner ? a : b;
    owner.child.proc.stdin!.end();
    expect(await owner.child.exited).toBe(0);
    expect(existsSync(path.join(dataDir, SERVER_INFO_FILE))).toBe(false);
  });

  it('does not take a folder whose lock is held by a live process, and says who holds it', async () => {
    const dataDir = await freshDir();
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(
        path.join(dataDir, SERVER_LOCK_FILE),
        JSON.stringify({ pid: sleeper.pid, hostname: hostname() }),
      );
      await expect(
        openEmbeddedDatabase({ dataDir, port: 0, startTimeoutMs: 1_000 }),
      ).rejects.toThrow(`process ${sleeper.pid} holds server.lock but serves no database`);
      expect(await readFile(path.join(dataDir, SERVER_LOCK_FILE), 'utf8')).toContain(
        String(sleeper.pid),
      );
    } finally {
      sleeper.kill();
    }
  });
});
