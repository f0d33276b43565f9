/**
 * Orthanc's own REST API (beside DICOMweb), for what DICOMweb has no word for: the change feed
 * (/changes) and /system. Small JSON answers only, so fetch is fine here.
 */
import {
  PacsResponseError,
  parseEndpoint,
  requestFailure,
  type EndpointOptions,
} from './errors.js';

/** Orthanc's REST root, e.g. http://127.0.0.1:8042 (credentials in the URL are accepted). */
export type OrthancRestOptions = EndpointOptions;

export class OrthancRest {
  readonly url: string;
  private readonly authorization?: string;
  private readonly timeoutMs: number;

  constructor(options: OrthancRestOptions) {
    const endpoint = parseEndpoint(options);
    this.url = endpoint.url;
    if (endpoint.authorization) this.authorization = endpoint.authorization;
    this.timeoutMs = endpoint.timeoutMs;
  }

  /** GET a JSON resource; unreachable / 5xx -> PacsUnavailableError, 4xx -> PacsRequestError. */
  async getJson<T>(path: string): Promise<T> {
    const target = `${this.url}${path}`;
    let res: Response;
    try {
      res = await fetch(target, {
        headers: {
          accept: 'application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw requestFailure('GET', target, 0, failureCause(error));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw requestFailure('GET', target, 0, failureCause(error));
    }
    if (!res.ok) throw requestFailure('GET', target, res.status, undefined, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new PacsResponseError(`Orthanc GET ${target}: answer is not JSON`);
    }
  }
}

function failureCause(error: unknown): string {
  const e = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
}
