// Finding new series on a real Orthanc: the Lua webhook, the change feed and the QIDO-RS poller.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDicomSeries, writeSegmentation } from '@lascar/core';
import { DicomWebPacsClient } from '@lascar/pacs';
import {
  MemoryCursorStore,
  OrthancChangeFeed,
  parseOrthancWebhook,
  QidoPoller,
  WEBHOOK_SECRET_HEADER,
} from '../src/pacs/discovery.js';
import { PacsUnavailableError, type SeriesCandidate } from '@lascar/pacs';
import {
  freePort,
  phantomSeries,
  startOrthanc,
  waitFor,
  type OrthancInstance,
  type PhantomSeries,
} from '@lascar/testkit';

/** These waits are for Orthanc's StableAge (2 s) and a poll: 20 s is ample. */
const PACS_WAIT_MS = 20_000;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny webhook receiver (the worker's express route is tested by its own tests). */
async function startReceiver(
  port: number,
): Promise<{ posts: Received[]; server: Server; close(): Promise<void> }> {
  const posts: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    posts,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
}

describe('series discovery on a real Orthanc', () => {
  const secret = 'webhook-secret-for-tests';
  let orthanc: OrthancInstance;
  let pacs: DicomWebPacsClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let receiverPort: number;
  let lge: PhantomSeries;

  beforeAll(async () => {
    receiverPort = await freePort();
    receiver = await startReceiver(receiverPort);
    orthanc = await startOrthanc({
      webhookUrl: `http://127.0.0.1:${receiverPort}/webhook/orthanc`,
      secret,
    });
    pacs = new DicomWebPacsClient({
      url: orthanc.dicomWebUrl,
      username: orthanc.username,
      password: orthanc.password,
    });
    lge = phantomSeries(202, { identity: { studyDate: today() } });
    await pacs.storeInstances(lge.studyInstanceUid, lge.instances);
  });
  afterAll(async () => {
    await orthanc?.dispose();
    await receiver?.close();
  });

  it('the Lua script posts each stable series with the secret; the parser turns it into a candidate', async () => {
    const post = await waitFor(
      'the webhook post',
      () => receiver.posts.find((p) => p.body.includes(lge.seriesInstanceUid)),
      PACS_WAIT_MS,
    );
    expect(post.headers[WEBHOOK_SECRET_HEADER]).toBe(secret);
    expect(post.headers['content-type']).toBe('application/json');
    const raw = JSON.parse(post.body) as Record<string, unknown>;
    expect(raw).toMatchObject({
      seriesId: expect.stringMatching(/^[0-9a-f]{8}-/),
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
      modality: 'MR',
    });
    const candidate = parseOrthancWebhook(post.headers, post.body, secret);
    expect(candidate.source).toBe('webhook');
    expect(candidate.series).toMatchObject({
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
      modality: 'MR',
      numberOfInstances: lge.instances.length,
    });
    expect(() => parseOrthancWebhook(post.headers, post.body, 'another-secret')).toThrow(
      /X-Lascar-Webhook-Secret|x-lascar-webhook-secret/,
    );
    // One post per stable series.
    expect(receiver.posts.filter((p) => p.body.includes(lge.seriesInstanceUid))).toHaveLength(1);
  });

  it('the change feed yields the stable series once, with a persisted cursor; our SEG is never posted', async () => {
    const source = readDicomSeries(lge.instances).source;
    const n = source.geometry.dims[0] * source.geometry.dims[1] * source.geometry.dims[2];
    const empty = { geometry: source.geometry, data: new Uint8Array(n) };
    const seg = writeSegmentation(
      source,
      { la: empty, scar: empty },
      { name: 'test', version: '0' },
    );
    await pacs.storeInstances(lge.studyInstanceUid, [seg]);
    const [segSeries] = await pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segSeries).toBeDefined();

    const store = new MemoryCursorStore();
    const seen: SeriesCandidate[] = [];
    const feed = new OrthancChangeFeed({
      url: orthanc.url,
      username: orthanc.username,
      password: orthanc.password,
      cursorStore: store,
      pageSize: 7, // several pages
      onCandidate: async (c) => {
        seen.push(c);
      },
    });
    // Wait until the SEG series is stable too, then read the whole feed.
    await waitFor(
      'the SEG series to become stable',
      async () => {
        await feed.pollOnce();
        return seen.find((c) => c.series.seriesInstanceUid === segSeries!.seriesInstanceUid);
      },
      PACS_WAIT_MS,
    );
    const mr = seen.filter((c) => c.series.seriesInstanceUid === lge.seriesInstanceUid);
    expect(mr).toHaveLength(1);
    expect(mr[0]!.source).toBe('orthanc-changes');
    expect(mr[0]!.series).toMatchObject({
      studyInstanceUid: lge.studyInstanceUid,
      modality: 'MR',
      numberOfInstances: lge.instances.length,
    });
    const cursor = Number(store.values.get('orthanc-changes'));
    expect(cursor).toBeGreaterThan(lge.instances.length); // one NewInstance change per instance, at least
    expect(await feed.pollOnce()).toBe(0);
    // A new follower on the same cursor starts after it.
    const again: SeriesCandidate[] = [];
    const resumed = new OrthancChangeFeed({
      url: orthanc.url,
      username: orthanc.username,
      password: orthanc.password,
      cursorStore: store,
      onCandidate: async (c) => void again.push(c),
    });
    expect(await resumed.pollOnce()).toBe(0);
    // The Lua script skipped the SEG.
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.posts.some((p) => p.body.includes(segSeries!.seriesInstanceUid))).toBe(false);
  });

  it('when the webhook receiver is down, the change feed still finds the series', async () => {
    await receiver.close();
    const store = new MemoryCursorStore();
    const seen: SeriesCandidate[] = [];
    const feed = new OrthancChangeFeed({
      url: orthanc.url,
      username: orthanc.username,
      password: orthanc.password,
      cursorStore: store,
      onCandidate: async (c) => void seen.push(c),
    });
    await feed.pollOnce(); // catch up
    seen.length = 0;
    const other = phantomSeries(203, { identity: { studyDate: today() } });
    await pacs.storeInstances(other.studyInstanceUid, other.instances);
    const found = await waitFor(
      'the change feed to report the new series',
      async () => {
        await feed.pollOnce();
        return seen.find((c) => c.series.seriesInstanceUid === other.seriesInstanceUid);
      },
      PACS_WAIT_MS,
    );
    expect(found.series.numberOfInstances).toBe(other.instances.length);
    // Orthanc tried and logged the failed post.
    await waitFor(
      'Orthanc to log the failed webhook',
      () => (orthanc.log().includes('webhook post failed') ? true : undefined),
      10_000,
    );
    receiver = await startReceiver(receiverPort);
  });

  it("the QIDO-RS poller emits complete series in today's window once their count is quiet", async () => {
    const seen: SeriesCandidate[] = [];
    const poller = new QidoPoller({
      pacs,
      cursorStore: new MemoryCursorStore(),
      quietSeconds: 1,
      onCandidate: async (c) => void seen.push(c),
    });
    expect(await poller.pollOnce()).toBe(0); // first sight
    await new Promise((r) => setTimeout(r, 1100));
    expect(await poller.pollOnce()).toBeGreaterThanOrEqual(2);
    const uids = seen.map((c) => c.series.seriesInstanceUid);
    expect(uids).toContain(lge.seriesInstanceUid);
    expect(seen.every((c) => c.source === 'qido-poll' && c.series.modality === 'MR')).toBe(true);
    expect(new Set(uids).size).toBe(uids.length);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await poller.pollOnce()).toBe(0);
  });

  it('the change feed reports a stopped Orthanc as PacsUnavailableError and keeps its cursor', async () => {
    const store = new MemoryCursorStore();
    await store.save('orthanc-changes', '3');
    const feed = new OrthancChangeFeed({
      url: orthanc.url,
      username: orthanc.username,
      password: orthanc.password,
      cursorStore: store,
      onCandidate: async () => {},
    });
    await orthanc.stop();
    try {
      const err = await feed.pollOnce().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PacsUnavailableError);
      expect((err as Error).message).toContain(`/changes?since=3`);
      expect(store.values.get('orthanc-changes')).toBe('3');
    } finally {
      await orthanc.restart();
    }
  });
});
