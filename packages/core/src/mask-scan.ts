/**
 * Fast scans of byte masks. An LA or scar mask is mostly zeros (a 90 mL LA is ~0.5 % of an
 * 88 x 640 x 640 study), so the scans read four bytes at a time and only look closer at the rare
 * non-zero words: whole-volume passes then cost a few milliseconds instead of ~100.
 */

import type { Vec3 } from './volume.js';

/**
 * Calls visit(index) for every non-zero byte of mask[start, end), in increasing order.
 */
export function forEachNonZero(
  mask: Uint8Array,
  visit: (index: number) => void,
  start = 0,
  end = mask.length,
): void {
  let v = start;
  // Bytes until the absolute byte address is 4-aligned.
  while (v < end && (mask.byteOffset + v) % 4 !== 0) {
    if (mask[v] !== 0) visit(v);
    v++;
  }
  const words = Math.floor((end - v) / 4);
  if (words > 0) {
    const view = new Uint32Array(mask.buffer, mask.byteOffset + v, words);
    for (let w = 0; w < words; w++) {
      if (view[w] === 0) continue;
      const b = v + 4 * w;
      if (mask[b] !== 0) visit(b);
      if (mask[b + 1] !== 0) visit(b + 1);
      if (mask[b + 2] !== 0) visit(b + 2);
      if (mask[b + 3] !== 0) visit(b + 3);
    }
    v += 4 * words;
  }
  for (; v < end; v++) if (mask[v] !== 0) visit(v);
}

/** Number of non-zero bytes in mask[start, end). */
export function countNonZeroBytes(mask: Uint8Array, start = 0, end = mask.length): number {
  let n = 0;
  forEachNonZero(mask, () => n++, start, end);
  return n;
}

/** Whether mask[start, end) holds any non-zero byte. */
export function anyNonZero(mask: Uint8Array, start = 0, end = mask.length): boolean {
  let v = start;
  while (v < end && (mask.byteOffset + v) % 4 !== 0) if (mask[v++] !== 0) return true;
  const words = Math.floor((end - v) / 4);
  if (words > 0) {
    const view = new Uint32Array(mask.buffer, mask.byteOffset + v, words);
    for (let w = 0; w < words; w++) if (view[w] !== 0) return true;
    v += 4 * words;
  }
  for (; v < end; v++) if (mask[v] !== 0) return true;
  return false;
}

/** A voxel box: first voxel (x0, y0, z0) and sizes (bx, by, bz). */
export interface MaskBox {
  readonly x0: number;
  readonly y0: number;
  readonly z0: number;
  readonly bx: number;
  readonly by: number;
  readonly bz: number;
}

/** The bounding box of the non-zero voxels, or undefined when there are none. */
export function nonZeroBox(mask: Uint8Array, dims: Vec3): MaskBox | undefined {
  const [nx, ny, nz] = dims;
  if (mask.length !== nx * ny * nz) {
    throw new RangeError(
      `mask has ${mask.length} voxels but the grid ${dims.join(' x ')} needs ${nx * ny * nz}`,
    );
  }
  const nxy = nx * ny;
  let x0 = nx, y0 = ny, z0 = nz, x1 = -1, y1 = -1, z1 = -1; // prettier-ignore
  forEachNonZero(mask, (v) => {
    const k = Math.floor(v / nxy);
    const r = v - k * nxy;
    const j = Math.floor(r / nx);
    const i = r - j * nx;
    if (i < x0) x0 = i;
    if (i > x1) x1 = i;
    if (j < y0) y0 = j;
    if (j > y1) y1 = j;
    if (k < z0) z0 = k;
    if (k > z1) z1 = k;
  });
  if (x1 < 0) return undefined;
  return { x0, y0, z0, bx: x1 - x0 + 1, by: y1 - y0 + 1, bz: z1 - z0 + 1 };
}

/** Copies the box out of a volume as 0/1 (index (i - x0) + bx * ((j - y0) + by * (k - z0))). */
export function cropMask(mask: Uint8Array, dims: Vec3, box: MaskBox): Uint8Array {
  const [nx, ny] = dims;
  const crop = new Uint8Array(box.bx * box.by * box.bz);
  let o = 0;
  for (let k = 0; k < box.bz; k++) {
    for (let j = 0; j < box.by; j++) {
      const row = box.x0 + nx * (box.y0 + j + ny * (box.z0 + k));
      for (let i = 0; i < box.bx; i++) crop[o++] = mask[row + i] !== 0 ? 1 : 0;
    }
  }
  return crop;
}
