/**
 * Environment readers the apps' configuration modules share: each app still reads and validates its
 * own configuration in one place, with these, and its own error class. `Name` keeps a reader to the
 * variables an app declares (docker/deployment.test.ts checks them against the deployment files).
 */
export type Env = Readonly<Record<string, string | undefined>>;

export interface EnvReaders<Name extends string> {
  /** The trimmed value; undefined when unset or blank. */
  text(env: Env, name: Name): string | undefined;
  /** A whole number in min..max, or `fallback` when unset. */
  integer(env: Env, name: Name, fallback: number, min: number, max: number): number;
  /** An http(s) URL without trailing slashes; `raw` is the value already read. */
  httpUrl(name: Name, raw: string): string;
}

/**
 * Readers that throw `fail(message)`; `redact` hides secrets in a URL that is quoted back (a
 * password in user:pw@ or ?password=).
 */
export function envReaders<Name extends string>(
  fail: (message: string) => Error,
  redact: (value: string) => string = (value) => value,
): EnvReaders<Name> {
  const text = (env: Env, name: Name): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  return {
    text,
    integer(env, name, fallback, min, max) {
      const raw = text(env, name);
      if (raw === undefined) return fallback;
      if (!/^-?\d+$/.test(raw)) throw fail(`${name}=${raw} is not a whole number`);
      const n = Number(raw);
      if (n < min || n > max) throw fail(`${name}=${raw} is outside ${min}..${max}`);
      return n;
    },
    httpUrl(name, raw) {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw fail(`${name}=${redact(raw)} is not a URL`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw fail(`${name}=${redact(raw)} must be an http:// or https:// URL`);
      }
      return raw.replace(/\/+$/, '');
    },
  };
}

/** The PACS endpoint's variables, read alike by the worker and the dashboard (sign-off). */
export const PACS_ENV_NAMES = [
  'LASCAR_PACS_URL',
  'LASCAR_PACS_USERNAME',
  'LASCAR_PACS_PASSWORD',
  'LASCAR_PACS_TIMEOUT_SECONDS',
] as const;
export type PacsEnvName = (typeof PACS_ENV_NAMES)[number];

export interface PacsEndpoint {
  /** The DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs: number;
}

/** The PACS endpoint, or undefined when LASCAR_PACS_URL is unset (each app decides what that means). */
export function pacsEndpointFromEnv(
  env: Env,
  fail: (message: string) => Error,
): PacsEndpoint | undefined {
  const { text, integer, httpUrl } = envReaders<PacsEnvName>(fail);
  const url = text(env, 'LASCAR_PACS_URL');
  if (!url) return undefined;
  const username = text(env, 'LASCAR_PACS_USERNAME');
  const password = text(env, 'LASCAR_PACS_PASSWORD');
  return {
    url: httpUrl('LASCAR_PACS_URL', url),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    timeoutMs: integer(env, 'LASCAR_PACS_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
  };
}
