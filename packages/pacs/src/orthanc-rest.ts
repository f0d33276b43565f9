/**
 * Orthanc's own REST API (beside DICOMweb), for what DICOMweb has no word for: the change feed
 * (/changes), /system, and deleting a superseded SEG/SR. Small JSON answers only, so fetch is
 * fine here.
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
  getJson<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** A request with an optional text body; the answer as JSON (an empty answer: undefined). */
  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: string): Promise<T> {
    const target = `${this.url}${path}`;
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw requestFailure(method, target, 0, failureCause(error));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw requestFailure(method, target, 0, failureCause(error));
    }
    if (!res.ok) throw requestFailure(method, target, res.status, undefined, text);
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new PacsResponseError(`Orthanc ${method} ${target}: answer is not JSON`);
    }
  }
}

/**
 * Deletes one instance by its SOP Instance UID (Orthanc's /tools/lookup, then DELETE
 * /instances/{id}). Returns false when Orthanc does not hold it (already deleted).
 */
export async function deleteOrthancInstance(
  rest: OrthancRest,
  sopInstanceUid: string,
): Promise<boolean> {
  const found = await rest.request<{ Type: string; ID: string }[]>(
    'POST',
    '/tools/lookup',
    sopInstanceUid,
  );
  const ids = found.filter((f) => f.Type === 'Instance').map((f) => f.ID);
  for (const id of ids) await rest.request('DELETE', `/instances/${id}`);
  return ids.length > 0;
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
