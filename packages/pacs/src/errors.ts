import { PacsUnavailableError } from './types.js';

/**
 * The PACS answered, but refused the request (HTTP 4xx): retrying the same request will not help.
 * The message names the request (method and URL without credentials) and the status.
 */
export class PacsRequestError extends Error {
  override name = 'PacsRequestError';
  readonly retryable = false;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    detail?: string,
  ) {
    super(`PACS refused ${method} ${url}: HTTP ${status}${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * A PACS that refuses the credentials (HTTP 401) or what they may do (HTTP 403) is configured
 * wrongly for this client: said as such, e.g. 'configuration: PACS refused the credentials
 * (HTTP 401)'. Undefined for any other error.
 */
export function pacsConfigurationProblem(error: unknown): string | undefined {
  if (!(error instanceof PacsRequestError)) return undefined;
  if (error.status === 401) return 'configuration: PACS refused the credentials (HTTP 401)';
  if (error.status === 403)
    return 'configuration: PACS refused access with these credentials (HTTP 403)';
  return undefined;
}

/** The PACS answered 2xx but the content is unusable (e.g. a STOW-RS failure list). */
export class PacsResponseError extends Error {
  override name = 'PacsResponseError';
  readonly retryable = false;
}

/** URL without user:password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** Where and how to reach a PACS endpoint: credentials may come in the URL or apart from it. */
export interface EndpointOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-request inactivity timeout in ms (default 30 s). */
  readonly timeoutMs?: number;
}

export interface Endpoint {
  /** The root URL without credentials or a trailing slash (safe for messages). */
  readonly url: string;
  /** The Basic Authorization header value, when credentials were given. */
  readonly authorization?: string;
  readonly timeoutMs: number;
}

/** Splits credentials out of an endpoint's URL so that they never reach a message or log. */
export function parseEndpoint(options: EndpointOptions): Endpoint {
  const parsed = new URL(options.url);
  const username = options.username ?? decodeURIComponent(parsed.username);
  const password = options.password ?? decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return {
    url: parsed.toString().replace(/\/+$/, ''),
    ...(username
      ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` }
      : {}),
    timeoutMs: options.timeoutMs ?? 30_000,
  };
}

/** Builds the error for a failed request: unreachable / 5xx / timeout -> retryable. */
export function requestFailure(
  method: string,
  url: string,
  status: number,
  cause?: string,
  body?: string,
): Error {
  const where = redactUrl(url);
  if (status === 0) {
    return new PacsUnavailableError(
      `PACS unreachable: ${method} ${where}${cause ? ` (${cause})` : ''}`,
    );
  }
  if (status >= 500 || status === 408 || status === 429) {
    return new PacsUnavailableError(`PACS failed: ${method} ${where}: HTTP ${status}`);
  }
  return new PacsRequestError(method, where, status, shortDetail(body));
}

function shortDetail(body: string | undefined): string | undefined {
  if (!body) return undefined;
  const oneLine = body.replace(/\s+/g, ' ').trim();
  if (!oneLine) return undefined;
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine;
}
