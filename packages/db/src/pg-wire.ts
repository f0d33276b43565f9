/**
 * PostgreSQL frontend/backend protocol 3.0: framing of what a client sends, the few backend
 * messages our embedded server writes itself (authentication, errors, ReadyForQuery), and a
 * tracker that follows the backend's replies across chunks to learn the session's state.
 * Reference: https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * Node builtins only, so that this file can move into a shared package unchanged.
 */

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** PostgreSQL refuses startup packets above 10000 bytes (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_LENGTH = 10_000;
/** PostgreSQL's limit for one message (PQ_LARGE_MESSAGE_LIMIT is 1 GB). */
const MAX_MESSAGE_LENGTH = 1 << 30;

/** A client broke the protocol: the connection is answered with FATAL 08P01 and closed. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

export type StartupPacket =
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel' }
  | {
      readonly kind: 'startup';
      readonly major: number;
      readonly minor: number;
      readonly params: ReadonlyMap<string, string>;
    };

export interface FrontendMessage {
  /** The type byte as a character: 'Q', 'P', 'B', 'S', ... */
  readonly type: string;
  /** The whole message, type byte and length included. */
  readonly bytes: Buffer;
}

/**
 * Collects a client's bytes and cuts them into packets: untyped ones during startup
 * (SSLRequest, StartupMessage, CancelRequest), typed messages afterwards. Chunks are kept in a
 * list and joined once per message, so a large Bind arriving in many TCP segments is copied once.
 */
export class FrontendReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next untyped startup-phase packet, or undefined until it has fully arrived. */
  nextStartup(): StartupPacket | undefined {
    if (this.length < 8) return undefined;
    const head = this.peek(8);
    const len = head.readInt32BE(0);
    const code = head.readInt32BE(4);
    if (len < 8 || len > MAX_STARTUP_LENGTH) {
      throw new ProtocolViolation(`invalid length of startup packet (${len} bytes)`);
    }
    if (this.length < len) return undefined;
    const packet = this.take(len);
    if (code === SSL_REQUEST_CODE) return { kind: 'ssl' };
    if (code === GSSENC_REQUEST_CODE) return { kind: 'gssenc' };
    if (code === CANCEL_REQUEST_CODE) return { kind: 'cancel' };
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) {
      throw new ProtocolViolation(
        `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
      );
    }
    const params = new Map<string, string>();
    const fields = packet.subarray(8).toString('utf8').split('\0');
    // name\0value\0 ... \0: an even count of strings before the terminating empty one.
    for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) {
      params.set(fields[i]!, fields[i + 1]!);
    }
    return { kind: 'startup', major, minor, params };
  }

  /** The next typed message, or undefined until it has fully arrived. */
  nextMessage(): FrontendMessage | undefined {
    if (this.length < 5) return undefined;
    const head = this.peek(5);
    const len = head.readInt32BE(1);
    if (len < 4 || len > MAX_MESSAGE_LENGTH) {
      throw new ProtocolViolation(
        `invalid message length ${len} for message type "${String.fromCharCode(head[0]!)}"`,
      );
    }
    if (this.length < len + 1) return undefined;
    const bytes = this.take(len + 1);
    return { type: String.fromCharCode(bytes[0]!), bytes };
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const joined = Buffer.concat(this.chunks);
      out = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.length -= n;
    return out;
  }
}

/** One message: type byte, int32 length (itself included), body. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

export function cstring(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

export const AUTH_OK = 0;
export const AUTH_SASL = 10;
export const AUTH_SASL_CONTINUE = 11;
export const AUTH_SASL_FINAL = 12;

export function authentication(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return message('R', Buffer.concat([int32(code), data]));
}

export function parameterStatus(name: string, value: string): Buffer {
  return message('S', Buffer.concat([cstring(name), cstring(value)]));
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return message('K', Buffer.concat([int32(processId), int32(secretKey)]));
}

export type TransactionStatus = 'I' | 'T' | 'E';

export function readyForQuery(status: TransactionStatus): Buffer {
  return message('Z', Buffer.from(status, 'latin1'));
}

/** Tells a client asking for protocol 3.x (x > 0) or _pq_ options that we speak 3.0 only. */
export function negotiateProtocolVersion(unsupportedOptions: readonly string[]): Buffer {
  return message(
    'v',
    Buffer.concat([
      int32(PROTOCOL_3_0),
      int32(unsupportedOptions.length),
      ...unsupportedOptions.map(cstring),
    ]),
  );
}

export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL';
  /** SQLSTATE, e.g. 28P01 invalid_password. */
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

export function errorResponse(e: ErrorFields): Buffer {
  const fields = [`S${e.severity}`, `V${e.severity}`, `C${e.code}`, `M${e.message}`];
  if (e.hint) fields.push(`H${e.hint}`);
  return message('E', Buffer.concat([...fields.map(cstring), Buffer.from([0])]));
}

/** Splits a message body at its first NUL: the C string and what follows it. */
function readCString(body: Buffer, offset: number): { value: string; end: number } {
  const nul = body.indexOf(0, offset);
  if (nul < 0) throw new ProtocolViolation('missing string terminator in message');
  return { value: body.toString('utf8', offset, nul), end: nul + 1 };
}

/** SASLInitialResponse: the mechanism chosen and the client-first-message. */
export function parseSaslInitialResponse(msg: Buffer): { mechanism: string; data: string } {
  const body = msg.subarray(5);
  const { value: mechanism, end } = readCString(body, 0);
  if (body.length < end + 4) throw new ProtocolViolation('malformed SASLInitialResponse');
  const len = body.readInt32BE(end);
  const data = len < 0 ? '' : body.toString('utf8', end + 4, end + 4 + len);
  return { mechanism, data };
}

/** SASLResponse: the client-final-message. */
export function parseSaslResponse(msg: Buffer): string {
  return msg.subarray(5).toString('utf8');
}

/** The SQL text of a simple Query ('Q') or of a Parse ('P'). */
export function sqlOf(msg: Buffer): string {
  const body = msg.subarray(5);
  if (msg[0] === 0x51) return readCString(body, 0).value;
  const name = readCString(body, 0);
  return readCString(body, name.end).value;
}

/**
 * Names in Parse, Bind, Describe, Close and Execute live in the one backend session every
 * client shares: two pools that both prepare "getJobs" would collide. Each connection's named
 * statements and portals get its own prefix; unnamed ones ("") stay unnamed. Returns the message
 * (rewritten or not) and the statement a Parse creates or a Close removes.
 */
export function scopeNames(
  msg: Buffer,
  prefix: string,
): { bytes: Buffer; parsed?: string; closed?: string } {
  const type = String.fromCharCode(msg[0]!);
  if (!'PBDCE'.includes(type)) return { bytes: msg };
  const body = msg.subarray(5);
  const scope = (name: string): string => (name === '' ? '' : prefix + name);
  const rebuild = (parts: Buffer[]): Buffer => message(type, Buffer.concat(parts));
  switch (type) {
    case 'P': {
      const stmt = readCString(body, 0);
      if (stmt.value === '') return { bytes: msg };
      const named = scope(stmt.value);
      return { bytes: rebuild([cstring(named), body.subarray(stmt.end)]), parsed: named };
    }
    case 'B': {
      const portal = readCString(body, 0);
      const stmt = readCString(body, portal.end);
      if (portal.value === '' && stmt.value === '') return { bytes: msg };
      return {
        bytes: rebuild([
          cstring(scope(portal.value)),
          cstring(scope(stmt.value)),
          body.subarray(stmt.end),
        ]),
      };
    }
    case 'E': {
      const portal = readCString(body, 0);
      if (portal.value === '') return { bytes: msg };
      return { bytes: rebuild([cstring(scope(portal.value)), body.subarray(portal.end)]) };
    }
    default: {
      // Describe and Close: 'S' (statement) or 'P' (portal), then the name.
      const kind = body.subarray(0, 1);
      const name = readCString(body, 1);
      if (name.value === '') return { bytes: msg };
      const named = scope(name.value);
      const bytes = rebuild([kind, cstring(named)]);
      return type === 'C' && kind[0] === 0x53 ? { bytes, closed: named } : { bytes };
    }
  }
}

/**
 * Follows a backend's reply, possibly split across chunks anywhere, and remembers the type of
 * the last message and the status of the last ReadyForQuery.
 */
export class BackendTracker {
  lastType: string | undefined;
  lastStatus: TransactionStatus | undefined;
  private header = Buffer.alloc(5);
  private headerFill = 0;
  private bodyLeft = 0;
  private wantStatus = false;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        if (this.wantStatus) {
          this.lastStatus = String.fromCharCode(chunk[i]!) as TransactionStatus;
          this.wantStatus = false;
        }
        const n = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= n;
        i += n;
        continue;
      }
      this.header[this.headerFill++] = chunk[i++]!;
      if (this.headerFill === 5) {
        this.headerFill = 0;
        this.lastType = String.fromCharCode(this.header[0]!);
        this.bodyLeft = this.header.readInt32BE(1) - 4;
        this.wantStatus = this.lastType === 'Z';
      }
    }
  }

  /** True when the reply ended with ReadyForQuery: the client may send its next command. */
  get atReadyForQuery(): boolean {
    return this.lastType === 'Z' && this.bodyLeft === 0 && this.headerFill === 0;
  }
}
