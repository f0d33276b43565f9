/**
 * Voxelising shapes onto the case's grid: each shape is evaluated only on the voxels of its own
 * bounding box, at voxel centres, so a structure costs what it covers, not the whole volume.
 */
import { type Geometry, patientToVoxel } from '../volume.js';
import type { Box, Shape } from './shapes.js';

/** Inclusive voxel index ranges. */
export interface VoxelBox {
  readonly i0: number;
  readonly i1: number;
  readonly j0: number;
  readonly j1: number;
  readonly k0: number;
  readonly k1: number;
}

/** The voxels whose centres may fall inside an LPS box (empty when i1 < i0 etc.). */
export function voxelBox(g: Geometry, box: Box): VoxelBox {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const p = [
      c & 1 ? box.max[0] : box.min[0],
      c & 2 ? box.max[1] : box.min[1],
      c & 4 ? box.max[2] : box.min[2],
    ] as const;
    const v = patientToVoxel(g, p);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, v[a]!);
      hi[a] = Math.max(hi[a]!, v[a]!);
    }
  }
  const clampLo = (x: number): number => Math.max(0, Math.floor(x));
  const clampHi = (x: number, n: number): number => Math.min(n - 1, Math.ceil(x));
  return {
    i0: clampLo(lo[0]!),
    i1: clampHi(hi[0]!, g.dims[0]),
    j0: clampLo(lo[1]!),
    j1: clampHi(hi[1]!, g.dims[1]),
    k0: clampLo(lo[2]!),
    k1: clampHi(hi[2]!, g.dims[2]),
  };
}

export function isEmpty(b: VoxelBox): boolean {
  return b.i1 < b.i0 || b.j1 < b.j0 || b.k1 < b.k0;
}

/**
 * Calls visit(index, x, y, z, local) for every voxel of `vb` with its LPS centre; `local` counts
 * voxels in box order (i fastest), i.e. the index into a dense copy of the box. Walks rows with
 * incremental positions (no matrix product per voxel).
 */
export function forEachVoxel(
  g: Geometry,
  vb: VoxelBox,
  visit: (index: number, x: number, y: number, z: number, local: number) => void,
): void {
  if (isEmpty(vb)) return;
  const [nx, ny] = g.dims;
  const [di, dj, dk] = g.direction;
  const [si, sj, sk] = g.spacing;
  const ax = di[0] * si;
  const ay = di[1] * si;
  const az = di[2] * si;
  let local = 0;
  for (let k = vb.k0; k <= vb.k1; k++) {
    for (let j = vb.j0; j <= vb.j1; j++) {
      const bx = g.origin[0] + j * sj * dj[0] + k * sk * dk[0];
      const by = g.origin[1] + j * sj * dj[1] + k * sk * dk[1];
      const bz = g.origin[2] + j * sj * dj[2] + k * sk * dk[2];
      const row = nx * (j + ny * k);
      for (let i = vb.i0; i <= vb.i1; i++) {
        visit(row + i, bx + i * ax, by + i * ay, bz + i * az, local++);
      }
    }
  }
}

/**
 * Calls visit(index, x, y, z) for the voxels whose centres lie in the LPS box `box`. Each row
 * is clipped to the box analytically (a row is a line in patient space), so on an oblique grid
 * the work stays proportional to the box, not to its larger bounding box in voxel space.
 */
export function forEachVoxelInBox(
  g: Geometry,
  box: Box,
  visit: (index: number, x: number, y: number, z: number) => void,
): void {
  const vb = voxelBox(g, box);
  if (isEmpty(vb)) return;
  const [nx, ny] = g.dims;
  const [di, dj, dk] = g.direction;
  const [si, sj, sk] = g.spacing;
  const step = [di[0] * si, di[1] * si, di[2] * si];
  for (let k = vb.k0; k <= vb.k1; k++) {
    for (let j = vb.j0; j <= vb.j1; j++) {
      const base = [
        g.origin[0] + j * sj * dj[0] + k * sk * dk[0],
        g.origin[1] + j * sj * dj[1] + k * sk * dk[1],
        g.origin[2] + j * sj * dj[2] + k * sk * dk[2],
      ];
      let lo = vb.i0;
      let hi = vb.i1;
      for (let a = 0; a < 3 && lo <= hi; a++) {
        const s = step[a]!;
        const b = base[a]!;
        if (Math.abs(s) < 1e-12) {
          if (b < box.min[a]! || b > box.max[a]!) hi = lo - 1;
          continue;
        }
        const t0 = (box.min[a]! - b) / s;
        const t1 = (box.max[a]! - b) / s;
        lo = Math.max(lo, Math.ceil(Math.min(t0, t1) - 1e-9));
        hi = Math.min(hi, Math.floor(Math.max(t0, t1) + 1e-9));
      }
      const row = nx * (j + ny * k);
      for (let i = lo; i <= hi; i++)
        visit(row + i, base[0]! + i * step[0]!, base[1]! + i * step[1]!, base[2]! + i * step[2]!);
    }
  }
}

/**
 * Paints `tissue` into `labels` wherever `shape` holds. `keep` (optional, indexed by the class
 * already there) marks classes that must not be painted over.
 */
export function paint(
  g: Geometry,
  labels: Uint8Array,
  shape: Shape,
  tissue: number,
  keep?: Uint8Array,
): void {
  const inside = shape.inside;
  forEachVoxelInBox(g, shape.box, (index, x, y, z) => {
    if (keep && keep[labels[index]!]) return;
    if (inside(x, y, z)) labels[index] = tissue;
  });
}

/** A class lookup (1 = listed) for `paint`'s keep argument. */
export function classSet(classes: readonly number[], size = 256): Uint8Array {
  const set = new Uint8Array(size);
  for (const c of classes) set[c] = 1;
  return set;
}

/** Like `paint`, but the class is chosen per voxel (e.g. fat or soft tissue by a noise field). */
export function paintBy(
  g: Geometry,
  labels: Uint8Array,
  shape: Shape,
  classify: (x: number, y: number, z: number) => number,
  keep?: Uint8Array,
): void {
  const inside = shape.inside;
  forEachVoxelInBox(g, shape.box, (index, x, y, z) => {
    if (keep && keep[labels[index]!]) return;
    if (inside(x, y, z)) labels[index] = classify(x, y, z);
  });
}
