/**
 * PacsClient over DICOMweb: QIDO-RS and STOW-RS through the `dicomweb-client` package (with the
 * `xhr2` XMLHttpRequest polyfill in Node), WADO-RS series retrieval streamed over node:http
 * (measured several times faster than dicomweb-client's buffered retrieveSeries: see
 * bench-retrieve.ts). Works with Orthanc 1.10 and other DICOMweb servers.
 */
import http from 'node:http';
import https from 'node:https';
import * as dicomwebClientModule from 'dicomweb-client';
import XMLHttpRequestPolyfill from 'xhr2';
import type { DicomFile } from '@lascar/core';
import {
  PacsResponseError,
  parseEndpoint,
  redactUrl,
  requestFailure,
  type EndpointOptions,
} from './errors.js';
import { MultipartReader, multipartBoundary } from './multipart.js';
import {
  PacsUnavailableError,
  type PacsClient,
  type RetrieveOptions,
  type SeriesAttributes,
  type SeriesRef,
} from './types.js';

/** DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web (credentials in the URL are accepted). */
export type DicomWebClientOptions = EndpointOptions;

/** A DICOM JSON dataset (PS3.18 F.2). */
export type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

// ---- the subset of dicomweb-client we use (its .d.ts needs DOM types the worker does not load)

interface XhrLike {
  timeout: number;
}
interface DwcRequest {
  instance?: XhrLike;
}
interface DwcClient {
  searchForStudies(o: {
    queryParams?: Record<string, string>;
    request?: DwcRequest;
  }): Promise<unknown>;
  searchForSeries(o: {
    studyInstanceUID?: string;
    queryParams?: Record<string, string>;
    request?: DwcRequest;
  }): Promise<unknown>;
  searchForInstances(o: {
    studyInstanceUID?: string;
    seriesInstanceUID?: string;
    queryParams?: Record<string, string>;
    request?: DwcRequest;
  }): Promise<unknown>;
  retrieveSeries(o: {
    studyInstanceUID: string;
    seriesInstanceUID: string;
    request?: DwcRequest;
  }): Promise<unknown>;
  storeInstances(o: {
    datasets: ArrayBuffer[];
    studyInstanceUID?: string;
    request?: DwcRequest;
  }): Promise<unknown>;
}
type DwcConstructor = new (options: {
  url: string;
  headers?: Record<string, string>;
  verbose?: boolean;
  singlepart?: boolean | string;
}) => DwcClient;

interface DwcError {
  status?: number;
  response?: unknown;
  request?: { _lascarFailure?: string };
}

// ---- XMLHttpRequest for dicomweb-client, adapted to Orthanc

interface Xhr2Internals {
  _parseUrl(url: string): { path: string | null };
  _onHttpRequestError(request: unknown, error: Error): unknown;
  _onHttpTimeout(request: unknown): unknown;
}
type Xhr2Class = new () => XhrLike & Xhr2Internals;
const Xhr2 = XMLHttpRequestPolyfill as unknown as Xhr2Class;

// dicomweb-client (and xhr2's url.parse) percent-encode query values; Orthanc 1.10 does not
// percent-decode them, so "^", "?", "*" and "," would never match. These characters are legal in a
// query string, so sending them literally is correct for every server. A space cannot be sent
// literally: it becomes the single-character wildcard "?", which still matches the space.
const LITERAL_IN_QUERY: Readonly<Record<string, string>> = {
  '%5E': '^',
  '%3F': '?',
  '%2A': '*',
  '%2C': ',',
  '%3A': ':',
  '%2F': '/',
  '%40': '@',
  '%20': '?',
};

export function literalQuery(path: string): string {
  const q = path.indexOf('?');
  if (q < 0) return path;
  return (
    path.slice(0, q + 1) +
    path
      .slice(q + 1)
      .replace(/%(5E|3F|2A|2C|3A|2F|40|20)/gi, (m) => LITERAL_IN_QUERY[m.toUpperCase()] ?? m)
  );
}

class PacsXhr extends Xhr2 {
  /** Why the request failed below HTTP (connection refused, timeout), for the error message. */
  _lascarFailure?: string;

  override _parseUrl(url: string): { path: string | null } {
    const parsed = super._parseUrl(url);
    if (parsed.path) parsed.path = literalQuery(parsed.path);
    return parsed;
  }
  override _onHttpRequestError(request: unknown, error: Error): unknown {
    const code = (error as { code?: string }).code;
    this._lascarFailure = code ?? error.message;
    return super._onHttpRequestError(request, error);
  }
  override _onHttpTimeout(request: unknown): unknown {
    this._lascarFailure = 'timed out';
    return super._onHttpTimeout(request);
  }
}

// dicomweb-client creates `new XMLHttpRequest()` where we do not pass an instance.
const globals = globalThis as { XMLHttpRequest?: unknown };
globals.XMLHttpRequest ??= XMLHttpRequestPolyfill;

// Node loads the package's UMD build (a CommonJS default export); bundlers pick its ES build
// (named exports only): accept both shapes.
type DwcModule = { api: { DICOMwebClient: DwcConstructor } };
const dwc = dicomwebClientModule as unknown as DwcModule & { default?: DwcModule };
const DICOMwebClient = (dwc.default ?? dwc).api.DICOMwebClient;

// ---- DICOM JSON helpers

export const TAGS = {
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  ImageType: '00080008',
  Modality: '00080060',
  Manufacturer: '00080070',
  SeriesDescription: '0008103E',
  PatientID: '00100020',
  AccessionNumber: '00080050',
  SequenceName: '00180024',
  InversionTime: '00180082',
  SoftwareVersions: '00181020',
  ProtocolName: '00181030',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  ImageOrientationPatient: '00200037',
  NumberOfSeriesRelatedInstances: '00201209',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
} as const;

export function jsonStrings(ds: DicomJson, tag: string): string[] {
  const values = ds[tag]?.Value;
  if (!Array.isArray(values)) return [];
  return values.filter((v) => v !== null && v !== undefined).map((v) => String(v));
}
export function jsonString(ds: DicomJson, tag: string): string | undefined {
  return jsonStrings(ds, tag)[0];
}
export function jsonNumber(ds: DicomJson, tag: string): number | undefined {
  const s = jsonString(ds, tag);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function asDatasets(answer: unknown, what: string): DicomJson[] {
  if (answer === null || answer === undefined || answer === '') return []; // 204 No Content
  if (!Array.isArray(answer))
    throw new PacsResponseError(`${what}: expected a JSON array from the PACS`);
  return answer as DicomJson[];
}

const SERIES_FIELDS = [
  TAGS.Modality,
  TAGS.SeriesDescription,
  TAGS.ProtocolName,
  TAGS.SeriesNumber,
  TAGS.NumberOfSeriesRelatedInstances,
  TAGS.Manufacturer,
  TAGS.PatientID,
  // A study attribute; asked for here so a series that fails still shows its accession.
  TAGS.AccessionNumber,
];
const INSTANCE_FIELDS = [
  TAGS.SOPClassUID,
  TAGS.ImageType,
  TAGS.SequenceName,
  TAGS.InversionTime,
  TAGS.Manufacturer,
  TAGS.SoftwareVersions,
  TAGS.ProtocolName,
  TAGS.ImageOrientationPatient,
];

/** Series attributes from a QIDO-RS series answer (and optionally one of its instances). */
export function seriesAttributesFromJson(
  series: DicomJson,
  instance?: DicomJson,
): SeriesAttributes {
  const studyInstanceUid = jsonString(series, TAGS.StudyInstanceUID);
  const seriesInstanceUid = jsonString(series, TAGS.SeriesInstanceUID);
  if (!studyInstanceUid || !seriesInstanceUid) {
    throw new PacsResponseError(
      'QIDO-RS series answer without StudyInstanceUID or SeriesInstanceUID',
    );
  }
  const pick = (tag: string): string | undefined =>
    jsonString(series, tag) ?? (instance ? jsonString(instance, tag) : undefined);
  const imageType = instance ? jsonStrings(instance, TAGS.ImageType) : [];
  return dropUndefined({
    studyInstanceUid,
    seriesInstanceUid,
    modality: pick(TAGS.Modality),
    seriesDescription: pick(TAGS.SeriesDescription),
    protocolName: pick(TAGS.ProtocolName),
    sequenceName: instance ? jsonString(instance, TAGS.SequenceName) : undefined,
    imageType: imageType.length ? imageType : undefined,
    inversionTimeMs: instance ? jsonNumber(instance, TAGS.InversionTime) : undefined,
    numberOfInstances: jsonNumber(series, TAGS.NumberOfSeriesRelatedInstances),
    manufacturer: pick(TAGS.Manufacturer),
    sopClassUid: instance ? jsonString(instance, TAGS.SOPClassUID) : undefined,
    softwareVersions: instance
      ? jsonStrings(instance, TAGS.SoftwareVersions).join('\\') || undefined
      : undefined,
    patientId: pick(TAGS.PatientID),
    accessionNumber: pick(TAGS.AccessionNumber),
    // Lets the selection rules skip a coronal or sagittal stack before it is retrieved.
    imageOrientationPatient: instance ? orientationOf(instance) : undefined,
  });
}

function orientationOf(instance: DicomJson): number[] | undefined {
  const values = jsonStrings(instance, TAGS.ImageOrientationPatient).map(Number);
  return values.length === 6 && values.every(Number.isFinite) ? values : undefined;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---- the client

export class DicomWebPacsClient implements PacsClient {
  readonly url: string;
  private readonly authorization?: string;
  private readonly timeoutMs: number;
  private readonly dwc: DwcClient;

  constructor(options: DicomWebClientOptions) {
    const endpoint = parseEndpoint(options);
    this.url = endpoint.url;
    if (endpoint.authorization) this.authorization = endpoint.authorization;
    this.timeoutMs = endpoint.timeoutMs;
    this.dwc = new DICOMwebClient({
      url: this.url,
      headers: this.authorization ? { Authorization: this.authorization } : {},
      verbose: false,
      singlepart: false,
    });
  }

  private request(): { instance: PacsXhr } {
    const instance = new PacsXhr();
    instance.timeout = this.timeoutMs;
    return { instance };
  }

  /** Runs one dicomweb-client call, turning its failures into our errors. */
  private async call<T>(
    method: string,
    path: string,
    run: (request: DwcRequest) => Promise<T>,
  ): Promise<T> {
    const request = this.request();
    try {
      return await run(request);
    } catch (error) {
      const e = error as DwcError;
      if (typeof e?.status === 'number') {
        const body = typeof e.response === 'string' ? e.response : undefined;
        throw requestFailure(
          method,
          this.url + path,
          e.status,
          request.instance._lascarFailure,
          body,
        );
      }
      throw error;
    }
  }

  async ping(): Promise<void> {
    await this.call('GET', '/studies?limit=1', (request) =>
      this.dwc.searchForStudies({ queryParams: { limit: '1' }, request }),
    );
  }

  async searchSeries(filter: Readonly<Record<string, string>>): Promise<SeriesAttributes[]> {
    const queryParams: Record<string, string> = {
      includefield: SERIES_FIELDS.join(','),
      ...filter,
    };
    const answer = await this.call(
      'GET',
      `/series?${new URLSearchParams(queryParams)}`,
      (request) => this.dwc.searchForSeries({ queryParams, request }),
    );
    return asDatasets(answer, 'QIDO-RS /series').map((ds) => seriesAttributesFromJson(ds));
  }

  /** QIDO-RS instances of a series (DICOM JSON), with extra fields. */
  async searchInstances(
    ref: SeriesRef,
    queryParams: Readonly<Record<string, string>> = {},
  ): Promise<DicomJson[]> {
    const path = `/studies/${ref.studyInstanceUid}/series/${ref.seriesInstanceUid}/instances`;
    const answer = await this.call('GET', path, (request) =>
      this.dwc.searchForInstances({
        studyInstanceUID: ref.studyInstanceUid,
        seriesInstanceUID: ref.seriesInstanceUid,
        queryParams: { ...queryParams },
        request,
      }),
    );
    return asDatasets(answer, `QIDO-RS ${path}`);
  }

  async listInstanceUids(ref: SeriesRef): Promise<string[]> {
    const instances = await this.searchInstances(ref, { includefield: TAGS.SOPInstanceUID });
    return instances.map((ds) => {
      const uid = jsonString(ds, TAGS.SOPInstanceUID);
      if (!uid) {
        throw new PacsResponseError(
          `QIDO-RS instances of series ${ref.seriesInstanceUid}: an answer without SOPInstanceUID`,
        );
      }
      return uid;
    });
  }

  async seriesAttributes(ref: SeriesRef): Promise<SeriesAttributes> {
    const queryParams = {
      SeriesInstanceUID: ref.seriesInstanceUid,
      includefield: SERIES_FIELDS.join(','),
    };
    const path = `/studies/${ref.studyInstanceUid}/series`;
    const answer = await this.call('GET', path, (request) =>
      this.dwc.searchForSeries({ studyInstanceUID: ref.studyInstanceUid, queryParams, request }),
    );
    const series = asDatasets(answer, `QIDO-RS ${path}`)[0];
    if (!series) {
      throw requestFailure(
        'GET',
        `${this.url}${path}?SeriesInstanceUID=${ref.seriesInstanceUid}`,
        404,
        undefined,
        'series not found',
      );
    }
    const [instance] = await this.searchInstances(ref, {
      limit: '1',
      includefield: INSTANCE_FIELDS.join(','),
    });
    return seriesAttributesFromJson(series, instance);
  }

  /** WADO-RS series, streamed and split as it arrives (the faster way; see bench-retrieve.ts). */
  async retrieveSeries(ref: SeriesRef, options: RetrieveOptions = {}): Promise<DicomFile[]> {
    const parts = await this.retrieveSeriesStreamed(ref, options);
    return parts;
  }

  retrieveSeriesStreamed(ref: SeriesRef, options: RetrieveOptions = {}): Promise<DicomFile[]> {
    const target = new URL(
      `${this.url}/studies/${ref.studyInstanceUid}/series/${ref.seriesInstanceUid}`,
    );
    const where = redactUrl(target.toString());
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<DicomFile[]>((resolve, reject) => {
      const files: DicomFile[] = [];
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(error);
      };
      const req = client.get(
        target,
        {
          headers: {
            // As stored by default: Orthanc 1.10 cannot transcode JPEG 2000 (HTTP 500 when asked
            // to), and the reader decodes every compressed syntax it supports itself
            // (createCodecDecoders). A caller asks for a conversion only for what it can't decode.
            Accept: `multipart/related; type="application/dicom"; transfer-syntax=${options.transferSyntax ?? '*'}`,
            ...(this.authorization ? { Authorization: this.authorization } : {}),
          },
          agent: false,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const body: Buffer[] = [];
            res.on('data', (c: Buffer) => body.push(c));
            res.on('end', () =>
              fail(
                requestFailure(
                  'GET',
                  where,
                  status,
                  undefined,
                  Buffer.concat(body).toString('utf8'),
                ),
              ),
            );
            res.on('error', (e) => fail(requestFailure('GET', where, 0, e.message)));
            return;
          }
          let reader: MultipartReader;
          try {
            reader = new MultipartReader(multipartBoundary(res.headers['content-type']), (part) => {
              const location = part.headers['content-location'];
              files.push({
                name: location ?? `${ref.seriesInstanceUid} part ${files.length + 1}`,
                bytes: part.body,
              });
            });
          } catch (e) {
            fail(new PacsResponseError(`WADO-RS ${where}: ${(e as Error).message}`));
            return;
          }
          res.on('data', (chunk: Buffer) => {
            try {
              reader.push(chunk);
            } catch (e) {
              fail(new PacsResponseError(`WADO-RS ${where}: ${(e as Error).message}`));
            }
          });
          res.on('end', () => {
            try {
              reader.end();
            } catch (e) {
              // The server closed mid-series: a transient failure, worth a retry.
              fail(
                new PacsUnavailableError(
                  `PACS closed WADO-RS ${where} early: ${(e as Error).message}`,
                ),
              );
              return;
            }
            if (!settled) {
              settled = true;
              resolve(files);
            }
          });
          res.on('error', (e) => fail(requestFailure('GET', where, 0, e.message)));
        },
      );
      req.setTimeout(this.timeoutMs, () => fail(requestFailure('GET', where, 0, 'timed out')));
      req.on('error', (e: NodeJS.ErrnoException) =>
        fail(requestFailure('GET', where, 0, e.code ?? e.message)),
      );
    });
  }

  /** WADO-RS series through dicomweb-client (buffers the whole answer; kept for the benchmark). */
  async retrieveSeriesWithDicomwebClient(ref: SeriesRef): Promise<DicomFile[]> {
    const path = `/studies/${ref.studyInstanceUid}/series/${ref.seriesInstanceUid}`;
    const answer = await this.call('GET', path, (request) =>
      this.dwc.retrieveSeries({
        studyInstanceUID: ref.studyInstanceUid,
        seriesInstanceUID: ref.seriesInstanceUid,
        request,
      }),
    );
    if (!Array.isArray(answer))
      throw new PacsResponseError(`WADO-RS ${path}: expected multipart parts`);
    return answer.map((part: unknown, n) => {
      const bytes =
        part instanceof ArrayBuffer
          ? new Uint8Array(part)
          : ArrayBuffer.isView(part)
            ? new Uint8Array(part.buffer, part.byteOffset, part.byteLength)
            : undefined;
      if (!bytes) throw new PacsResponseError(`WADO-RS ${path}: part ${n + 1} is not binary`);
      return { name: `${ref.seriesInstanceUid} part ${n + 1}`, bytes };
    });
  }

  async storeInstances(studyInstanceUid: string, instances: readonly Uint8Array[]): Promise<void> {
    if (instances.length === 0) return;
    const datasets = instances.map(
      (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    );
    const path = `/studies/${studyInstanceUid}`;
    const answer = await this.call('POST', path, (request) =>
      this.dwc.storeInstances({ datasets, studyInstanceUID: studyInstanceUid, request }),
    );
    // 200 with a FailedSOPSequence (or 202) means some instances were not stored.
    const failures = stowFailures(answer);
    if (failures.length) {
      throw new PacsResponseError(
        `STOW-RS ${redactUrl(this.url + path)}: ${failures.length} of ${instances.length} instance(s) rejected (${failures.slice(0, 3).join('; ')})`,
      );
    }
    // Orthanc whose disk is full answers 200 with both sequences empty: only an instance listed
    // in ReferencedSOPSequence was stored. Worth a retry (space may be freed); never a success.
    const referenced = stowReferenced(answer);
    if (referenced) {
      const missing = instances
        .map((b, n) => mediaStorageSopInstanceUid(b) ?? `instance ${n + 1}`)
        .filter((uid) => !referenced.has(uid));
      if (missing.length) {
        throw new PacsUnavailableError(
          `STOW-RS ${redactUrl(this.url + path)}: the PACS answered success but stored only ${instances.length - missing.length} of ${instances.length} instance(s) (not in its ReferencedSOPSequence: ${missing.slice(0, 3).join(', ')}); is its storage full?`,
        );
      }
    }
  }
}

/** A STOW-RS answer as a DICOM JSON dataset, or undefined when it is not JSON (XML, empty). */
function stowAnswer(answer: unknown): DicomJson | undefined {
  if (answer instanceof ArrayBuffer) return stowAnswer(Buffer.from(answer).toString('utf8'));
  if (typeof answer === 'string') {
    if (!answer.trim()) return undefined;
    try {
      return stowAnswer(JSON.parse(answer));
    } catch {
      return undefined;
    }
  }
  if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return undefined;
  return answer as DicomJson;
}

/**
 * SOP Instance UIDs a STOW-RS answer says were stored (ReferencedSOPSequence); undefined when the
 * answer is not DICOM JSON, so there is nothing to check against.
 */
export function stowReferenced(answer: unknown): Set<string> | undefined {
  const ds = stowAnswer(answer);
  if (!ds) return undefined;
  const items = ds[TAGS.ReferencedSOPSequence]?.Value;
  return new Set(
    (Array.isArray(items) ? items : [])
      .map((item) => jsonString(item as DicomJson, TAGS.ReferencedSOPInstanceUID))
      .filter((uid): uid is string => uid !== undefined),
  );
}

/** (0002,0003) MediaStorageSOPInstanceUID from a Part-10 file's meta group (explicit VR LE). */
export function mediaStorageSopInstanceUid(bytes: Uint8Array): string | undefined {
  if (bytes.length < 132 || Buffer.from(bytes.subarray(128, 132)).toString('latin1') !== 'DICM')
    return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 132;
  while (at + 8 <= bytes.length && view.getUint16(at, true) === 0x0002) {
    const element = view.getUint16(at + 2, true);
    const vr = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR'].includes(vr);
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    const start = at + (long ? 12 : 8);
    if (start + length > bytes.length) return undefined;
    if (element === 0x0003) {
      const uid = Buffer.from(bytes.subarray(start, start + length))
        .toString('latin1')
        .replace(/[\0 ]+$/, '');
      return uid || undefined;
    }
    at = start + length;
  }
  return undefined;
}

/** SOP Instance UIDs and reasons listed in a STOW-RS answer's FailedSOPSequence. */
export function stowFailures(answer: unknown): string[] {
  let ds: unknown = answer;
  if (typeof answer === 'string') {
    if (!answer.trim()) return [];
    try {
      ds = JSON.parse(answer);
    } catch {
      return []; // XML or empty answers: the HTTP status already said success
    }
  }
  if (answer instanceof ArrayBuffer) {
    return stowFailures(Buffer.from(answer).toString('utf8'));
  }
  if (!ds || typeof ds !== 'object') return [];
  const failed = (ds as DicomJson)[TAGS.FailedSOPSequence]?.Value;
  if (!Array.isArray(failed)) return [];
  return failed.map((item) => {
    const it = item as DicomJson;
    return `${jsonString(it, '00081155') ?? 'unknown SOP instance'}: failure reason ${jsonString(it, TAGS.FailureReason) ?? '?'}`;
  });
}
