/**
 * A PostgreSQL wire-protocol server in front of PGlite, so that several processes (the worker,
 * the dashboard, psql) can use the embedded database at the same time.
 *
 * PGlite runs ONE backend session. Each client therefore gets the session in turns, at the
 * protocol's own unit: its messages up to Sync, a simple Query, a FunctionCall or a Flush go to
 * PGlite together, and the client keeps the session while the reply leaves it inside something
 * unfinished: a transaction (ReadyForQuery 'T' or 'E') or an extended-protocol sequence without
 * its Sync yet. It gives the session up at ReadyForQuery 'I'. So two clients' Parse/Bind/Execute
 * never interleave, and a transaction never sees another client's statements.
 *
 * The price of one session: one transaction at a time. A client idle in a transaction longer
 * than idleInTransactionTimeoutMs is disconnected and rolled back (PostgreSQL's
 * idle_in_transaction_session_timeout, which PGlite cannot enforce itself), so one stuck client
 * cannot freeze the others. A client that disconnects mid-transaction is rolled back. Session
 * state (SET, SQL-level PREPARE, LISTEN, temporary tables, advisory locks) is shared by all
 * clients; protocol-level prepared statements and portals are kept apart per connection.
 *
 * Passwords: SCRAM-SHA-256, the PostgreSQL default. Loopback only.
 */
import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import {
  AUTH_OK,
  AUTH_SASL,
  AUTH_SASL_CONTINUE,
  AUTH_SASL_FINAL,
  BackendTracker,
  FrontendReader,
  PROTOCOL_3_0,
  ProtocolViolation,
  authentication,
  backendKeyData,
  cstring,
  errorResponse,
  message,
  negotiateProtocolVersion,
  parameterStatus,
  parseSaslInitialResponse,
  parseSaslResponse,
  readyForQuery,
  scopeNames,
  sqlOf,
  type FrontendMessage,
  type StartupPacket,
} from './pg-wire.js';
import { SCRAM_MECHANISM, ScramExchange, scramVerifier, type ScramVerifier } from './scram.js';

export interface WireServerOptions {
  readonly db: Pick<PGlite, 'execProtocolRawStream' | 'runExclusive'>;
  readonly password: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The one role clients log in as; default "postgres". */
  readonly user?: string;
  /** The one database PGlite has; default "postgres". */
  readonly database?: string;
  /** Default 60 s. */
  readonly idleInTransactionTimeoutMs?: number;
  /** A client must finish startup and authentication within this; default 10 s. */
  readonly authenticationTimeoutMs?: number;
  /** Default 64. */
  readonly maxConnections?: number;
  /** PGlite failed underneath (the session is gone): every client was disconnected. */
  readonly onFatal?: (error: Error) => void;
}

export interface WireServer {
  readonly host: string;
  readonly port: number;
  /** Open client connections. */
  connectionCount(): number;
  /** Disconnects every client (rolling back what they left open) and stops listening. */
  stop(): Promise<void>;
}

/** Messages after which a client waits for a reply: the end of a unit sent to PGlite. */
const UNIT_END = new Set(['S', 'Q', 'H', 'F', 'c', 'f']);

// PGlite exits its WASM runtime (killing the whole session) on COPY FROM STDIN, so such
// statements are replaced by one that fails the way an unsupported feature fails.
const COPY_FROM_STDIN = /\bcopy\b[^;]*\bfrom\s+stdin\b/i;
const REFUSE_COPY_FROM_STDIN =
  "DO $lascar$ BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', " +
  "MESSAGE = 'COPY FROM STDIN is not supported by the embedded database', " +
  "HINT = 'Use INSERT, or set DATABASE_URL to a PostgreSQL server.'; END $lascar$";

const SYNC = message('S');
const ROLLBACK = message('Q', cstring('ROLLBACK'));

type Holder = Connection | 'server';

/** FIFO ownership of the PGlite session. */
class SessionLock {
  private holder: Holder | undefined;
  private readonly waiting: { who: Holder; grant: () => void }[] = [];

  isHeldBy(who: Holder): boolean {
    return this.holder === who;
  }

  acquire(who: Holder): Promise<void> {
    if (this.holder === who) return Promise.resolve();
    if (this.holder === undefined) {
      this.holder = who;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ who, grant }));
  }

  release(who: Holder): void {
    if (this.holder !== who) return;
    const next = this.waiting.shift();
    this.holder = next?.who;
    next?.grant();
  }
}

class Session {
  readonly lock = new SessionLock();
  broken: Error | undefined;

  constructor(
    private readonly db: WireServerOptions['db'],
    private readonly onBroken: (error: Error) => void,
  ) {}

  /** Sends messages to PGlite (the caller holds the lock); undefined once PGlite has failed. */
  async execute(
    bytes: Buffer,
    onData?: (chunk: Buffer) => void,
  ): Promise<BackendTracker | undefined> {
    if (this.broken) return undefined;
    const reply = new BackendTracker();
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(bytes, {
          onRawData: (chunk) => {
            reply.push(chunk);
            // Copied: the chunk may be a view of WASM memory that the next call reuses.
            onData?.(Buffer.from(chunk));
          },
        }),
      );
    } catch (error) {
      this.broken = error instanceof Error ? error : new Error(String(error));
      this.onBroken(this.broken);
      return undefined;
    }
    return reply;
  }
}

interface ServerContext {
  readonly session: Session;
  readonly verifier: ScramVerifier;
  readonly user: string;
  readonly database: string;
  readonly parameters: ReadonlyMap<string, string>;
  readonly idleInTransactionTimeoutMs: number;
  readonly authenticationTimeoutMs: number;
  readonly connections: Set<Connection>;
}

let nextConnectionId = 1;

class Connection {
  readonly id = nextConnectionId++;
  /** True once the socket is closed or closing: nothing more is read or written. */
  gone = false;
  private readonly reader = new FrontendReader();
  private phase: 'startup' | 'sasl-initial' | 'sasl-final' | 'ready' = 'startup';
  private user = '';
  private database = '';
  private applicationName: string | undefined;
  private scram: ScramExchange | undefined;
  private pending: Buffer[] = [];
  /** This client's units, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private readonly statements = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    private readonly ctx: ServerContext,
    private readonly socket: Socket,
  ) {
    this.authTimer = setTimeout(
      () => this.fatal('08006', 'authentication timeout: startup not completed in time'),
      ctx.authenticationTimeoutMs,
    );
    this.authTimer.unref();
  }

  /** Resolves when everything this client sent, and its clean-up, has run. */
  settled(): Promise<void> {
    return this.chain;
  }

  onData(chunk: Buffer): void {
    if (this.gone) return;
    this.clearIdleTimer();
    this.reader.push(chunk);
    try {
      while (!this.gone) {
        if (this.phase === 'startup') {
          const packet = this.reader.nextStartup();
          if (!packet) break;
          this.onStartup(packet);
          continue;
        }
        const msg = this.reader.nextMessage();
        if (!msg) break;
        if (this.phase === 'ready') this.onMessage(msg);
        else this.onPassword(msg);
      }
    } catch (error) {
      if (error instanceof ProtocolViolation) this.fatal('08P01', error.message);
      else this.fatal('XX000', `internal error: ${(error as Error).message}`);
    }
    this.armIdleTimer();
  }

  /** Sends a FATAL error and closes the connection, as a PostgreSQL backend does. */
  fatal(code: string, text: string): void {
    if (this.gone) return;
    this.write(errorResponse({ severity: 'FATAL', code, message: text }));
    this.socket.end();
    // A client that never closes its side must not keep the socket (and its slot) forever.
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    this.onGone();
  }

  /** The socket closed (or we closed it): run what is queued, then clean up after the client. */
  onGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.pending = [];
    this.clearIdleTimer();
    clearTimeout(this.authTimer);
    this.chain = this.chain.then(() => this.cleanUp());
    void this.chain.then(() => this.ctx.connections.delete(this));
  }

  private onStartup(packet: StartupPacket): void {
    switch (packet.kind) {
      case 'ssl':
      case 'gssenc':
        // No TLS on loopback: the client continues in plain text (or gives up, if it insists).
        this.write(Buffer.from('N'));
        return;
      case 'cancel':
        // PGlite cannot interrupt a running statement (no signals in WASM). PostgreSQL closes
        // a cancel connection without a reply; so do we.
        this.socket.end();
        this.onGone();
        return;
      case 'startup': {
        const user = packet.params.get('user');
        if (!user) {
          this.fatal('28000', 'no PostgreSQL user name specified in startup packet');
          return;
        }
        this.user = user;
        this.database = packet.params.get('database') || user;
        this.applicationName = packet.params.get('application_name');
        const unsupported = [...packet.params.keys()].filter((k) => k.startsWith('_pq_.'));
        if (packet.minor > 0 || unsupported.length > 0) {
          this.write(negotiateProtocolVersion(unsupported));
        }
        this.scram = new ScramExchange(this.ctx.verifier);
        this.write(
          authentication(AUTH_SASL, Buffer.concat([cstring(SCRAM_MECHANISM), Buffer.from([0])])),
        );
        this.phase = 'sasl-initial';
        return;
      }
    }
  }

  private onPassword(msg: FrontendMessage): void {
    if (msg.type !== 'p') {
      throw new ProtocolViolation(`expected SASL response, got message type "${msg.type}"`);
    }
    const refuse = () =>
      this.fatal('28P01', `password authentication failed for user "${this.user}"`);
    if (this.phase === 'sasl-initial') {
      const { mechanism, data } = parseSaslInitialResponse(msg.bytes);
      if (mechanism !== SCRAM_MECHANISM) {
        throw new ProtocolViolation('client selected an invalid SASL authentication mechanism');
      }
      const step = this.scram!.first(data);
      if (!step.ok) return refuse();
      this.write(authentication(AUTH_SASL_CONTINUE, Buffer.from(step.reply)));
      this.phase = 'sasl-final';
      return;
    }
    const step = this.scram!.final(parseSaslResponse(msg.bytes));
    if (!step.ok || this.user !== this.ctx.user) return refuse();
    this.write(authentication(AUTH_SASL_FINAL, Buffer.from(step.reply)));
    this.write(authentication(AUTH_OK));
    if (this.database !== this.ctx.database) {
      this.fatal('3D000', `database "${this.database}" does not exist`);
      return;
    }
    clearTimeout(this.authTimer);
    const params = new Map(this.ctx.parameters);
    if (this.applicationName !== undefined) params.set('application_name', this.applicationName);
    this.write(
      Buffer.concat([
        ...[...params].map(([k, v]) => parameterStatus(k, v)),
        backendKeyData(this.id, randomInt(2 ** 31 - 1)),
        readyForQuery('I'),
      ]),
    );
    this.phase = 'ready';
  }

  private onMessage(msg: FrontendMessage): void {
    if (msg.type === 'X') {
      // Terminate: what was sent before it still runs (as in PostgreSQL), then clean-up.
      this.socket.end();
      this.onGone();
      return;
    }
    if (msg.type === 'p') throw new ProtocolViolation('unexpected password message');
    let bytes = msg.bytes;
    if ((msg.type === 'Q' || msg.type === 'P') && COPY_FROM_STDIN.test(sqlOf(bytes))) {
      bytes = refuseCopy(bytes);
    }
    const scoped = scopeNames(bytes, `c${this.id}_`);
    if (scoped.parsed) this.statements.add(scoped.parsed);
    if (scoped.closed) this.statements.delete(scoped.closed);
    this.pending.push(scoped.bytes);
    if (UNIT_END.has(msg.type)) this.submit();
  }

  private submit(): void {
    const unit = Buffer.concat(this.pending);
    this.pending = [];
    this.queued++;
    this.chain = this.chain
      .then(() => this.run(unit))
      .finally(() => {
        this.queued--;
        this.armIdleTimer();
      });
  }

  private async run(unit: Buffer): Promise<void> {
    const { lock } = this.ctx.session;
    await lock.acquire(this);
    // Sent before the client vanished: PostgreSQL would still run it (a COMMIT, say).
    const reply = await this.ctx.session.execute(unit, (chunk) => this.write(chunk));
    if (reply?.atReadyForQuery && reply.lastStatus === 'I') lock.release(this);
  }

  /** Ends what the client left open in the shared session, and its prepared statements. */
  private async cleanUp(): Promise<void> {
    const { session } = this.ctx;
    if (!session.lock.isHeldBy(this) && this.statements.size === 0) return;
    await session.lock.acquire(this);
    try {
      // Sync ends an unfinished extended-protocol sequence; then an open transaction is undone.
      const synced = await session.execute(SYNC);
      if (synced && synced.lastStatus !== 'I') await session.execute(ROLLBACK);
      if (this.statements.size > 0) {
        const close = [...this.statements].map((name) =>
          message('C', Buffer.concat([Buffer.from('S'), cstring(name)])),
        );
        await session.execute(Buffer.concat([...close, SYNC]));
      }
    } finally {
      session.lock.release(this);
    }
  }

  private armIdleTimer(): void {
    if (this.gone || this.queued > 0 || this.idleTimer) return;
    if (!this.ctx.session.lock.isHeldBy(this)) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.queued === 0 && this.ctx.session.lock.isHeldBy(this)) {
        this.fatal('25P03', 'terminating connection due to idle-in-transaction timeout');
      }
    }, this.ctx.idleInTransactionTimeoutMs);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
}

function refuseCopy(msg: Buffer): Buffer {
  if (msg[0] === 0x51) return message('Q', cstring(REFUSE_COPY_FROM_STDIN));
  // Parse: keep the statement name and the parameter types, replace the text.
  const body = msg.subarray(5);
  const nameEnd = body.indexOf(0) + 1;
  const textEnd = body.indexOf(0, nameEnd) + 1;
  return message(
    'P',
    Buffer.concat([
      body.subarray(0, nameEnd),
      cstring(REFUSE_COPY_FROM_STDIN),
      body.subarray(textEnd),
    ]),
  );
}

/** What PGlite reports at startup (server_version, TimeZone, ...), told to every client. */
async function startupParameters(
  session: Session,
  user: string,
  database: string,
): Promise<Map<string, string>> {
  const fields = Buffer.concat([
    cstring('user'),
    cstring(user),
    cstring('database'),
    cstring(database),
    Buffer.from([0]),
  ]);
  const packet = Buffer.alloc(8 + fields.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(PROTOCOL_3_0, 4);
  fields.copy(packet, 8);
  const chunks: Buffer[] = [];
  await session.lock.acquire('server');
  try {
    await session.execute(packet, (c) => chunks.push(c));
  } finally {
    session.lock.release('server');
  }
  if (session.broken) throw session.broken;
  const reply = Buffer.concat(chunks);
  const params = new Map<string, string>();
  for (let at = 0; at + 5 <= reply.length;) {
    const len = reply.readInt32BE(at + 1);
    if (reply[at] === 0x53) {
      const [name, value] = reply.toString('utf8', at + 5, at + 1 + len).split('\0');
      if (name) params.set(name, value ?? '');
    }
    at += 1 + len;
  }
  return params;
}

export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const host = options.host ?? '127.0.0.1';
  const user = options.user ?? 'postgres';
  const database = options.database ?? 'postgres';
  const maxConnections = options.maxConnections ?? 64;
  const connections = new Set<Connection>();
  let stopping = false;

  const session = new Session(options.db, (error) => {
    // The session is gone: nobody can be served any more.
    for (const c of connections) {
      c.fatal('XX000', `the embedded database stopped: ${error.message}`);
    }
    options.onFatal?.(error);
  });
  const ctx: ServerContext = {
    session,
    verifier: scramVerifier(options.password),
    user,
    database,
    parameters: await startupParameters(session, user, database),
    idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 60_000,
    authenticationTimeoutMs: options.authenticationTimeoutMs ?? 10_000,
    connections,
  };

  const refuse = (socket: Socket, code: string, text: string) => {
    socket.end(errorResponse({ severity: 'FATAL', code, message: text }));
    setTimeout(() => socket.destroy(), 1_000).unref();
  };

  const listening: Server = createServer((socket) => {
    socket.setNoDelay(true);
    if (stopping || session.broken) {
      return refuse(socket, '57P03', 'the database system is shutting down');
    }
    if (connections.size >= maxConnections) {
      return refuse(socket, '53300', 'sorry, too many clients already');
    }
    const c = new Connection(ctx, socket);
    connections.add(c);
    socket.on('data', (chunk: Buffer) => c.onData(chunk));
    socket.on('close', () => c.onGone());
    // 'close' follows every error (ECONNRESET from a killed client, say).
    socket.on('error', () => undefined);
  });

  await new Promise<void>((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(options.port, host, () => {
      listening.off('error', reject);
      resolve();
    });
  });
  const address = listening.address();
  if (address === null || typeof address === 'string') {
    listening.close();
    throw new Error(`embedded database: unexpected listening address ${String(address)}`);
  }

  return {
    host,
    port: address.port,
    connectionCount: () => connections.size,
    async stop() {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
      const all = [...connections];
      for (const c of all) c.fatal('57P01', 'terminating connection due to administrator command');
      await Promise.allSettled(all.map((c) => c.settled()));
      await closed;
    },
  };
}
