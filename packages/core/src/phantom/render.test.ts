import { describe, expect, it } from 'vitest';
import { blurAxis, nonZeroBox } from './render.js';

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
