/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the password
 * never crosses the socket, and node-postgres, libpq (psql) and JDBC all support it.
 * No channel binding (the embedded server has no TLS): a client must send "n,," or "y,,".
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export interface ScramVerifier {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** What PostgreSQL keeps in pg_authid for a SCRAM password (computed once per server start). */
export function scramVerifier(password: string, iterations = 4096): ScramVerifier {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return {
    salt,
    iterations,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

export type ScramStep = { ok: true; reply: string } | { ok: false; reason: string };

/** One authentication exchange: first() answers the client-first, final() checks the proof. */
export class ScramExchange {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';

  constructor(private readonly verifier: ScramVerifier) {}

  first(clientFirst: string): ScramStep {
    // gs2-header: "n,," (client without channel binding) or "y,," (client able, server not).
    const m = /^([ny]),(?:a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (!m) return { ok: false, reason: 'malformed SCRAM client-first-message or channel binding' };
    this.gs2Header = clientFirst.slice(0, clientFirst.length - m[2]!.length);
    this.clientFirstBare = m[2]!;
    const attrs = attributes(this.clientFirstBare);
    const clientNonce = attrs.get('r');
    if (!clientNonce || attrs.has('m')) return { ok: false, reason: 'malformed SCRAM nonce' };
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return { ok: true, reply: this.serverFirst };
  }

  final(clientFinal: string): ScramStep {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) return { ok: false, reason: 'SCRAM proof missing' };
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) {
      return { ok: false, reason: 'SCRAM channel binding check failed' };
    }
    if (attrs.get('r') !== this.nonce) return { ok: false, reason: 'SCRAM nonce mismatch' };
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) return { ok: false, reason: 'wrong password' };
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) {
      return { ok: false, reason: 'wrong password' };
    }
    const serverSignature = hmac(this.verifier.serverKey, authMessage).toString('base64');
    return { ok: true, reply: `v=${serverSignature}` };
  }
}
