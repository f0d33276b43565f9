import { describe, expect, it } from 'vitest';
import {
  explainingLine,
  hasStackTrace,
  judgeCli,
  judgeWorker,
  markdownTable,
  selected,
  unclearMessage,
  type CliOutcome,
  type SeriesOutcome,
} from './expectations.js';

const cli = (exitCode: number | null, message: string, stderr = message): CliOutcome => ({
  exitCode,
  message,
  stderr,
});

const STACK = `lascar: RangeError: slice 0 contains non-finite intensities
    at sliceStatistics (file:///repo/packages/core/dist/preprocess.js:41:15)
    at segmentStudy (file:///repo/packages/core/dist/stages.js:88:3)`;

describe('unclearMessage', () => {
  it('accepts one line that says what is wrong', () => {
    expect(
      unclearMessage('load: unusable DICOM series (SINGLE_SLICE): series 1.2.3 has a single slice'),
    ).toBeUndefined();
  });

  it('rejects an empty message, several lines, stack frames and internal error text', () => {
    expect(unclearMessage('  ')).toBe('no message');
    expect(unclearMessage('first\nsecond')).toBe('more than one line');
    expect(unclearMessage('failed at x (file:///repo/a.js:1:2)')).toBe('a stack trace');
    expect(unclearMessage("TypeError: Cannot read properties of undefined (reading 'x')")).toMatch(
      /^internal error text/,
    );
    expect(unclearMessage('value undefined is not a slice')).toMatch(/^internal error text/);
  });
});

describe('judgeCli', () => {
  it('wants a result for a usable input', () => {
    expect(judgeCli('usable', cli(0, '')).ok).toBe(true);
    // Exit 3: segmented, no LA found (a flagged result, not a refusal).
    expect(judgeCli('usable', cli(3, 'lascar: x: no LA cavity found')).ok).toBe(true);
    expect(judgeCli('either', cli(3, 'lascar: x: no LA cavity found')).ok).toBe(true);
    expect(judgeCli('unusable', cli(3, 'lascar: x: no LA cavity found')).why).toBe(
      'CLI segmented an input that should be refused',
    );
    expect(judgeCli('usable', cli(2, 'lascar: bad')).why).toBe('expected a result, CLI exited 2');
    expect(judgeCli('usable', { ...cli(null, ''), timedOut: true }).why).toBe('CLI timed out');
  });

  it('wants exit 2 and one clear line for an unusable input', () => {
    expect(judgeCli('unusable', cli(2, 'lascar: INPUT x: series has a single slice')).ok).toBe(
      true,
    );
    expect(judgeCli('unusable', cli(0, '')).why).toBe(
      'CLI segmented an input that should be refused',
    );
    const crash = judgeCli('unusable', cli(1, explainingLine(STACK), STACK));
    expect(crash.ok).toBe(false);
    expect(crash.why).toMatch(/crashed \(exit 1\)/);
    expect(judgeCli('unusable', cli(2, explainingLine(STACK), STACK)).why).toBe(
      'CLI printed a stack trace',
    );
  });

  it('takes either a result or a clear refusal when either is right', () => {
    expect(judgeCli('either', cli(0, '')).ok).toBe(true);
    expect(judgeCli('either', cli(2, 'lascar: INPUT x: a coronal stack is not segmented')).ok).toBe(
      true,
    );
    expect(judgeCli('either', cli(1, 'lascar: boom', STACK)).ok).toBe(false);
  });
});

describe('judgeWorker', () => {
  const completed: SeriesOutcome = { kind: 'completed', attempts: 1, laVolumeMl: 30 };
  const failed: SeriesOutcome = {
    kind: 'failed',
    attempts: 1,
    message:
      'load: unusable DICOM series (IRREGULAR_SPACING): slice positions are not evenly spaced',
  };
  const refused: SeriesOutcome = { kind: 'refused', message: 'HTTP 400 Bad file format' };

  it('wants every series of a usable input completed; refused stray files do not count', () => {
    expect(judgeWorker('usable', { series: [completed, refused], stayedUp: true }).ok).toBe(true);
    expect(judgeWorker('usable', { series: [refused], stayedUp: true }).ok).toBe(false);
    expect(judgeWorker('usable', { series: [completed, failed], stayedUp: true }).why).toMatch(
      /^expected a result, worker: failed/,
    );
  });

  it('wants an unusable input refused, skipped or failed with one clear line', () => {
    expect(judgeWorker('unusable', { series: [failed], stayedUp: true }).ok).toBe(true);
    expect(judgeWorker('unusable', { series: [refused], stayedUp: true }).ok).toBe(true);
    expect(
      judgeWorker('unusable', {
        series: [{ kind: 'skipped', message: "skipped: series description 'MPRAGE'" }],
        stayedUp: true,
      }).ok,
    ).toBe(true);
    expect(judgeWorker('unusable', { series: [completed], stayedUp: true }).why).toBe(
      'worker segmented an input that should be refused',
    );
    expect(
      judgeWorker('unusable', {
        series: [{ kind: 'failed', attempts: 3, message: 'la_model: x is not a function' }],
        stayedUp: true,
      }).ok,
    ).toBe(false);
  });

  it('never accepts a crashed worker or a series left behind', () => {
    expect(judgeWorker('unusable', { series: [failed], stayedUp: false }).why).toBe(
      'the worker process exited',
    );
    expect(
      judgeWorker('either', {
        series: [{ kind: 'lost', message: 'stored in Orthanc, never seen by the worker' }],
        stayedUp: true,
      }).ok,
    ).toBe(false);
    expect(
      judgeWorker('usable', {
        series: [{ kind: 'open', state: 'retrying', message: 'retrieve: PACS failed' }],
        stayedUp: true,
      }).why,
    ).toBe('worker: still retrying at the deadline: retrieve: PACS failed');
    expect(judgeWorker('usable', { series: [], stayedUp: true }).why).toBe(
      'nothing reached the worker',
    );
  });
});

describe('the table helpers', () => {
  it('picks the lascar: line of stderr, else its last line', () => {
    expect(explainingLine('models: UNet on cpu\nlascar: INPUT x: bad\n')).toBe(
      'lascar: INPUT x: bad',
    );
    expect(explainingLine('models: UNet on cpu\nKilled\n')).toBe('Killed');
    expect(hasStackTrace(STACK)).toBe(true);
    expect(hasStackTrace('lascar: INPUT x: bad')).toBe(false);
  });

  it('escapes pipes and folds newlines in Markdown cells', () => {
    expect(markdownTable(['a', 'b'], [['x|y', 'one\ntwo']])).toBe(
      '| a | b |\n|---|---|\n| x\\|y | one ⏎ two |',
    );
  });
});

describe('drill:faults --only', () => {
  it('selects every drill of a letter, or only the single drills named', () => {
    const keys = ['a', 'b', 'c1', 'c2', 'd1', 'd2', 'd3'];
    const pick = (only: string) => keys.filter((k) => selected(only, k));
    expect(pick('abcd')).toEqual(keys);
    expect(pick('d')).toEqual(['d1', 'd2', 'd3']);
    expect(pick('d3')).toEqual(['d3']);
    expect(pick('ac2d2')).toEqual(['a', 'c2', 'd2']);
  });
});
