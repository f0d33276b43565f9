/**
 * Key-slice pictures for the dashboard: a few source slices (where the LA is largest, where the
 * scar is largest, and midway through the LA) with the LA outline in green and the scar filled in
 * red, at the source resolution, as PNG. Rows run top to bottom as stored (the viewer's view).
 */
import type { Mask, Volume, VoxelArray } from '@lascar/core';
import { PNG } from 'pngjs';
import type { OverlayData } from '@lascar/db';

const LA_OUTLINE = [40, 230, 80] as const;
const SCAR_FILL = [255, 40, 30] as const;
const SCAR_ALPHA = 0.55;

function countPerSlice(mask: Mask): number[] {
  const [nx, ny, nz] = mask.geometry.dims;
  const counts = new Array<number>(nz).fill(0);
  const plane = nx * ny;
  for (let k = 0; k < nz; k++) {
    let c = 0;
    const off = k * plane;
    for (let p = 0; p < plane; p++) c += mask.data[off + p]! ? 1 : 0;
    counts[k] = c;
  }
  return counts;
}

function argmax(xs: readonly number[]): number {
  let best = -1;
  let at = -1;
  xs.forEach((v, i) => {
    if (v > best) {
      best = v;
      at = i;
    }
  });
  return at;
}

/** Slices worth showing: largest LA, largest scar, middle of the LA (distinct, in slice order). */
export function keySlices(la: Mask, scar: Mask, max = 3): number[] {
  const laCounts = countPerSlice(la);
  const scarCounts = countPerSlice(scar);
  const picks: number[] = [];
  const add = (k: number) => {
    if (k >= 0 && !picks.includes(k) && picks.length < max) picks.push(k);
  };
  if (laCounts.some((c) => c > 0)) add(argmax(laCounts));
  if (scarCounts.some((c) => c > 0)) add(argmax(scarCounts));
  const withLa = laCounts.flatMap((c, k) => (c > 0 ? [k] : []));
  if (withLa.length > 0) add(withLa[Math.floor(withLa.length / 2)]!);
  if (picks.length === 0) add(Math.floor(la.geometry.dims[2] / 2));
  return picks.sort((a, b) => a - b);
}

/** One slice as RGBA: grey levels windowed to the slice's 1st-99th percentile, then overlays. */
export function renderKeySlice(
  image: Volume<VoxelArray>,
  la: Mask,
  scar: Mask,
  k: number,
): { width: number; height: number; rgba: Uint8Array } {
  const [nx, ny] = image.geometry.dims;
  const plane = nx * ny;
  const off = k * plane;
  const values = Float64Array.from(image.data.subarray(off, off + plane) as ArrayLike<number>);
  const sorted = Float64Array.from(values).sort();
  const lo = sorted[Math.floor(0.01 * (plane - 1))]!;
  const hi = sorted[Math.floor(0.99 * (plane - 1))]!;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const rgba = new Uint8Array(plane * 4);
  const inLa = (i: number, j: number) =>
    i >= 0 && j >= 0 && i < nx && j < ny && la.data[off + i + nx * j]! !== 0;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const p = i + nx * j;
      const g = Math.max(0, Math.min(255, (values[p]! - lo) * scale));
      let r = g;
      let gr = g;
      let b = g;
      if (scar.data[off + p]) {
        r = g * (1 - SCAR_ALPHA) + SCAR_FILL[0] * SCAR_ALPHA;
        gr = g * (1 - SCAR_ALPHA) + SCAR_FILL[1] * SCAR_ALPHA;
        b = g * (1 - SCAR_ALPHA) + SCAR_FILL[2] * SCAR_ALPHA;
      }
      if (
        inLa(i, j) &&
        (!inLa(i - 1, j) || !inLa(i + 1, j) || !inLa(i, j - 1) || !inLa(i, j + 1))
      ) {
        [r, gr, b] = LA_OUTLINE;
      }
      rgba[4 * p] = r;
      rgba[4 * p + 1] = gr;
      rgba[4 * p + 2] = b;
      rgba[4 * p + 3] = 255;
    }
  }
  return { width: nx, height: ny, rgba };
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}

export function keySliceOverlays(image: Volume<VoxelArray>, la: Mask, scar: Mask): OverlayData[] {
  return keySlices(la, scar).map((k) => {
    const { width, height, rgba } = renderKeySlice(image, la, scar, k);
    return { sliceIndex: k, width, height, png: encodePng(width, height, rgba) };
  });
}
