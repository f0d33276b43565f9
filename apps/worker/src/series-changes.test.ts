import type PgBoss from 'pg-boss';
import { describe, expect, it } from 'vitest';
import { instanceFingerprint } from '@lascar/db';
import { RECHECK_QUEUE } from '@lascar/queue';
import { phantomPacs } from './fakes.test-helper.js';
import { createLogger } from './log.js';
import { PermanentJobError } from './process-series.js';
import { reportContentUids, segmentationContentUids } from './result-uids.js';
import {
  forInstanceSet,
  runRecheck,
  SeriesChangedError,
  worthRechecking,
} from './series-changes.js';

const log = createLogger('silent');

describe('a job for one instance set', () => {
  it('retrieves its own set, and stops with SeriesChangedError on another', async () => {
    const { pacs, ref } = phantomPacs(11);
    const uids = await pacs.listInstanceUids(ref);
    const own = forInstanceSet(pacs, {
      fingerprint: instanceFingerprint(uids),
      count: uids.length,
    });
    expect(await own.retrieveSeries(ref)).toHaveLength(uids.length);

    const fewer = uids.slice(1);
    const stale = forInstanceSet(pacs, {
      fingerprint: instanceFingerprint(fewer),
      count: fewer.length,
    });
    const error = await stale.retrieveSeries(ref).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeriesChangedError);
    expect((error as SeriesChangedError).found.count).toBe(uids.length);
    expect((error as Error).message).toMatch(
      new RegExp(`${uids.length} instances, expected ${fewer.length}`),
    );
    expect(worthRechecking(error)).toBe(true);
  });

  it('rechecks a gap or a single slice, not other data problems', () => {
    expect(worthRechecking(new PermanentJobError('gap', 'load', 'IRREGULAR_SPACING'))).toBe(true);
    expect(worthRechecking(new PermanentJobError('one', 'load', 'SINGLE_SLICE'))).toBe(true);
    expect(worthRechecking(new PermanentJobError('bad', 'load', 'TRUNCATED'))).toBe(false);
    expect(worthRechecking(new PermanentJobError('not MR', 'load'))).toBe(false);
    expect(worthRechecking(new Error('socket reset'))).toBe(false);
  });
});

describe('a recheck round', () => {
  function fakeBoss() {
    const sent: { name: string; data: Record<string, unknown>; startAfter: unknown }[] = [];
    const boss = {
      send: async (name: string, data: Record<string, unknown>, opts: { startAfter?: unknown }) => {
        sent.push({ name, data, startAfter: opts.startAfter });
        return 'id';
      },
    } as unknown as PgBoss;
    return { boss, sent };
  }

  it('waits twice as long again while the series has not changed, three rounds at most', async () => {
    const { pacs, ref } = phantomPacs(12);
    const fingerprint = instanceFingerprint(await pacs.listInstanceUids(ref));
    const { boss, sent } = fakeBoss();
    const intakes: unknown[] = [];
    const deps = { pacs, boss, log, intake: async (c: unknown) => void intakes.push(c) };
    const data = { ...ref, fingerprint, round: 1, recheckSeconds: 10 };
    expect(await runRecheck(data, deps)).toBe('unchanged');
    expect(sent).toEqual([{ name: RECHECK_QUEUE, data: { ...data, round: 2 }, startAfter: 20 }]);
    expect(await runRecheck({ ...data, round: 3 }, deps)).toBe('unchanged');
    expect(sent).toHaveLength(1); // no fourth round
    expect(intakes).toEqual([]);
  });

  it('sends a changed series through intake', async () => {
    const { pacs, ref } = phantomPacs(13);
    const { boss, sent } = fakeBoss();
    const intakes: { source: string }[] = [];
    const deps = {
      pacs,
      boss,
      log,
      intake: async (c: { source: string }) => void intakes.push(c),
    };
    const data = {
      ...ref,
      fingerprint: instanceFingerprint(['1.2.3']),
      round: 1,
      recheckSeconds: 10,
    };
    expect(await runRecheck(data, deps)).toBe('changed');
    expect(intakes).toHaveLength(1);
    expect(intakes[0]).toMatchObject({ source: 'recheck', series: ref });
    expect(sent).toEqual([]);
  });
});

describe('content-derived result UIDs', () => {
  const source = {
    seriesInstanceUid: '1.2.3',
    slices: [{ sopInstanceUid: '1.2.3.1' }, { sopInstanceUid: '1.2.3.2' }],
  } as Parameters<typeof segmentationContentUids>[0];
  const model = { name: 'net', version: 'v1' };
  const masks = (n: number) => ({
    la: { data: Uint8Array.from([0, 1, 1, n]) },
    scar: { data: Uint8Array.from([0, 0, 1, 0]) },
  });

  it('are the same for the same content and differ when masks, inputs or model differ', () => {
    const a = segmentationContentUids(source, masks(0), model);
    expect(segmentationContentUids(source, masks(0), model)).toEqual(a);
    expect(a.sopInstanceUid).toMatch(/^2\.25\.\d+$/);
    expect(a.sopInstanceUid.length).toBeLessThanOrEqual(64);
    expect(segmentationContentUids(source, masks(1), model).sopInstanceUid).not.toBe(
      a.sopInstanceUid,
    );
    const moreSlices = { ...source, slices: [...source.slices, { sopInstanceUid: '1.2.3.3' }] };
    expect(
      segmentationContentUids(moreSlices as typeof source, masks(0), model).sopInstanceUid,
    ).not.toBe(a.sopInstanceUid);
    expect(
      segmentationContentUids(source, masks(0), { ...model, version: 'v2' }).seriesInstanceUid,
    ).not.toBe(a.seriesInstanceUid);
    const r = reportContentUids(source, { burden: 10, seg: a.sopInstanceUid }, model);
    expect(reportContentUids(source, { burden: 10, seg: a.sopInstanceUid }, model)).toEqual(r);
    expect(reportContentUids(source, { burden: 11, seg: a.sopInstanceUid }, model)).not.toEqual(r);
  });
});
