import { describe, expect, it } from 'vitest';
import { envReaders, pacsEndpointFromEnv } from './index.js';

class TestConfigError extends Error {}
const fail = (message: string) => new TestConfigError(message);
const { text, integer, httpUrl } = envReaders<'A' | 'N' | 'U'>(fail, (v) =>
  v.replace(/:[^:@/]*@/, ':***@'),
);

describe('envReaders', () => {
  it('reads trimmed text; blank is unset', () => {
    expect(text({ A: '  x  ' }, 'A')).toBe('x');
    expect(text({ A: '   ' }, 'A')).toBeUndefined();
    expect(text({}, 'A')).toBeUndefined();
  });

  it('reads whole numbers in range, naming the variable when not', () => {
    expect(integer({}, 'N', 7, 1, 10)).toBe(7);
    expect(integer({ N: '10' }, 'N', 7, 1, 10)).toBe(10);
    expect(() => integer({ N: '1.5' }, 'N', 7, 1, 10)).toThrow(
      new TestConfigError('N=1.5 is not a whole number'),
    );
    expect(() => integer({ N: '-1' }, 'N', 7, 1, 10)).toThrow('N=-1 is outside 1..10');
    expect(() => integer({ N: '11' }, 'N', 7, 1, 10)).toThrow(TestConfigError);
  });

  it('accepts http(s) URLs only, and quotes them back redacted', () => {
    expect(httpUrl('U', 'http://pacs:8042/dicom-web//')).toBe('http://pacs:8042/dicom-web');
    expect(() => httpUrl('U', 'ftp://user:secret@pacs/')).toThrow(
      'U=ftp://user:***@pacs/ must be an http:// or https:// URL',
    );
    expect(() => httpUrl('U', 'not a url')).toThrow('U=not a url is not a URL');
  });
});

describe('pacsEndpointFromEnv', () => {
  it('is undefined without LASCAR_PACS_URL, and reads the endpoint with one', () => {
    expect(pacsEndpointFromEnv({ LASCAR_PACS_USERNAME: 'u' }, fail)).toBeUndefined();
    expect(
      pacsEndpointFromEnv(
        {
          LASCAR_PACS_URL: 'https://pacs.example/dicom-web/',
          LASCAR_PACS_USERNAME: 'lascar',
          LASCAR_PACS_PASSWORD: 'pw',
          LASCAR_PACS_TIMEOUT_SECONDS: '5',
        },
        fail,
      ),
    ).toEqual({
      url: 'https://pacs.example/dicom-web',
      username: 'lascar',
      password: 'pw',
      timeoutMs: 5000,
    });
    expect(() =>
      pacsEndpointFromEnv({ LASCAR_PACS_URL: 'http://x', LASCAR_PACS_TIMEOUT_SECONDS: '0' }, fail),
    ).toThrow('LASCAR_PACS_TIMEOUT_SECONDS=0 is outside 1..3600');
  });
});
