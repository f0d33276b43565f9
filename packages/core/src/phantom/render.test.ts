import { describe, expect, it } from 'vitest';
import { makeGeometry } from '../volume.js';
import type { Acquisition, PhantomStyle } from './acquisition.js';
import { SHIFT_RENDER, blurAxis, nonZeroBox, renderImage, wrapAround } from './render.js';
import { TISSUE_COUNT, Tissue } from './tissue.js';

/** Mean of the volume and the correlation of row neighbours (pairs within a row of `width`). */
function meanAndRowCorrelation(
  data: ArrayLike<number>,
  width: number,
): { mean: number; corr: number } {
  let sum = 0;
  for (let v = 0; v < data.length; v++) sum += data[v]!;
  const mean = sum / data.length;
  let cov = 0;
  let varSum = 0;
  for (let v = 0; v < data.length - 1; v++) {
    if ((v + 1) % width === 0) continue;
    cov += (data[v]! - mean) * (data[v + 1]! - mean);
    varSum += (data[v]! - mean) ** 2;
  }
  return { mean, corr: cov / varSum };
}

describe('blurAxis', () => {
  const dims = [23, 19, 11] as const;
  const n = dims[0] * dims[1] * dims[2];
  const labels = new Uint8Array(n);
  const data = new Float32Array(n);
  for (let k = 3; k < 8; k++)
    for (let j = 5; j < 12; j++)
      for (let i = 0; i < 9; i++) {
        const v = i + dims[0] * (j + dims[1] * k);
        labels[v] = 1;
        data[v] = 1 + ((i * 7 + j * 3 + k) % 5);
      }

  it('limited to the non-zero box, gives the same result as blurring everything', () => {
    const full = Float32Array.from(data);
    const boxed = Float32Array.from(data);
    let box = nonZeroBox(labels, dims)!;
    expect(box).toEqual({ lo: [0, 5, 3], hi: [8, 11, 7] });
    for (const [axis, sigma] of [
      [0, 1.1],
      [1, 0.8],
      [2, 1.6],
    ] as const) {
      blurAxis(full, dims, axis, sigma);
      box = blurAxis(boxed, dims, axis, sigma, box);
    }
    let worst = 0;
    for (let v = 0; v < n; v++) worst = Math.max(worst, Math.abs(full[v]! - boxed[v]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('preserves the total signal away from the edges and spreads a point', () => {
    const d = new Float32Array(n);
    const centre = 11 + dims[0] * (9 + dims[1] * 5);
    d[centre] = 100;
    blurAxis(d, dims, 0, 1);
    blurAxis(d, dims, 1, 1);
    blurAxis(d, dims, 2, 1);
    let total = 0;
    for (const v of d) total += v;
    expect(total).toBeCloseTo(100, 3);
    expect(d[centre]).toBeLessThan(20);
    expect(d[centre + 1]).toBeGreaterThan(1);
  });
});

describe('renderImage noise', () => {
  const g = makeGeometry({ dims: [64, 64, 4], spacing: [0.625, 0.625, 2] });
  const acq = (acquiredInPlaneMm: number, style: PhantomStyle = 'randomised'): Acquisition => ({
    dims: g.dims,
    spacing: g.spacing,
    obliqueDeg: 0,
    direction: g.direction,
    acquiredInPlaneMm,
    sliceThicknessMm: 2,
    snr: 10,
    gain: 2000,
    phaseEncoding: 'column',
    style,
  });
  const levels = new Float32Array(TISSUE_COUNT);
  levels[Tissue.BloodLa] = 0.5;
  const air = new Uint8Array(64 * 64 * 4);

  /** Mean, and correlation of horizontally adjacent voxels (ghosts/bias cannot reach pure air). */
  function stats(
    acquired: number,
    seed: number,
    style: PhantomStyle = 'randomised',
  ): { mean: number; sigma: number; corr: number; coils: number } {
    const { data, report } = renderImage(g, air, {
      levels,
      blood: 0.5,
      acquisition: acq(acquired, style),
      seed,
    });
    const { mean, corr } = meanAndRowCorrelation(data, 64);
    return { mean, sigma: report.noiseSigma, corr, coils: report.coils };
  }

  it('is Rician: the background is Rayleigh with mean sigma * sqrt(pi / 2)', () => {
    const s = stats(0.625, 3);
    expect(s.sigma).toBeCloseTo((0.5 * 2000) / 10, 6);
    expect(s.mean / s.sigma).toBeGreaterThan(1.2533 * 0.95);
    expect(s.mean / s.sigma).toBeLessThan(1.2533 * 1.05);
  });

  it('has grains when the image was interpolated from a coarser acquisition, white noise otherwise', () => {
    expect(Math.abs(stats(0.625, 4).corr)).toBeLessThan(0.1);
    expect(stats(1.5, 4).corr).toBeGreaterThan(0.15); // 0.5 in the complex noise, less in its magnitude
  });
});

describe('style-shift noise and artefacts (held-out only)', () => {
  const g = makeGeometry({ dims: [64, 64, 4], spacing: [0.625, 0.625, 2] });
  const air = new Uint8Array(64 * 64 * 4);
  const levels = new Float32Array(TISSUE_COUNT);
  const render = (style: PhantomStyle, seed: number) => {
    const acquisition: Acquisition = {
      dims: g.dims,
      spacing: g.spacing,
      obliqueDeg: 0,
      direction: g.direction,
      acquiredInPlaneMm: 0.625,
      sliceThicknessMm: 2,
      snr: 10,
      gain: 2000,
      phaseEncoding: 'column',
      style,
    };
    return renderImage(g, air, { levels, blood: 0.5, acquisition, seed });
  };
  /** Background mean over the per-channel sigma, and the correlation of row neighbours. */
  function background(style: PhantomStyle, seed: number): { ratio: number; corr: number } {
    const { data, report } = render(style, seed);
    const { mean, corr } = meanAndRowCorrelation(data, 64);
    return { ratio: mean / report.noiseSigma, corr };
  }

  it('air is not Rician: a multi-coil noise floor far above sigma * 1.25, correlated along rows', () => {
    for (const seed of [1, 2, 3]) {
      const train = background('randomised', seed);
      const shift = background('shift', seed);
      expect(train.ratio).toBeLessThan(1.35);
      expect(Math.abs(train.corr)).toBeLessThan(0.1);
      const classic = background('classic', seed);
      expect(classic.ratio).toBeLessThan(1.35);
      expect(Math.abs(classic.corr)).toBeLessThan(0.1);
      // Chi with 2 x 6 or more degrees of freedom: mean about sigma * sqrt(2 x coils) or more.
      expect(shift.ratio).toBeGreaterThan(3);
      expect(shift.corr).toBeGreaterThan(0.3);
      const report = render('shift', seed).report;
      expect(report.noiseModel).toBe('sum-of-squares');
      expect(SHIFT_RENDER.coils).toContain(report.coils);
      expect(report.ghosts).toBeGreaterThanOrEqual(SHIFT_RENDER.ghostCount[0]);
      expect(report.ghostAmplitude).toBeGreaterThanOrEqual(SHIFT_RENDER.ghostAmplitude[0]);
      expect(report.wrapFraction).toBeGreaterThanOrEqual(SHIFT_RENDER.wrapFraction[0]);
    }
  });

  it('wrap-around folds each end band of the phase axis onto the other end', () => {
    const dims = [3, 10, 2] as const;
    const data = new Float32Array(60);
    for (let k = 0; k < 2; k++) for (let j = 0; j < 10; j++) data[1 + 3 * (j + 10 * k)] = j + 1;
    wrapAround(data, dims, 1, 2);
    const column = Array.from({ length: 10 }, (_, j) => data[1 + 3 * j]);
    // Rows 0-1 gain rows 8-9 (9, 10); rows 8-9 gain rows 0-1 (1, 2); the middle is untouched.
    expect(column).toEqual([1 + 9, 2 + 10, 3, 4, 5, 6, 7, 8, 9 + 1, 10 + 2]);
    expect(data[0]).toBe(0);
  });
});
