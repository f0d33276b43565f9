import { describe, expect, it } from 'vitest';
import {
  postprocessLaMask,
  postprocessLaProbabilities,
  thresholdProbabilities,
} from './la-postprocess.js';
import type { Vec3 } from './volume.js';

describe('thresholdProbabilities', () => {
  it('is strict: exactly 0.5 is background', () => {
    expect(Array.from(thresholdProbabilities([0, 0.5, 0.5000001, 1]))).toEqual([0, 0, 1, 1]);
    expect(Array.from(thresholdProbabilities([0.2, 0.3], 0.25))).toEqual([0, 1]);
  });
});

describe('postprocessLaProbabilities', () => {
  // 5 x 5 x 3: a 2 x 2 x 3 body (12 voxels), a diagonal neighbour at a corner, a far island.
  const dims: Vec3 = [5, 5, 3];
  const probabilities = new Float32Array(75);
  const at = (i: number, j: number, k: number): number => i + 5 * (j + 5 * k);
  for (let k = 0; k < 3; k++)
    for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) probabilities[at(i, j, k)] = 0.9;
  probabilities[at(2, 2, 2)] = 0.8; // touches (1, 1, 2) along an in-plane diagonal only
  probabilities[at(4, 4, 0)] = 0.7; // island
  probabilities[at(4, 0, 0)] = 0.4; // below threshold

  it('keeps the largest 26-connected component by default', () => {
    const out = postprocessLaProbabilities(probabilities, dims);
    expect(out.reduce((a, b) => a + b, 0)).toBe(13);
    expect(out[at(2, 2, 2)]).toBe(1);
    expect(out[at(4, 4, 0)]).toBe(0);
  });

  it('honours 6-connectivity and "all"', () => {
    expect(
      postprocessLaProbabilities(probabilities, dims, { largestComponent: 6 }).reduce(
        (a, b) => a + b,
        0,
      ),
    ).toBe(12);
    const all = postprocessLaProbabilities(probabilities, dims, { largestComponent: 'all' });
    expect(all.reduce((a, b) => a + b, 0)).toBe(14);
    expect(all[at(4, 0, 0)]).toBe(0);
  });

  it('does not modify its input mask', () => {
    const mask = thresholdProbabilities(probabilities);
    const copy = mask.slice();
    postprocessLaMask(mask, dims);
    expect(mask).toEqual(copy);
  });
});
