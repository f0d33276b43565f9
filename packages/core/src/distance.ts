/**
 * Exact Euclidean distance transforms on anisotropic voxel grids.
 *
 * Felzenszwalb & Huttenlocher (2012), "Distance Transforms of Sampled Functions": the squared
 * EDT is separable, so it is three 1-D passes (i, then j, then k), each the lower envelope of
 * parabolas rooted at the samples of the previous pass. Linear in the voxel count, exact (not a
 * chamfer approximation). Positions along a line are in mm, so anisotropic spacing is exact too.
 *
 * Each line is worked in float64; between passes the squared distances are kept in float32 to
 * halve the memory of a 36 M-voxel volume (relative error ~6e-8 of the squared distance).
 */

import type { Vec3 } from './volume.js';

/** A half-open voxel box: min inclusive, max exclusive, per axis (i, j, k). */
export interface VoxelBox {
  readonly min: Vec3;
  readonly max: Vec3;
}

/**
 * For every voxel, the exact Euclidean distance in mm to the nearest voxel where `mask` != 0.
 * 0 on the mask itself; Infinity everywhere when the mask is empty.
 */
export function distanceTransformMm(mask: Uint8Array, dims: Vec3, spacing: Vec3): Float32Array {
  const out = squaredDistanceTransformMm(mask, dims, spacing);
  for (let v = 0; v < out.length; v++) out[v] = Math.sqrt(out[v]!);
  return out;
}

/** As distanceTransformMm, but squared distances (mm^2): cheaper when only comparisons are needed. */
export function squaredDistanceTransformMm(
  mask: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
): Float32Array {
  checkGrid(mask.length, dims, spacing);
  const f = new Float32Array(mask.length);
  for (let v = 0; v < mask.length; v++) f[v] = mask[v] !== 0 ? 0 : Infinity;
  squaredEdtInPlace(f, dims, spacing);
  return f;
}

/**
 * The distance transform computed only on a sub-box of the grid: returns a Float32Array of the
 * box's size (index = (i - min_i) + bx * ((j - min_j) + by * (k - min_k))) holding, for each box
 * voxel, the distance in mm to the nearest mask voxel INSIDE THE BOX. This equals the full-grid
 * distance whenever every mask voxel lies in the box (e.g. the box is the mask's bounding box
 * grown by a margin), at a fraction of the cost and memory.
 * `toZero`: distances to the nearest ZERO voxel of the box instead (depth inside the mask).
 */
export function distanceTransformMmInBox(
  mask: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  box: VoxelBox,
  squared = false,
  toZero = false,
): Float32Array {
  checkGrid(mask.length, dims, spacing);
  const [bx, by, bz] = boxDims(box, dims);
  const [x0, y0, z0] = box.min;
  const f = new Float32Array(bx * by * bz);
  let o = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = x0 + dims[0] * (y0 + j + dims[1] * (z0 + k));
      for (let i = 0; i < bx; i++) f[o++] = (mask[row + i] !== 0) !== toZero ? 0 : Infinity;
    }
  }
  squaredEdtInPlace(f, [bx, by, bz], spacing);
  if (!squared) for (let v = 0; v < f.length; v++) f[v] = Math.sqrt(f[v]!);
  return f;
}

/** Box sizes [bx, by, bz], after checking the box lies within the grid and is not empty. */
export function boxDims(box: VoxelBox, dims: Vec3): Vec3 {
  const size = [0, 1, 2].map((a) => box.max[a]! - box.min[a]!) as unknown as Vec3;
  for (let a = 0; a < 3; a++) {
    if (
      !Number.isInteger(box.min[a]) ||
      !Number.isInteger(box.max[a]) ||
      box.min[a]! < 0 ||
      box.max[a]! > dims[a]! ||
      size[a]! < 1
    ) {
      throw new RangeError(
        `box ${box.min.join(',')}..${box.max.join(',')} is not a non-empty box inside ${dims.join(' x ')}`,
      );
    }
  }
  return size;
}

/**
 * The separable squared EDT, in place. `f` holds 0 on features and Infinity elsewhere (or any
 * non-negative sampled function: the result is min_q (|x - q|^2 + f(q)) with x, q in mm).
 */
export function squaredEdtInPlace(f: Float32Array, dims: Vec3, spacing: Vec3): void {
  checkGrid(f.length, dims, spacing);
  const [nx, ny, nz] = dims;
  const maxN = Math.max(nx, ny, nz);
  const work: LineWork = {
    line: new Float64Array(maxN),
    out: new Float64Array(maxN),
    v: new Int32Array(maxN),
    z: new Float64Array(maxN + 1),
  };
  // Pass along i: contiguous lines. A 1-voxel-long axis needs no pass (one parabola is its own envelope).
  if (nx > 1) {
    for (let base = 0; base < f.length; base += nx) passLine(f, base, 1, nx, spacing[0], work);
  }
  if (ny > 1) {
    for (let k = 0; k < nz; k++) {
      for (let i = 0; i < nx; i++) passLine(f, i + nx * ny * k, nx, ny, spacing[1], work);
    }
  }
  if (nz > 1) {
    const plane = nx * ny;
    for (let base = 0; base < plane; base++) passLine(f, base, plane, nz, spacing[2], work);
  }
}

interface LineWork {
  line: Float64Array;
  out: Float64Array;
  v: Int32Array;
  z: Float64Array;
}

/** One 1-D lower-envelope pass over n samples of f starting at `base` with `stride`. */
function passLine(
  f: Float32Array,
  base: number,
  stride: number,
  n: number,
  s: number,
  w: LineWork,
): void {
  const { line, out, v, z } = w;
  let any = false;
  let allZero = true;
  for (let q = 0, p = base; q < n; q++, p += stride) {
    const value = f[p]!;
    line[q] = value;
    if (value !== Infinity) any = true;
    if (value !== 0) allZero = false;
  }
  if (!any || allZero) return; // nothing to propagate: the line stays as it is
  // Lower envelope of the parabolas y = (x - q s)^2 + f(q), skipping infinite samples.
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = line[q]!;
    if (fq === Infinity) continue;
    const xq = q * s;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    let sect: number;
    for (;;) {
      const p = v[k]!;
      const xp = p * s;
      sect = (fq + xq * xq - (line[p]! + xp * xp)) / (2 * (xq - xp));
      // z[0] is -Infinity and sect is finite, so this stops at k = 0 at the latest.
      if (sect > z[k]!) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = sect;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    const x = q * s;
    while (z[k + 1]! < x) k++;
    const p = v[k]!;
    const d = x - p * s;
    out[q] = d * d + line[p]!;
  }
  for (let q = 0, p = base; q < n; q++, p += stride) f[p] = out[q]!;
}

function checkGrid(length: number, dims: Vec3, spacing: Vec3): void {
  if (!dims.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`dimensions must be positive integers, got ${dims.join(' x ')}`);
  }
  if (!spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`spacing must be positive, got ${spacing.join(' x ')} mm`);
  }
  if (length !== dims[0] * dims[1] * dims[2]) {
    throw new RangeError(
      `array has ${length} values but the grid ${dims.join(' x ')} needs ${dims[0] * dims[1] * dims[2]}`,
    );
  }
}
