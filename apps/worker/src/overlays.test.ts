import type { Geometry, Mask, Volume } from '@lascar/core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { keySliceOverlays, keySlices, renderKeySlice } from './overlays.js';

const geometry = (nx: number, ny: number, nz: number): Geometry =>
  ({
    dims: [nx, ny, nz],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  }) as unknown as Geometry;

function masks() {
  const g = geometry(16, 16, 6);
  const la: Mask = { geometry: g, data: new Uint8Array(16 * 16 * 6) };
  const scar: Mask = { geometry: g, data: new Uint8Array(16 * 16 * 6) };
  const image: Volume = { geometry: g, data: new Float32Array(16 * 16 * 6).map((_, n) => n % 97) };
  // LA: a 4 x 4 square on slices 1..3, largest (6 x 6) on slice 2; scar: 3 pixels on slice 3.
  const box = (k: number, lo: number, hi: number) => {
    for (let j = lo; j < hi; j++) for (let i = lo; i < hi; i++) la.data[i + 16 * (j + 16 * k)] = 1;
  };
  box(1, 6, 10);
  box(2, 5, 11);
  box(3, 6, 10);
  for (const i of [6, 7, 8]) scar.data[i + 16 * (6 + 16 * 3)] = 1;
  return { image, la, scar };
}

describe('key-slice overlays', () => {
  it('picks the slice with the largest LA, the one with the most scar, and the middle one', () => {
    const { la, scar } = masks();
    expect(keySlices(la, scar)).toEqual([2, 3]);
  });

  it('draws the LA outline in green and fills the scar in red', () => {
    const { image, la, scar } = masks();
    const { rgba, width } = renderKeySlice(image, la, scar, 3);
    const px = (i: number, j: number) =>
      Array.from(rgba.subarray(4 * (i + width * j), 4 * (i + width * j) + 4));
    expect(px(6, 6)).toEqual([40, 230, 80, 255]); // LA boundary (also scar: the outline wins)
    const [r, g, b] = px(8, 8); // inside the LA, no scar: grey
    expect(r).toBe(g);
    expect(g).toBe(b);
    const scarInside = renderKeySlice(
      image,
      { ...la, data: new Uint8Array(la.data.length) },
      scar,
      3,
    );
    const s = Array.from(scarInside.rgba.subarray(4 * (7 + 16 * 6), 4 * (7 + 16 * 6) + 3));
    expect(s[0]!).toBeGreaterThan(s[1]!);
    expect(s[0]!).toBeGreaterThan(s[2]!);
  });

  it('encodes PNGs of the source size', () => {
    const { image, la, scar } = masks();
    const overlays = keySliceOverlays(image, la, scar);
    expect(overlays.map((o) => o.sliceIndex)).toEqual([2, 3]);
    const png = PNG.sync.read(Buffer.from(overlays[0]!.png));
    expect([png.width, png.height]).toEqual([16, 16]);
  });
});
