// The wire-protocol server in front of PGlite, with real clients (node-postgres, a raw socket, a
// killed child process): passwords, clients that leave mid-transaction or fall asleep in one,
// and what the shared session must keep apart.
import { connect, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnChild } from './embedded-child.test-helper.js';
import { PROTOCOL_3_0, SSL_REQUEST_CODE, CANCEL_REQUEST_CODE, cstring } from './pg-wire.js';
import { startWireServer, type WireServer } from './wire-server.js';

const PASSWORD = 'correct horse battery staple';
const IDLE_MS = 1_500;

let db: PGlite;
let server: WireServer;
let url: string;

const urlWith = (user: string, password: string, database = 'postgres') =>
  `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/${database}`;

async function connected(connectionString = url): Promise<pg.Client> {
  const c = new pg.Client({ connectionString });
  await c.connect();
  return c;
}

/** Resolves to the settled value, or 'pending' if it has not settled within ms. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

/** A raw connection: send bytes, wait for what comes back or for the server to close. */
function rawConnection(): Promise<{
  socket: Socket;
  received: () => Buffer;
  closed: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({ socket, received: () => Buffer.concat(chunks), closed }),
    );
  });
}

function startupPacket(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).flatMap(([k, v]) => [cstring(k), cstring(v)]),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(PROTOCOL_3_0, 4);
  return Buffer.concat([head, body]);
}

beforeAll(async () => {
  db = await PGlite.create();
  server = await startWireServer({
    db,
    password: PASSWORD,
    port: 0,
    idleInTransactionTimeoutMs: IDLE_MS,
  });
  url = urlWith('postgres', PASSWORD);
  const c = await connected();
  await c.query('CREATE TABLE held (id serial PRIMARY KEY, note text NOT NULL)');
  await c.end();
});

afterAll(async () => {
  await server?.stop();
  await db?.close();
});

describe('authentication', () => {
  it('asks every client for a password (SCRAM-SHA-256) before anything else', async () => {
    const raw = await rawConnection();
    raw.socket.write(startupPacket({ user: 'postgres', database: 'postgres' }));
    await new Promise((r) => setTimeout(r, 200));
    const reply = raw.received();
    expect(reply.subarray(0, 1).toString()).toBe('R');
    expect(reply.readInt32BE(5)).toBe(10); // AuthenticationSASL
    expect(reply.subarray(9).toString()).toContain('SCRAM-SHA-256');
    raw.socket.destroy();
    await expect(
      connected(`postgres://postgres@127.0.0.1:${server.port}/postgres`),
    ).rejects.toThrow(/password/);
  });

  it('refuses a wrong password, an unknown user and an unknown database as PostgreSQL words it', async () => {
    await expect(connected(urlWith('postgres', 'guess'))).rejects.toMatchObject({
      message: 'password authentication failed for user "postgres"',
      code: '28P01',
    });
    await expect(connected(urlWith('admin', PASSWORD))).rejects.toMatchObject({
      message: 'password authentication failed for user "admin"',
      code: '28P01',
    });
    await expect(connected(urlWith('postgres', PASSWORD, 'lascar'))).rejects.toMatchObject({
      message: 'database "lascar" does not exist',
      code: '3D000',
    });
    const c = await connected();
    expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe('postgres');
    await c.end();
  });

  it("answers SSLRequest with 'N' and ignores a CancelRequest without harm", async () => {
    const ssl = await rawConnection();
    const req = Buffer.alloc(8);
    req.writeInt32BE(8, 0);
    req.writeInt32BE(SSL_REQUEST_CODE, 4);
    ssl.socket.write(req);
    await new Promise((r) => setTimeout(r, 100));
    expect(ssl.received().toString()).toBe('N');
    ssl.socket.destroy();

    const cancel = await rawConnection();
    const c = Buffer.alloc(16);
    c.writeInt32BE(16, 0);
    c.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    cancel.socket.write(c);
    await cancel.closed;
    expect(cancel.received().length).toBe(0);
    const client = await connected();
    expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await client.end();
  });
});

describe('one session shared in turns', () => {
  it('keeps an open transaction to its client: others wait, then see only committed rows', async () => {
    const a = await connected();
    const b = await connected();
    await a.query('BEGIN');
    await a.query('INSERT INTO held (note) VALUES ($1)', ['a: in a transaction']);
    const read = b.query<{ n: number }>('SELECT count(*)::int AS n FROM held WHERE note = $1', [
      'a: in a transaction',
    ]);
    expect(await within(read, 300)).toBe('pending');
    await a.query('COMMIT');
    expect((await read).rows[0]!.n).toBe(1);
    await Promise.all([a.end(), b.end()]);
  });

  it('keeps a client that reads in pieces (Execute with a row limit, Flush) whole', async () => {
    const a = await connected();
    const b = await connected();
    // node-postgres sends Execute(rows=2) + Flush, then again on each PortalSuspended.
    const pieces = a.query<{ i: number }>({
      text: 'SELECT i FROM generate_series(1, $1::int) AS i',
      values: [9],
      rows: 2,
    } as pg.QueryConfig<unknown[]>);
    const others = (async () => {
      const seen: number[] = [];
      for (const k of [1, 2, 3, 4]) {
        seen.push((await b.query<{ k: number }>('SELECT $1::int AS k', [k])).rows[0]!.k);
      }
      return seen;
    })();
    expect((await pieces).rows.map((r) => r.i)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await others).toEqual([1, 2, 3, 4]);
    await Promise.all([a.end(), b.end()]);
  });

  it('keeps prepared statements of the same name on two connections apart, and drops them at disconnect', async () => {
    const count = async (c: pg.Client) =>
      (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements'))
        .rows[0]!.n;
    const a = await connected();
    const b = await connected();
    const before = await count(a);
    const fromA = await a.query({ name: 'page', text: 'SELECT $1::text AS who', values: ['a'] });
    const fromB = await b.query({
      name: 'page',
      text: "SELECT 'b:' || $1::text AS who",
      values: ['x'],
    });
    const againA = await a.query({ name: 'page', text: 'SELECT $1::text AS who', values: ['a2'] });
    expect([fromA.rows[0].who, fromB.rows[0].who, againA.rows[0].who]).toEqual(['a', 'b:x', 'a2']);
    expect(await count(a)).toBe(before + 2);
    await b.end();
    await new Promise((r) => setTimeout(r, 100));
    expect(await count(a)).toBe(before + 1);
    await a.end();
  });

  it('refuses COPY FROM STDIN (PGlite would exit) with a clear error and keeps serving', async () => {
    const c = await connected();
    await expect(c.query('COPY held (note) FROM STDIN')).rejects.toMatchObject({
      message: 'COPY FROM STDIN is not supported by the embedded database',
      code: '0A000',
    });
    expect((await c.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    await c.end();
  });
});

describe('clients that leave or stall mid-transaction', () => {
  it("rolls back a killed client's transaction and lets the others go on at once", async () => {
    const holder = await spawnChild('hold', url);
    expect(await holder.nextLine()).toBe('holding');
    const other = await connected();
    const read = other.query<{ n: number }>('SELECT count(*)::int AS n FROM held WHERE note = $1', [
      'written by a client then killed',
    ]);
    expect(await within(read, 300)).toBe('pending');
    holder.proc.kill('SIGKILL');
    expect(await holder.exited).toBe('SIGKILL');
    const answered = await within(read, 2_000);
    expect(answered).not.toBe('pending');
    expect((answered as pg.QueryResult<{ n: number }>).rows[0]!.n).toBe(0);
    await other.end();
  });

  it('disconnects a client idle in a transaction past the timeout and rolls it back', async () => {
    const sleeper = await connected();
    const errors: string[] = [];
    sleeper.on('error', (e) => errors.push(e.message));
    await sleeper.query('BEGIN');
    await sleeper.query('INSERT INTO held (note) VALUES ($1)', ['asleep in a transaction']);
    const other = await connected();
    const started = Date.now();
    const { rows } = await other.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM held WHERE note = $1',
      ['asleep in a transaction'],
    );
    const waited = Date.now() - started;
    expect(rows[0]!.n).toBe(0);
    expect(waited).toBeGreaterThan(IDLE_MS - 200);
    expect(waited).toBeLessThan(IDLE_MS + 2_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.join()).toMatch(/idle-in-transaction timeout|Connection terminated/);
    await expect(sleeper.query('SELECT 1')).rejects.toThrow();
    await other.end();
  });

  it('lets a client idle outside a transaction stay as long as it likes', async () => {
    const idle = await connected();
    await idle.query('SELECT 1');
    await new Promise((r) => setTimeout(r, IDLE_MS + 300));
    expect((await idle.query('SELECT 3 AS three')).rows[0].three).toBe(3);
    await idle.end();
  });
});
