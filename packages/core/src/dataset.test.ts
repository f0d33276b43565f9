import { describe, expect, it } from 'vitest';
import { laSamples, scarSamples, selectLaSlices, TrainingCaseError } from './dataset.js';
import { applyAxisTransform, axisTransform } from './orientation.js';
import { makeGeometry, type Mask, type Volume } from './volume.js';

// A 48 x 40 x 20 study: a bright ball "atrium" in slices 6..13 with a scar cap on its wall.
const geometry = makeGeometry({ dims: [48, 40, 20], spacing: [1, 1, 2] });
const [nx, ny, nz] = geometry.dims;
const image = new Float32Array(nx * ny * nz);
const la = new Uint8Array(nx * ny * nz);
const scar = new Uint8Array(nx * ny * nz);
for (let k = 0; k < nz; k++)
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      const r = Math.hypot(i - 24, j - 20, (k - 10) * 2);
      const v = i + nx * (j + ny * k);
      image[v] = 100 + ((i * 7 + j * 13 + k) % 11);
      if (r < 7) {
        la[v] = 1;
        image[v] = 500;
      } else if (r < 9 && i > 26) {
        scar[v] = 1;
        image[v] = 900;
      }
    }
const study = {
  id: 'ball',
  image: { geometry, data: image } as Volume,
  la: { geometry, data: la } as Mask,
  scar: { geometry, data: scar } as Mask,
};

describe('training samples', () => {
  it('selects every LA slice, near empty slices, and a sparse share of far ones', () => {
    const chosen = selectLaSlices(study.la, { nearEmptySlices: 2, farEmptyEvery: 5 });
    // LA spans slices 7..13 (|k - 10| * 2 < 7); near: 5, 6, 14, 15; far multiples of 5: 0, 15 (dup), and not 1..4.
    expect(chosen).toEqual([0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('LA samples carry the placed label and z-scored image, one slice at a time', () => {
    const samples = [...laSamples(study, { size: 64, nearEmptySlices: 0, farEmptyEvery: 1000 })];
    expect(samples.map((s) => s.slice)).toEqual([0, 7, 8, 9, 10, 11, 12, 13]);
    for (const s of samples) {
      expect(s.full).toHaveLength(64 * 64);
      expect(s.half).toHaveLength(32 * 32);
      const onSlice = la
        .subarray(s.slice * nx * ny, (s.slice + 1) * nx * ny)
        .reduce((a, b) => a + b, 0);
      expect(s.label.reduce((a, b) => a + b, 0)).toBe(onSlice);
    }
    // Centred padding: 48 -> 64 puts column 0 at canvas column 8; the label pixel (24, 20) at (32, 32).
    const mid = samples.find((s) => s.slice === 10)!;
    expect(mid.label[32 * 64 + 32]).toBe(1);
    expect(mid.label[0]).toBe(0);
    // Bright atrium is above the slice mean after z-scoring; padding stays 0.
    expect(mid.full[32 * 64 + 32]!).toBeGreaterThan(0.5);
    expect(mid.full[0]).toBe(0);
  });

  it('scar samples follow the LA boundary and carry the scar labels under each window', () => {
    const batches = [...scarSamples(study, { stepPx: 8, bandMm: 3 })];
    expect(batches.length).toBeGreaterThan(0);
    let labelled = 0;
    for (const b of batches) {
      expect(b.patches).toHaveLength(b.count * 3 * 64 * 64);
      expect(b.labels).toHaveLength(b.count * 64 * 64);
      labelled += b.labels.reduce((a, v) => a + v, 0);
    }
    // Every scar voxel lies within 64 px of the boundary, so it appears under at least one window.
    expect(labelled).toBeGreaterThanOrEqual(scar.reduce((a, b) => a + b, 0));
    // Channel 2 is max(channel 0, 0).
    const b = batches[0]!;
    for (let p = 0; p < 64 * 64; p++)
      expect(b.patches[2 * 4096 + p]).toBe(Math.max(b.patches[p]!, 0));
  });

  it('gives the same samples for a case stored flipped, transposed, slices reversed (as inference sees it)', () => {
    const t = axisTransform(geometry, [1, 0, 2], [true, false, true]);
    const stored = {
      id: 'ball-stored',
      image: applyAxisTransform(study.image, t),
      la: applyAxisTransform(study.la, t),
      scar: applyAxisTransform(study.scar, t),
    };
    const options = { size: 64, nearEmptySlices: 0, farEmptyEvery: 1000 };
    const a = [...laSamples(study, options)];
    const b = [...laSamples(stored, options)];
    expect(b.map((s) => s.slice)).toEqual(a.map((s) => s.slice));
    b.forEach((s, n) => {
      expect(s.full).toEqual(a[n]!.full);
      expect(s.label).toEqual(a[n]!.label);
    });
    const pa = [...scarSamples(study, { stepPx: 8, bandMm: 3 })];
    const pb = [...scarSamples(stored, { stepPx: 8, bandMm: 3 })];
    expect(pb.map((p) => p.count)).toEqual(pa.map((p) => p.count));
    pb.forEach((p, n) => {
      expect(p.patches).toEqual(pa[n]!.patches);
      expect(p.labels).toEqual(pa[n]!.labels);
    });
  });

  it('a case without scar labels yields no scar samples; misaligned labels are an error', () => {
    expect([...scarSamples({ ...study, scar: undefined })]).toEqual([]);
    const other = makeGeometry({ dims: [48, 40, 21], spacing: [1, 1, 2] });
    const bad = { ...study, la: { geometry: other, data: new Uint8Array(48 * 40 * 21) } };
    expect(() => [...laSamples(bad)]).toThrow(TrainingCaseError);
  });
});
