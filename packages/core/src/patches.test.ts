import { describe, expect, it } from 'vitest';
import { boundaryBand, samplePatchCentres } from './boundary.js';
import {
  SCAR_PATCH_SIZE,
  createScarAccumulator,
  finishScarSlice,
  pasteScarPredictions,
  planScarSlice,
  writeScarLabelPatches,
  writeScarPatches,
} from './patches.js';
import { sliceStatistics } from './preprocess.js';
import { makeGeometry, makeVolume, type Vec3 } from './volume.js';

const P = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;

/** A 2-slice study: slice 1 has a disc-shaped LA; intensities vary so the CDF is informative. */
function study(nx = 120, ny = 100) {
  const dims: Vec3 = [nx, ny, 2];
  const geometry = makeGeometry({ dims, spacing: [0.8, 0.8, 2] });
  const data = new Int16Array(nx * ny * 2);
  const la = new Uint8Array(nx * ny * 2);
  for (let k = 0; k < 2; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = i + nx * (j + ny * k);
        data[v] = ((i * 37 + j * 91 + k * 13) % 200) + 50;
        if (k === 1 && (i - 30) ** 2 + (j - 50) ** 2 <= 15 ** 2) la[v] = 1; // near the left edge
      }
    }
  }
  return { dims, image: makeVolume(geometry, data), la };
}

describe('planScarSlice', () => {
  it('returns undefined on a slice without LA', () => {
    const { image, la } = study();
    expect(planScarSlice(image, la, 0)).toBeUndefined();
  });

  it('samples centres on the boundary, and computes the band CDF', () => {
    const { image, la, dims } = study();
    const plan = planScarSlice(image, la, 1)!;
    const nxy = dims[0] * dims[1];
    const maskSlice = { data: la.subarray(nxy), columns: dims[0], rows: dims[1] };
    expect(Array.from(plan.centres)).toEqual(Array.from(samplePatchCentres(maskSlice, 16)));
    expect(Array.from(plan.band)).toEqual(Array.from(boundaryBand(maskSlice, [0.8, 0.8], 5)));
    // CDF by brute force at a few region pixels.
    const bandValues: number[] = [];
    for (let p = 0; p < nxy; p++) if (plan.band[p]) bandValues.push(image.data[nxy + p]!);
    expect(plan.bandPixelCount).toBe(bandValues.length);
    for (const [x, y] of [
      [plan.region.x0, plan.region.y0],
      [30, 50],
      [45, 50],
      [plan.region.x0 + plan.region.width - 1, plan.region.y0 + plan.region.height - 1],
    ] as const) {
      const v = image.data[nxy + x + dims[0] * y]!;
      const expected = bandValues.filter((b) => b <= v).length / bandValues.length;
      expect(
        plan.scarProbability[x - plan.region.x0 + plan.region.width * (y - plan.region.y0)],
      ).toBeCloseTo(expected, 6);
    }
    // The region is the union of the windows clipped to the slice: here it reaches the left edge.
    expect(plan.region.x0).toBe(0);
  });
});

describe('planScarSlice on an LA cut by the image edge', () => {
  it('finds the same contours and band as the whole-slice functions', () => {
    const { image, dims } = study();
    const nxy = dims[0] * dims[1];
    for (const [cx, cy] of [
      [3, 50],
      [60, 97],
      [118, 2],
    ] as const) {
      const la = new Uint8Array(image.data.length);
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++)
          if ((i - cx) ** 2 + (j - cy) ** 2 <= 144) la[nxy + i + dims[0] * j] = 1;
      const plan = planScarSlice(image, la, 1, { bandMm: 4, stepPx: 5 })!;
      const slice = { data: la.subarray(nxy), columns: dims[0], rows: dims[1] };
      expect(Array.from(plan.centres)).toEqual(Array.from(samplePatchCentres(slice, 5)));
      expect(Array.from(plan.band)).toEqual(Array.from(boundaryBand(slice, [0.8, 0.8], 4)));
    }
  });
});

describe('histogram channel on float images', () => {
  it('is the same empirical CDF as for integer images (sorted search instead of a histogram)', () => {
    const { image, la, dims } = study();
    const floats = makeVolume(
      image.geometry,
      Float32Array.from(image.data, (v) => v * 1.5 + 0.25),
    );
    const a = planScarSlice(image, la, 1)!;
    const b = planScarSlice(floats, la, 1)!;
    expect(b.region).toEqual(a.region);
    // A monotonic map of the intensities leaves every CDF value unchanged.
    expect(Array.from(b.scarProbability)).toEqual(Array.from(a.scarProbability));
    const nxy = dims[0] * dims[1];
    const bandValues: number[] = [];
    for (let p = 0; p < nxy; p++) if (b.band[p]) bandValues.push(floats.data[nxy + p]!);
    const v = floats.data[nxy + 30 + dims[0] * 50]!;
    const expected = bandValues.filter((x) => x <= v).length / bandValues.length;
    expect(b.scarProbability[30 - b.region.x0 + b.region.width * (50 - b.region.y0)]).toBeCloseTo(
      expected,
      6,
    );
  });
});

describe('writeScarPatches', () => {
  it('builds the three channels, zero-padded beyond the image edge', () => {
    const { image, la, dims } = study();
    const plan = planScarSlice(image, la, 1)!;
    const nxy = dims[0] * dims[1];
    const out = new Float32Array(plan.patchCount * 3 * P);
    writeScarPatches(image, plan, 0, plan.patchCount, out);
    const stats = sliceStatistics(image.data, dims, 1);
    for (let p = 0; p < plan.patchCount; p++) {
      const cx = plan.centres[2 * p]!;
      const cy = plan.centres[2 * p + 1]!;
      for (const [u, v] of [
        [0, 0],
        [32, 32],
        [63, 63],
        [5, 40],
      ] as const) {
        const x = cx - 32 + u;
        const y = cy - 32 + v;
        const o = p * 3 * P + v * 64 + u;
        if (x < 0 || y < 0 || x >= dims[0] || y >= dims[1]) {
          expect([out[o], out[o + P], out[o + 2 * P]]).toEqual([0, 0, 0]);
          continue;
        }
        const z = (image.data[nxy + x + dims[0] * y]! - stats.mean) / stats.std;
        expect(out[o]).toBeCloseTo(z, 5);
        expect(out[o + P]).toBe(
          plan.scarProbability[x - plan.region.x0 + plan.region.width * (y - plan.region.y0)],
        );
        expect(out[o + 2 * P]).toBeCloseTo(Math.max(z, 0), 5);
      }
    }
    // The disc reaches column 15, so the leftmost window starts beyond the image edge: padded.
    const xs = Array.from({ length: plan.patchCount }, (_, p) => plan.centres[2 * p]!);
    const left = xs.indexOf(Math.min(...xs));
    expect(xs[left]).toBeLessThan(32);
    for (let c = 0; c < 3; c++) expect(out[left * 3 * P + c * P + 40 * 64]).toBe(0);
    expect(out[left * 3 * P + 40 * 64 + 32 - xs[left]!]).not.toBe(0); // column 0 of the image
    expect(() => writeScarPatches(image, plan, 0, plan.patchCount + 1, out)).toThrow(
      /outside slice 1/,
    );
    expect(() => writeScarPatches(image, plan, 0, plan.patchCount, new Float32Array(10))).toThrow(
      /do not fit/,
    );
  });
});

describe('pasting predictions', () => {
  it('constant predictions of 1 reproduce the boundary band; 0.5 gives nothing (strict threshold)', () => {
    const { image, la, dims } = study();
    const nxy = dims[0] * dims[1];
    const plan = planScarSlice(image, la, 1)!;
    const ones = new Float32Array(plan.patchCount * P).fill(1);
    const acc = createScarAccumulator(plan);
    pasteScarPredictions(acc, ones, 0, 0, plan.patchCount);
    const scar = new Uint8Array(image.data.length).fill(7);
    finishScarSlice(acc, scar);
    expect(Array.from(scar.subarray(nxy))).toEqual(Array.from(plan.band));
    expect(scar[0]).toBe(7); // other slices untouched
    const halves = createScarAccumulator(plan);
    pasteScarPredictions(
      halves,
      new Float32Array(plan.patchCount * P).fill(0.5),
      0,
      0,
      plan.patchCount,
    );
    finishScarSlice(halves, scar);
    expect(scar.subarray(nxy).every((v) => v === 0)).toBe(true);
  });

  it('averages overlapping windows', () => {
    // A long LA bar; paste patch 0 as all 1 and a patch 40 px to its right as all 0.
    const nx = 100, ny = 90; // prettier-ignore
    const geometry = makeGeometry({ dims: [nx, ny, 1], spacing: [1, 1, 1] });
    const image = makeVolume(geometry, new Float32Array(nx * ny));
    const la = new Uint8Array(nx * ny);
    for (let j = 40; j < 50; j++) for (let i = 10; i < 90; i++) la[i + nx * j] = 1;
    const plan = planScarSlice(image, la, 0, { stepPx: 16, bandMm: 3 })!;
    expect(plan.patchCount).toBe(11); // contour of 2 * (80 + 10) - 4 = 176 points: 0, 16, ..., 160
    const xs = Array.from({ length: plan.patchCount }, (_, p) => plan.centres[2 * p]!);
    const q = xs.findIndex((x) => x >= xs[0]! + 40);
    const acc = createScarAccumulator(plan);
    pasteScarPredictions(acc, new Float32Array(P).fill(1), 0, 0, 1);
    pasteScarPredictions(acc, new Float32Array(P).fill(0), 0, q, 1);
    const scar = new Uint8Array(nx * ny);
    finishScarSlice(acc, scar);
    const cover = (p: number, x: number, y: number): boolean =>
      x - plan.centres[2 * p]! >= -32 &&
      x - plan.centres[2 * p]! <= 31 &&
      y - plan.centres[2 * p + 1]! >= -32 &&
      y - plan.centres[2 * p + 1]! <= 31;
    let overlapInBand = 0;
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const inBand = plan.band[x + nx * y] === 1;
        if (inBand && cover(0, x, y) && cover(q, x, y)) overlapInBand++;
        // Mean > 0.5 only where window 0 covers and window q does not (overlap: mean 0.5).
        const expected = inBand && cover(0, x, y) && !cover(q, x, y) ? 1 : 0;
        expect(scar[x + nx * y]).toBe(expected);
      }
    }
    expect(overlapInBand).toBeGreaterThan(0);
    expect(scar.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('label patches pasted back reproduce the scar mask inside the band', () => {
    const { image, la, dims } = study();
    const nxy = dims[0] * dims[1];
    const plan = planScarSlice(image, la, 1)!;
    // A scar mask: a pattern over the whole slice (also outside the band, which must be dropped).
    const truth = new Uint8Array(image.data.length);
    for (let p = 0; p < nxy; p++) truth[nxy + p] = (p * 7) % 5 < 2 ? 1 : 0;
    const labels = new Float32Array(plan.patchCount * P);
    writeScarLabelPatches(truth, plan, 0, plan.patchCount, labels);
    // Spot check one label patch against a direct crop.
    const cx = plan.centres[0]!;
    const cy = plan.centres[1]!;
    expect(labels[10 * 64 + 20]).toBe(truth[nxy + cx - 32 + 20 + dims[0] * (cy - 32 + 10)]);
    const acc = createScarAccumulator(plan);
    // Paste in two batches with an offset into the prediction tensor.
    const split = Math.floor(plan.patchCount / 2);
    pasteScarPredictions(acc, labels, 0, 0, split);
    pasteScarPredictions(acc, labels.subarray(split * P), 0, split, plan.patchCount - split);
    const scar = new Uint8Array(image.data.length);
    finishScarSlice(acc, scar);
    for (let p = 0; p < nxy; p++) expect(scar[nxy + p]).toBe(truth[nxy + p]! & plan.band[p]!);
  });
});
