/**
 * A streaming reader for multipart/related bodies (RFC 2046), as WADO-RS answers them: parts are
 * emitted as soon as their closing delimiter arrives, so a series is never held twice in memory
 * while it downloads. Bodies are raw bytes (WADO-RS never uses a content transfer encoding).
 */

export interface MultipartPart {
  /** Part headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** The boundary parameter of a multipart Content-Type header (quoted or not). */
export function multipartBoundary(contentType: string | undefined): string {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) {
    throw new MultipartError(
      `expected a multipart answer, got Content-Type "${contentType ?? ''}"`,
    );
  }
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new MultipartError(`no boundary in Content-Type "${contentType}"`);
  return boundary;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** Header blocks above this size mean we are not reading a multipart body. */
const MAX_HEADER_BYTES = 64 * 1024;

export class MultipartReader {
  private readonly delimiter: Buffer;
  // The first delimiter may come without the CRLF that precedes every other one.
  private pending: Buffer = Buffer.from(CRLF);
  private state: State = 'preamble';
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];

  constructor(
    boundary: string,
    private readonly onPart: (part: MultipartPart) => void,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  push(chunk: Uint8Array): void {
    if (this.state === 'done') return; // epilogue: ignored
    if (this.state === 'body' && this.bodyFastPath(chunk)) return;
    this.pending = this.pending.length
      ? Buffer.concat([this.pending, chunk])
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.drain();
  }

  /** Call at end of stream; throws when the body stopped before its closing delimiter. */
  end(): void {
    if (this.state !== 'done') {
      throw new MultipartError(
        `multipart body ended before its closing boundary (while reading ${this.state})`,
      );
    }
  }

  private drain(): void {
    for (;;) {
      switch (this.state) {
        case 'preamble': {
          const at = this.pending.indexOf(this.delimiter);
          if (at < 0) {
            this.keepTail();
            return;
          }
          this.pending = this.pending.subarray(at + this.delimiter.length);
          this.state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          // "--" closes the body; otherwise optional transport padding, then CRLF.
          if (this.pending.length < 2) return;
          if (this.pending[0] === 0x2d && this.pending[1] === 0x2d) {
            this.state = 'done';
            this.pending = Buffer.alloc(0);
            return;
          }
          const eol = this.pending.indexOf(CRLF);
          if (eol < 0) {
            if (this.pending.length > MAX_HEADER_BYTES)
              throw new MultipartError('malformed boundary line');
            return;
          }
          if (this.pending.subarray(0, eol).toString('latin1').trim() !== '') {
            throw new MultipartError('unexpected text after a multipart boundary');
          }
          this.pending = this.pending.subarray(eol + 2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          if (this.pending.length < 2) return;
          let blockEnd: number;
          if (this.pending[0] === 0x0d && this.pending[1] === 0x0a) {
            blockEnd = 0; // a part without headers
            this.headers = {};
            this.pending = this.pending.subarray(2);
          } else {
            blockEnd = this.pending.indexOf(HEADER_END);
            if (blockEnd < 0) {
              if (this.pending.length > MAX_HEADER_BYTES) {
                throw new MultipartError(`part headers longer than ${MAX_HEADER_BYTES} bytes`);
              }
              return;
            }
            this.headers = parseHeaders(this.pending.subarray(0, blockEnd).toString('latin1'));
            this.pending = this.pending.subarray(blockEnd + HEADER_END.length);
          }
          this.chunks = [];
          this.state = 'body';
          break;
        }
        case 'body': {
          const at = this.pending.indexOf(this.delimiter);
          if (at < 0) {
            // Keep just enough to recognise a delimiter split across chunks.
            const keep = this.delimiter.length - 1;
            if (this.pending.length > keep) {
              this.chunks.push(this.pending.subarray(0, this.pending.length - keep));
              this.pending = Buffer.from(this.pending.subarray(this.pending.length - keep));
            }
            return;
          }
          this.chunks.push(this.pending.subarray(0, at));
          const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
          this.chunks = [];
          this.pending = this.pending.subarray(at + this.delimiter.length);
          this.state = 'after-delimiter';
          this.onPart({
            headers: this.headers,
            body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          });
          break;
        }
        case 'done':
          return;
      }
    }
  }

  /**
   * Inside a part body, most chunks hold no delimiter: keep them as they are instead of copying
   * them behind the pending tail. Returns false (nothing consumed) when a delimiter may be near.
   */
  private bodyFastPath(chunk: Uint8Array): boolean {
    const keep = this.delimiter.length - 1;
    if (chunk.length <= keep) return false;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // A delimiter starting in the tail and ending in the chunk?
    const seam = Buffer.concat([this.pending, buf.subarray(0, keep)]);
    if (seam.indexOf(this.delimiter) >= 0) return false;
    if (buf.indexOf(this.delimiter) >= 0) return false;
    if (this.pending.length) this.chunks.push(this.pending);
    this.chunks.push(buf.subarray(0, buf.length - keep));
    this.pending = Buffer.from(buf.subarray(buf.length - keep));
    return true;
  }

  private keepTail(): void {
    const keep = this.delimiter.length - 1;
    if (this.pending.length > keep)
      this.pending = Buffer.from(this.pending.subarray(this.pending.length - keep));
  }
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Splits a complete multipart body (tests and small answers). */
export function parseMultipart(body: Uint8Array, boundary: string): MultipartPart[] {
  const parts: MultipartPart[] = [];
  const reader = new MultipartReader(boundary, (p) => parts.push(p));
  reader.push(body);
  reader.end();
  return parts;
}
