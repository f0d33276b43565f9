import { describe, expect, it } from 'vitest';
import {
  MultipartError,
  MultipartReader,
  multipartBoundary,
  parseMultipart,
  type MultipartPart,
} from './multipart.js';

function message(boundary: string, bodies: Uint8Array[], preamble = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const [n, body] of bodies.entries()) {
    chunks.push(
      Buffer.from(
        `${n === 0 && !preamble ? '' : '\r\n'}--${boundary}\r\nContent-Type: application/dicom\r\nContent-Location: part-${n}\r\n\r\n`,
      ),
    );
    chunks.push(Buffer.from(body));
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\nepilogue`));
  return Buffer.concat(chunks);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('multipart/related reader', () => {
  const boundary = 'b0und4ry-1234';
  // Bodies holding CR LF, dashes and a near-miss of the delimiter.
  const bodies = [
    randomBytes(1000, 1),
    Buffer.from(`\r\n--${boundary.slice(0, -1)}X\r\n--\r\n`),
    new Uint8Array(0),
    randomBytes(70_000, 2),
  ];

  it('reads every part byte-exact whatever the chunking', () => {
    const whole = message(boundary, bodies, 'preamble text');
    for (const size of [1, 2, 7, 13, 16, 17, 18, 33, 64, 4096, whole.length]) {
      const parts: MultipartPart[] = [];
      const reader = new MultipartReader(boundary, (p) => parts.push(p));
      for (let at = 0; at < whole.length; at += size) reader.push(whole.subarray(at, at + size));
      reader.end();
      expect(parts.map((p) => Buffer.from(p.body).toString('hex'))).toEqual(
        bodies.map((b) => Buffer.from(b).toString('hex')),
      );
      expect(parts.map((p) => p.headers['content-location'])).toEqual([
        'part-0',
        'part-1',
        'part-2',
        'part-3',
      ]);
      expect(parts[0]!.headers['content-type']).toBe('application/dicom');
    }
  });

  it('reads a first delimiter without a preamble and parts without headers', () => {
    const text = `--${boundary}\r\n\r\nabc\r\n--${boundary}\r\n\r\n\r\n--${boundary}--`;
    const parts = parseMultipart(Buffer.from(text), boundary);
    expect(parts.map((p) => Buffer.from(p.body).toString())).toEqual(['abc', '']);
    expect(parts[0]!.headers).toEqual({});
  });

  it('reports a body cut before its closing delimiter', () => {
    const whole = message(boundary, bodies);
    expect(() => parseMultipart(whole.subarray(0, whole.length - 40), boundary)).toThrow(
      MultipartError,
    );
    expect(() => parseMultipart(whole.subarray(0, whole.length - 40), boundary)).toThrow(
      /ended before its closing boundary/,
    );
  });

  it('finds the boundary in a Content-Type, quoted or not', () => {
    expect(multipartBoundary('multipart/related; type="application/dicom"; boundary=abc')).toBe(
      'abc',
    );
    expect(multipartBoundary('Multipart/Related; boundary="a b:c"; type="application/dicom"')).toBe(
      'a b:c',
    );
    expect(() => multipartBoundary('application/dicom')).toThrow(/expected a multipart answer/);
    expect(() => multipartBoundary('multipart/related; type="application/dicom"')).toThrow(
      /no boundary/,
    );
    expect(() => multipartBoundary(undefined)).toThrow(MultipartError);
  });
});
