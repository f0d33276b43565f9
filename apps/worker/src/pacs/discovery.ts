/**
 * How new series reach the worker, besides the push (Orthanc's Lua webhook, parsed here too):
 * - OrthancChangeFeed follows Orthanc's /changes with a persisted cursor, because pushes get lost
 *   (Orthanc never retries a failed webhook post);
 * - QidoPoller works with any DICOMweb PACS: it re-queries a sliding StudyDate window and calls a
 *   series complete once its instance count has not changed for `quietSeconds`.
 * Every path emits SeriesCandidate through one callback; the queue behind it de-duplicates.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { OrthancRest, type OrthancRestOptions } from '@lascar/pacs';
import type { PacsClient, SeriesAttributes, SeriesCandidate } from '@lascar/pacs';

/** Where discovery keeps its position (G: a table row per name). */
export interface CursorStore {
  load(name: string): Promise<string | undefined>;
  save(name: string, value: string): Promise<void>;
}

export type CandidateHandler = (candidate: SeriesCandidate) => Promise<void>;

/**
 * Runs `poll` now and then `intervalMs` after each poll ends (never two at once) until stop(); a
 * failed poll goes to `onError` and the loop keeps going.
 */
class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly poll: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError?: (error: unknown) => void,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = (): void => {
      this.running = this.poll()
        .catch((error: unknown) => this.onError?.(error))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  /** Resolves once a poll in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

/** An in-memory CursorStore (tests, and runs without a database). */
export class MemoryCursorStore implements CursorStore {
  readonly values = new Map<string, string>();
  async load(name: string): Promise<string | undefined> {
    return this.values.get(name);
  }
  async save(name: string, value: string): Promise<void> {
    this.values.set(name, value);
  }
}

const UID = /^[0-9]+(\.[0-9]+)*$/;
function isUid(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 64 && UID.test(v);
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---------------------------------------------------------------- webhook (Lua OnStableSeries)

/** The header carrying the shared secret (see docker/orthanc/on-stable-series.lua). */
export const WEBHOOK_SECRET_HEADER = 'x-lascar-webhook-secret';

export class WebhookError extends Error {
  override name = 'WebhookError';
  constructor(
    /** The HTTP status the route should answer: 401 bad secret, 400 bad body. */
    readonly status: 400 | 401,
    message: string,
  ) {
    super(message);
  }
}

/** The JSON the Lua script posts. */
export interface OrthancWebhookBody {
  readonly seriesId?: string;
  readonly studyId?: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality?: string;
  readonly seriesDescription?: string;
  readonly protocolName?: string;
  readonly seriesNumber?: string;
  readonly manufacturer?: string;
  readonly numberOfInstances?: number;
}

function secretsEqual(given: string, expected: string): boolean {
  // Hash first so that the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks the shared secret and turns the Lua script's body into a SeriesCandidate. `body` may be
 * the raw text/Buffer or the JSON already parsed (express.json()). Throws WebhookError.
 */
export function parseOrthancWebhook(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  body: unknown,
  secret: string,
  now: Date = new Date(),
): SeriesCandidate {
  if (!secret) throw new WebhookError(401, 'webhook secret is not configured; refusing every post');
  let given: string | readonly string[] | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === WEBHOOK_SECRET_HEADER) given = value;
  }
  const givenText = Array.isArray(given) ? given[0] : given;
  if (typeof givenText !== 'string' || !secretsEqual(givenText, secret)) {
    throw new WebhookError(401, `webhook post without the right ${WEBHOOK_SECRET_HEADER} header`);
  }
  let data: unknown = body;
  if (Buffer.isBuffer(data) || data instanceof Uint8Array)
    data = Buffer.from(data).toString('utf8');
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      throw new WebhookError(400, 'webhook body is not JSON');
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new WebhookError(400, 'webhook body must be a JSON object');
  }
  const b = data as Record<string, unknown>;
  if (!isUid(b.studyInstanceUid)) {
    throw new WebhookError(
      400,
      `webhook body: studyInstanceUid is missing or not a UID (${JSON.stringify(b.studyInstanceUid)})`,
    );
  }
  if (!isUid(b.seriesInstanceUid)) {
    throw new WebhookError(
      400,
      `webhook body: seriesInstanceUid is missing or not a UID (${JSON.stringify(b.seriesInstanceUid)})`,
    );
  }
  const text = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new WebhookError(400, `webhook body: ${k} must be a string`);
    return v.trim() || undefined;
  };
  // Orthanc's DumpJson may write Lua numbers as strings ("44"): accept both.
  const rawCount = b.numberOfInstances;
  const count =
    typeof rawCount === 'string' && /^\d+$/.test(rawCount.trim()) ? Number(rawCount) : rawCount;
  if (
    count !== undefined &&
    count !== null &&
    !(typeof count === 'number' && Number.isInteger(count) && count >= 0)
  ) {
    throw new WebhookError(
      400,
      `webhook body: numberOfInstances must be a whole number, got ${JSON.stringify(rawCount)}`,
    );
  }
  const series: SeriesAttributes = dropUndefined({
    studyInstanceUid: b.studyInstanceUid,
    seriesInstanceUid: b.seriesInstanceUid,
    modality: text('modality'),
    seriesDescription: text('seriesDescription'),
    protocolName: text('protocolName'),
    manufacturer: text('manufacturer'),
    numberOfInstances: typeof count === 'number' ? count : undefined,
  });
  text('seriesId'); // validated for type; Orthanc's id is not needed downstream
  return { series, source: 'webhook', seenAt: now };
}

// ---------------------------------------------------------------- Orthanc change feed

interface OrthancChange {
  ChangeType: string;
  ID: string;
  Path?: string;
  ResourceType?: string;
  Seq: number;
}
interface OrthancChanges {
  Changes: OrthancChange[];
  Done: boolean;
  Last: number;
}
interface OrthancSeries {
  ID: string;
  ParentStudy: string;
  Instances?: string[];
  MainDicomTags?: Record<string, string | undefined>;
}
interface OrthancStudy {
  MainDicomTags?: Record<string, string | undefined>;
  PatientMainDicomTags?: Record<string, string | undefined>;
}

export interface OrthancChangeFeedOptions extends OrthancRestOptions {
  readonly cursorStore: CursorStore;
  readonly onCandidate: CandidateHandler;
  /** Cursor row name (default 'orthanc-changes'). */
  readonly cursorName?: string;
  /** Changes per request (default 100). */
  readonly pageSize?: number;
  /** Pause between polls when started with start() (default 5 s). */
  readonly intervalMs?: number;
  /** Called with each failed poll (the loop keeps going). */
  readonly onError?: (error: unknown) => void;
}

export class OrthancChangeFeed {
  private readonly rest: OrthancRest;
  private readonly cursorName: string;
  private readonly pageSize: number;
  private readonly loop: PollLoop;

  constructor(private readonly options: OrthancChangeFeedOptions) {
    this.rest = new OrthancRest(options);
    this.cursorName = options.cursorName ?? 'orthanc-changes';
    this.pageSize = options.pageSize ?? 100;
    this.loop = new PollLoop(() => this.pollOnce(), options.intervalMs ?? 5_000, options.onError);
  }

  /**
   * Reads every change after the cursor, emits a candidate per StableSeries, and advances the
   * cursor after each handled change (so a failure resumes at the change that failed).
   * Returns the number of candidates emitted.
   */
  async pollOnce(): Promise<number> {
    const saved = await this.options.cursorStore.load(this.cursorName);
    let since = saved === undefined ? 0 : Number(saved);
    if (!Number.isInteger(since) || since < 0) {
      throw new Error(
        `cursor ${this.cursorName} holds ${JSON.stringify(saved)}, not a change sequence number`,
      );
    }
    let emitted = 0;
    let savedSeq = since;
    const advance = async (seq: number): Promise<void> => {
      if (seq === savedSeq) return;
      await this.options.cursorStore.save(this.cursorName, String(seq));
      savedSeq = seq;
    };
    for (;;) {
      const page = await this.rest.getJson<OrthancChanges>(
        `/changes?since=${since}&limit=${this.pageSize}`,
      );
      for (const change of page.Changes) {
        if (change.ChangeType === 'StableSeries') {
          const candidate = await this.candidate(change.ID);
          if (candidate) {
            await this.options.onCandidate(candidate);
            emitted++;
          }
          await advance(change.Seq);
        }
        since = change.Seq;
      }
      // Changes we do not act on are skipped too, so the next poll starts after them.
      await advance(since);
      if (page.Done || page.Changes.length === 0) return emitted;
    }
  }

  /** The series behind a change, or undefined when it was deleted since. */
  private async candidate(orthancSeriesId: string): Promise<SeriesCandidate | undefined> {
    let series: OrthancSeries;
    try {
      series = await this.rest.getJson<OrthancSeries>(`/series/${orthancSeriesId}`);
    } catch (error) {
      if ((error as { status?: number }).status === 404) return undefined;
      throw error;
    }
    const study = await this.rest.getJson<OrthancStudy>(`/studies/${series.ParentStudy}`);
    const tags = series.MainDicomTags ?? {};
    const studyUid = study.MainDicomTags?.StudyInstanceUID;
    const seriesUid = tags.SeriesInstanceUID;
    if (!studyUid || !seriesUid) return undefined;
    const attributes: SeriesAttributes = dropUndefined({
      studyInstanceUid: studyUid,
      seriesInstanceUid: seriesUid,
      modality: tags.Modality,
      seriesDescription: tags.SeriesDescription,
      protocolName: tags.ProtocolName,
      manufacturer: tags.Manufacturer,
      numberOfInstances: series.Instances?.length,
      patientId: study.PatientMainDicomTags?.PatientID,
    });
    return { series: attributes, source: 'orthanc-changes', seenAt: new Date() };
  }

  /** Polls now and then every intervalMs until stop(). */
  start(): void {
    this.loop.start();
  }

  /** Stops polling; resolves once a poll in progress has finished. */
  stop(): Promise<void> {
    return this.loop.stop();
  }
}

// ---------------------------------------------------------------- QIDO-RS poller

export interface QidoPollerOptions {
  readonly pacs: Pick<PacsClient, 'searchSeries'>;
  readonly cursorStore: CursorStore;
  readonly onCandidate: CandidateHandler;
  /** A series is complete when its instance count has not changed for this long (default 60 s). */
  readonly quietSeconds?: number;
  /** Studies dated today and this many days back are watched (default 1). */
  readonly windowDays?: number;
  /** Extra QIDO filters, e.g. { Modality: 'MR' } (default). */
  readonly filter?: Readonly<Record<string, string>>;
  /** Series per QIDO page (default 200). */
  readonly pageSize?: number;
  readonly cursorName?: string;
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
  /** The clock (tests). */
  readonly now?: () => Date;
}

interface Seen {
  count: number;
  since: number;
}

/** DICOM DA for a local date. */
function dicomDate(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getFullYear(), 4)}${p(d.getMonth() + 1)}${p(d.getDate())}`;
}

export class QidoPoller {
  private readonly seen = new Map<string, Seen>();
  /** Instance count at which each series was last emitted (persisted through the cursor store). */
  private emitted: Map<string, number> | undefined;
  private readonly quietMs: number;
  private readonly cursorName: string;
  private readonly loop: PollLoop;

  constructor(private readonly options: QidoPollerOptions) {
    this.quietMs = (options.quietSeconds ?? 60) * 1000;
    this.cursorName = options.cursorName ?? 'qido-poll';
    this.loop = new PollLoop(() => this.pollOnce(), options.intervalMs ?? 15_000, options.onError);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private async loadEmitted(): Promise<Map<string, number>> {
    if (this.emitted) return this.emitted;
    const saved = await this.options.cursorStore.load(this.cursorName);
    const map = new Map<string, number>();
    if (saved) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(saved);
      } catch {
        throw new Error(`cursor ${this.cursorName} is not the QIDO poller's JSON`);
      }
      const emitted = (parsed as { emitted?: Record<string, unknown> }).emitted ?? {};
      for (const [uid, n] of Object.entries(emitted)) if (typeof n === 'number') map.set(uid, n);
    }
    this.emitted = map;
    return map;
  }

  /** One pass over the window. Returns the number of candidates emitted. */
  async pollOnce(): Promise<number> {
    const emitted = await this.loadEmitted();
    const now = this.now();
    const from = new Date(now);
    from.setDate(from.getDate() - (this.options.windowDays ?? 1));
    const filter = {
      Modality: 'MR',
      ...this.options.filter,
      StudyDate: `${dicomDate(from)}-${dicomDate(now)}`,
    };
    const pageSize = this.options.pageSize ?? 200;
    const found: SeriesAttributes[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.options.pacs.searchSeries({
        ...filter,
        limit: String(pageSize),
        offset: String(offset),
      });
      found.push(...page);
      if (page.length < pageSize) break;
    }
    const t = now.getTime();
    const inWindow = new Set<string>();
    let count = 0;
    for (const series of found) {
      const uid = series.seriesInstanceUid;
      inWindow.add(uid);
      const n = series.numberOfInstances ?? -1;
      const prev = this.seen.get(uid);
      if (!prev || prev.count !== n) {
        this.seen.set(uid, { count: n, since: t });
        continue;
      }
      if (t - prev.since < this.quietMs || emitted.get(uid) === n) continue;
      await this.options.onCandidate({ series, source: 'qido-poll', seenAt: now });
      emitted.set(uid, n);
      count++;
      await this.saveEmitted(emitted);
    }
    // Forget series that left the window.
    for (const uid of [...this.seen.keys()]) if (!inWindow.has(uid)) this.seen.delete(uid);
    const before = emitted.size;
    for (const uid of [...emitted.keys()]) if (!inWindow.has(uid)) emitted.delete(uid);
    if (emitted.size !== before) await this.saveEmitted(emitted);
    return count;
  }

  private async saveEmitted(emitted: Map<string, number>): Promise<void> {
    await this.options.cursorStore.save(
      this.cursorName,
      JSON.stringify({ emitted: Object.fromEntries(emitted) }),
    );
  }

  /** Polls now and then every intervalMs (default 15 s) until stop(). */
  start(): void {
    this.loop.start();
  }

  /** Stops polling; resolves once a poll in progress has finished. */
  stop(): Promise<void> {
    return this.loop.stop();
  }
}
