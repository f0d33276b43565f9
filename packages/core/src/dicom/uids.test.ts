import { describe, expect, it } from 'vitest';
import { deterministicUid, isDicomUid, sha256 } from './uids.js';

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('sha256', () => {
  it('matches the FIPS 180-4 test vectors', () => {
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(
      hex(
        sha256(
          new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
        ),
      ),
    ).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });
});

describe('deterministicUid', () => {
  it('is stable, valid and distinguishes its inputs', () => {
    const a = deterministicUid('1.2.3.4', 'seg', 'v1');
    expect(deterministicUid('1.2.3.4', 'seg', 'v1')).toBe(a);
    expect(deterministicUid('1.2.3.4', 'seg', 'v2')).not.toBe(a);
    expect(deterministicUid('1.2.3.4s', 'eg', 'v1')).not.toBe(a);
    expect(a).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(a.length).toBeLessThanOrEqual(64);
  });
});

describe('isDicomUid', () => {
  it('accepts valid UIDs and refuses leading zeros, empty components and over-long ones', () => {
    expect(isDicomUid('1.2.840.10008.5.1.4.1.1.88.33')).toBe(true);
    expect(isDicomUid(deterministicUid('x'))).toBe(true);
    expect(isDicomUid('1.2.0.3')).toBe(true);
    for (const bad of ['', '1', '1.02', '1..2', '1.2.', 'a.b', ' 1.2', `1.${'2'.repeat(63)}`])
      expect(isDicomUid(bad), bad).toBe(false);
  });
});
