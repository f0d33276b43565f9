import { describe, expect, it } from 'vitest';
import { quantifyStudy } from '../quantify.js';
import { makeGeometry, makeVolume } from '../volume.js';
import {
  MISREGISTRATION_RANGES,
  applyMisregistration,
  sampleMisregistration,
  shiftSlices,
} from './motion.js';
import { Rng, caseSeed } from './random.js';
import { Tissue } from './tissue.js';

describe('shiftSlices', () => {
  it('moves each slice by its own whole-voxel shift, filling with 0', () => {
    const dims = [5, 4, 2] as const;
    const data = Uint8Array.from({ length: 40 }, (_, v) => v + 1);
    const out = shiftSlices(data, dims, Int32Array.from([1, 0, -2, 1]));
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 4; j++)
        for (let i = 0; i < 5; i++) {
          const [di, dj] = k === 0 ? [1, 0] : [-2, 1];
          const si = i - di;
          const sj = j - dj;
          const inside = si >= 0 && si < 5 && sj >= 0 && sj < 4;
          expect(out[i + 5 * (j + 4 * k)]).toBe(inside ? data[si + 5 * (sj + 4 * k)] : 0);
        }
  });
});

describe('navigator misregistration', () => {
  it('is drawn in about 40 % of cases, up to its documented largest shift', () => {
    const drawn = Array.from({ length: 400 }, (_, i) =>
      sampleMisregistration(new Rng(caseSeed(61, i)), 60),
    ).filter((d) => d !== undefined);
    expect(drawn.length).toBeGreaterThan(130);
    expect(drawn.length).toBeLessThan(190);
    const peaks = drawn.map((d) => {
      let peak = 0;
      for (let k = 0; k < 60; k++) peak = Math.max(peak, Math.hypot(d[2 * k]!, d[2 * k + 1]!));
      return peak;
    });
    expect(Math.max(...peaks)).toBeLessThanOrEqual(MISREGISTRATION_RANGES.maxShiftMm[1] * 1.1);
    expect(Math.max(...peaks)).toBeGreaterThan(3);
    expect(Math.min(...peaks)).toBeLessThan(1);
  });

  it('moves labels, cavity and scar together and keeps the scar in the 3 mm shell', () => {
    const g = makeGeometry({ dims: [40, 40, 16], spacing: [1, 1, 2] });
    const n = 40 * 40 * 16;
    const labels = new Uint8Array(n).fill(Tissue.Muscle);
    const la = new Uint8Array(n);
    const scar = new Uint8Array(n);
    for (let k = 0; k < 16; k++)
      for (let j = 0; j < 40; j++)
        for (let i = 0; i < 40; i++) {
          const v = i + 40 * (j + 40 * k);
          const r = Math.hypot(i - 20, j - 20, (k - 8) * 2);
          if (r <= 9) {
            la[v] = 1;
            labels[v] = Tissue.BloodLa;
          } else if (r <= 11.5) {
            scar[v] = 1;
            labels[v] = Tissue.ScarDense;
          }
        }
    const before = { la: Uint8Array.from(la), labels: Uint8Array.from(labels) };
    const displacement = new Float64Array(32);
    for (let k = 0; k < 16; k++) displacement[2 * k + 1] = k % 2 ? 2 : -1; // 2 / -1 mm in j
    const result = applyMisregistration(g, labels, la, scar, displacement, 3);
    expect(result.maxShiftMm).toBe(2);
    // Slice 1 moved by +2 voxels in j: its cavity is that of the unmoved slice, two rows down.
    const k = 1;
    for (let j = 2; j < 40; j++)
      for (let i = 0; i < 40; i++) {
        const v = i + 40 * (j + 40 * k);
        const src = i + 40 * (j - 2 + 40 * k);
        expect(la[v]).toBe(before.la[src]);
        if (labels[v] !== Tissue.LaWall) expect(labels[v]).toBe(before.labels[src]);
      }
    // Every scar voxel left is within the shell of the moved cavity; the rest became wall.
    const q = quantifyStudy(makeVolume(g, la), makeVolume(g, scar), {
      wallMm: 3,
      wallInsideMm: 0,
    });
    expect(q.scarInWallVoxels).toBe(q.scarVoxels);
    expect(result.scarDropped).toBeGreaterThan(0);
    let wall = 0;
    for (const t of labels) if (t === Tissue.LaWall) wall++;
    expect(wall).toBe(result.scarDropped);
  });
});
