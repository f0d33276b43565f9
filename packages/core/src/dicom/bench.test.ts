import { describe, expect, it } from 'vitest';
import { benchmarkDicomSeriesAndSeg } from './bench.js';

describe('benchmarkDicomSeriesAndSeg', () => {
  it('runs end to end on a small series and reports sizes and times', () => {
    const r = benchmarkDicomSeriesAndSeg([32, 24, 6]);
    expect(r.dims).toEqual([32, 24, 6]);
    expect(r.seriesBytes).toBeGreaterThan(32 * 24 * 6 * 2);
    expect(r.segBytes).toBeGreaterThan((32 * 24 * 6 * 2) / 8);
    expect(r.totalMs).toBeCloseTo(r.readMs + r.segMs, 6);
  });
});
