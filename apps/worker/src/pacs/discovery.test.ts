import { describe, expect, it } from 'vitest';
import {
  MemoryCursorStore,
  parseOrthancWebhook,
  QidoPoller,
  WEBHOOK_SECRET_HEADER,
  WebhookError,
} from './discovery.js';
import type { SeriesAttributes, SeriesCandidate } from '@lascar/pacs';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SERIES = '1.2.826.0.1.3680043.8.498.2';

describe('parseOrthancWebhook', () => {
  const body = {
    seriesId: 'a1b2c3d4-e5f60718-293a4b5c-6d7e8f90-a1b2c3d4',
    studyInstanceUid: STUDY,
    seriesInstanceUid: SERIES,
    modality: 'MR',
    seriesDescription: 'LGE 3D PSIR',
    protocolName: 'DE_3D_LA',
    numberOfInstances: 44,
  };
  const headers = { [WEBHOOK_SECRET_HEADER]: 's3cret' };
  const at = new Date('2026-01-02T03:04:05Z');

  it('turns the Lua body into a webhook candidate (raw text, Buffer or parsed JSON)', () => {
    const expected: SeriesCandidate = {
      series: {
        studyInstanceUid: STUDY,
        seriesInstanceUid: SERIES,
        modality: 'MR',
        seriesDescription: 'LGE 3D PSIR',
        protocolName: 'DE_3D_LA',
        numberOfInstances: 44,
      },
      source: 'webhook',
      seenAt: at,
    };
    expect(parseOrthancWebhook(headers, body, 's3cret', at)).toEqual(expected);
    expect(parseOrthancWebhook(headers, JSON.stringify(body), 's3cret', at)).toEqual(expected);
    // Orthanc's DumpJson writes numbers as strings when asked to keep strings.
    expect(
      parseOrthancWebhook(headers, { ...body, numberOfInstances: '44' }, 's3cret', at),
    ).toEqual(expected);
    expect(
      parseOrthancWebhook(
        { 'X-Lascar-Webhook-Secret': 's3cret' },
        Buffer.from(JSON.stringify(body)),
        's3cret',
        at,
      ),
    ).toEqual(expected);
  });

  it('refuses a wrong or missing secret with 401', () => {
    for (const h of [
      {},
      { [WEBHOOK_SECRET_HEADER]: 'wrong' },
      { [WEBHOOK_SECRET_HEADER]: 's3cret-and-more' },
    ]) {
      const err = (() => {
        try {
          parseOrthancWebhook(h, body, 's3cret');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(WebhookError);
      expect((err as WebhookError).status).toBe(401);
    }
    expect(() => parseOrthancWebhook(headers, body, '')).toThrow(/not configured/);
  });

  it('refuses malformed bodies with 400 and names the field', () => {
    const cases: [unknown, RegExp][] = [
      ['{', /not JSON/],
      [[1, 2], /must be a JSON object/],
      [{ ...body, studyInstanceUid: undefined }, /studyInstanceUid is missing or not a UID/],
      [
        { ...body, seriesInstanceUid: '1.2.abc' },
        /seriesInstanceUid is missing or not a UID \("1.2.abc"\)/,
      ],
      [{ ...body, modality: 5 }, /modality must be a string/],
      [{ ...body, numberOfInstances: -1 }, /numberOfInstances must be a whole number, got -1/],
      [{ ...body, numberOfInstances: '4x' }, /numberOfInstances must be a whole number, got "4x"/],
    ];
    for (const [b, message] of cases) {
      try {
        parseOrthancWebhook(headers, b, 's3cret');
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(WebhookError);
        expect((e as WebhookError).status).toBe(400);
        expect((e as Error).message).toMatch(message);
      }
    }
  });
});

describe('QidoPoller', () => {
  // A PACS whose series list the test changes between polls (unit test; the integration tests
  // run the poller against a real Orthanc).
  function setup(quietSeconds = 60) {
    let clock = new Date(2026, 0, 15, 12, 0, 0).getTime();
    const series = new Map<string, number>();
    const queries: Record<string, string>[] = [];
    const emitted: SeriesCandidate[] = [];
    const store = new MemoryCursorStore();
    const pacs = {
      async searchSeries(filter: Readonly<Record<string, string>>): Promise<SeriesAttributes[]> {
        queries.push({ ...filter });
        const all = [...series].map(([uid, n]) => ({
          studyInstanceUid: STUDY,
          seriesInstanceUid: uid,
          modality: 'MR',
          numberOfInstances: n,
        }));
        const offset = Number(filter.offset ?? 0);
        return all.slice(offset, offset + Number(filter.limit ?? all.length));
      },
    };
    const make = () =>
      new QidoPoller({
        pacs,
        cursorStore: store,
        quietSeconds,
        pageSize: 2,
        now: () => new Date(clock),
        onCandidate: async (c) => {
          emitted.push(c);
        },
      });
    return {
      series,
      queries,
      emitted,
      store,
      make,
      advance: (s: number) => {
        clock += s * 1000;
      },
    };
  }

  it('emits a series once its instance count has been quiet for quietSeconds, once per change', async () => {
    const t = setup(60);
    const poller = t.make();
    t.series.set('1.1', 10);
    expect(await poller.pollOnce()).toBe(0); // first sight
    t.advance(30);
    t.series.set('1.1', 44); // still arriving
    expect(await poller.pollOnce()).toBe(0);
    t.advance(59);
    expect(await poller.pollOnce()).toBe(0); // quiet for 59 s only
    t.advance(1);
    expect(await poller.pollOnce()).toBe(1);
    expect(t.emitted[0]).toMatchObject({
      source: 'qido-poll',
      series: { seriesInstanceUid: '1.1', numberOfInstances: 44 },
    });
    t.advance(600);
    expect(await poller.pollOnce()).toBe(0); // unchanged: not again
    // More instances arrive later: the series is emitted again once quiet.
    t.series.set('1.1', 45);
    expect(await poller.pollOnce()).toBe(0);
    t.advance(60);
    expect(await poller.pollOnce()).toBe(1);
    expect(t.emitted.map((c) => c.series.numberOfInstances)).toEqual([44, 45]);
  });

  it('queries a StudyDate window with Modality=MR, paging through every series', async () => {
    const t = setup(0);
    for (const uid of ['2.1', '2.2', '2.3', '2.4', '2.5']) t.series.set(uid, 50);
    const poller = t.make();
    await poller.pollOnce();
    expect(await poller.pollOnce()).toBe(5);
    expect(t.queries[0]).toMatchObject({
      Modality: 'MR',
      StudyDate: '20260114-20260115',
      limit: '2',
      offset: '0',
    });
    expect(t.queries.slice(0, 3).map((q) => q.offset)).toEqual(['0', '2', '4']);
  });

  it('remembers what it emitted across restarts through the cursor store', async () => {
    const t = setup(0);
    t.series.set('3.1', 40);
    const first = t.make();
    await first.pollOnce();
    expect(await first.pollOnce()).toBe(1);
    expect(JSON.parse(t.store.values.get('qido-poll')!)).toEqual({ emitted: { '3.1': 40 } });
    const second = t.make(); // a restarted worker
    await second.pollOnce();
    expect(await second.pollOnce()).toBe(0);
    // A series that leaves the window is forgotten.
    t.series.delete('3.1');
    await second.pollOnce();
    expect(JSON.parse(t.store.values.get('qido-poll')!)).toEqual({ emitted: {} });
  });

  it('does not mark a series emitted when the handler fails, so the next poll retries it', async () => {
    const t = setup(0);
    t.series.set('4.1', 40);
    let fail = true;
    const poller = new QidoPoller({
      pacs: {
        searchSeries: async () => [
          { studyInstanceUid: STUDY, seriesInstanceUid: '4.1', numberOfInstances: 40 },
        ],
      },
      cursorStore: t.store,
      quietSeconds: 0,
      onCandidate: async () => {
        if (fail) throw new Error('queue down');
      },
    });
    await poller.pollOnce();
    await expect(poller.pollOnce()).rejects.toThrow('queue down');
    fail = false;
    expect(await poller.pollOnce()).toBe(1);
  });
});
