/**
 * Connected-component labelling (CCA) on binary masks, 2D per slice or 3D, in linear time.
 *
 * Two-pass union-find labelling: the first raster pass gives each foreground voxel the label of
 * an already-visited neighbour (merging labels where neighbours disagree), the second pass
 * resolves every provisional label to its set's representative. With path halving the cost is
 * effectively linear in the voxel count, and memory is one Int32 per voxel plus one per
 * provisional label, with no recursion or queues that could grow with component size.
 */

import { anyNonZero, cropMask, nonZeroBox } from './mask-scan.js';
import type { Vec3 } from './volume.js';

/**
 * Neighbourhoods: 4 and 8 are in-plane (each slice k labelled on its own, as the paper's scar CCA
 * does); 6 (faces), 18 (faces + edges) and 26 (faces + edges + corners) are 3D.
 */
export type Connectivity = 4 | 8 | 6 | 18 | 26;
export type Connectivity3D = 6 | 18 | 26;

export interface ComponentLabels {
  /** Per voxel: 0 for background, else the component's label 1..count. */
  readonly labels: Int32Array;
  /** Number of components. Labels are numbered in raster order of each component's first voxel. */
  readonly count: number;
  /** sizes[label] = voxel count of that component; sizes[0] = 0. */
  readonly sizes: Int32Array;
}

/** The already-visited neighbour offsets (di, dj, dk) of a raster scan, for a connectivity. */
function backwardOffsets(connectivity: Connectivity): Array<[number, number, number]> {
  const planar = connectivity === 4 || connectivity === 8;
  const maxManhattan =
    connectivity === 4 || connectivity === 6
      ? 1
      : connectivity === 18 || connectivity === 8
        ? 2
        : 3;
  const out: Array<[number, number, number]> = [];
  for (let dk = planar ? 0 : -1; dk <= 0; dk++) {
    for (let dj = -1; dj <= 1; dj++) {
      for (let di = -1; di <= 1; di++) {
        const before = dk < 0 || (dk === 0 && (dj < 0 || (dj === 0 && di < 0)));
        if (!before) continue;
        if (Math.abs(di) + Math.abs(dj) + Math.abs(dk) > maxManhattan) continue;
        out.push([di, dj, dk]);
      }
    }
  }
  return out;
}

function checkConnectivity(c: number): asserts c is Connectivity {
  if (c !== 4 && c !== 8 && c !== 6 && c !== 18 && c !== 26) {
    throw new RangeError(`connectivity must be 4 or 8 (per slice) or 6, 18 or 26 (3D), got ${c}`);
  }
}

/**
 * Labels the connected components of the non-zero voxels of `mask` (memory index
 * i + nx * (j + ny * k)). With connectivity 4 or 8, each slice k is labelled on its own (a
 * component never spans slices); labels stay unique across the volume.
 *
 * `out`, when given, must have the mask's length and is overwritten (lets per-slice callers reuse
 * one buffer).
 */
export function labelComponents(
  mask: ArrayLike<number>,
  dims: Vec3,
  connectivity: Connectivity,
  out?: Int32Array,
): ComponentLabels {
  checkConnectivity(connectivity);
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n) {
    throw new RangeError(
      `mask has ${mask.length} voxels but the grid ${dims.join(' x ')} needs ${n}`,
    );
  }
  if (out && out.length !== n) {
    throw new RangeError(`label buffer has ${out.length} entries, expected ${n}`);
  }
  const labels = out ?? new Int32Array(n);
  const offsets = backwardOffsets(connectivity);
  const delta = offsets.map(([di, dj, dk]) => di + nx * (dj + ny * dk));
  // Which offsets need which bounds checks; precomputed so the inner loop only tests flags.
  const needLeft = offsets.map(([di]) => di < 0);
  const needRight = offsets.map(([di]) => di > 0);
  const needUp = offsets.map(([, dj]) => dj < 0);
  const needDown = offsets.map(([, dj]) => dj > 0);
  const needPrevSlice = offsets.map(([, , dk]) => dk < 0);
  const m = offsets.length;

  // Provisional labels can never outnumber the foreground voxels; grow on demand instead of
  // allocating n entries up front (a sparse mask stays cheap).
  let parent = new Int32Array(1024);
  let next = 1;

  const find = (x: number): number => {
    while (parent[x]! !== x) {
      const p = parent[parent[x]!]!;
      parent[x] = p; // path halving
      x = p;
    }
    return x;
  };

  let v = 0;
  for (let k = 0; k < nz; k++) {
    const hasPrevSlice = k > 0;
    for (let j = 0; j < ny; j++) {
      const hasUp = j > 0;
      const hasDown = j < ny - 1;
      for (let i = 0; i < nx; i++, v++) {
        if (mask[v] === 0) {
          labels[v] = 0;
          continue;
        }
        const hasLeft = i > 0;
        const hasRight = i < nx - 1;
        let label = 0;
        for (let o = 0; o < m; o++) {
          if (needLeft[o] && !hasLeft) continue;
          if (needRight[o] && !hasRight) continue;
          if (needUp[o] && !hasUp) continue;
          if (needDown[o] && !hasDown) continue;
          if (needPrevSlice[o] && !hasPrevSlice) continue;
          const l = labels[v + delta[o]!]!;
          if (l === 0) continue;
          if (label === 0) {
            label = find(l);
          } else {
            const r = find(l);
            // Union towards the smaller label: roots stay the first-created label of their set.
            if (r < label) {
              parent[label] = r;
              label = r;
            } else if (r > label) {
              parent[r] = label;
            }
          }
        }
        if (label === 0) {
          if (next >= parent.length) {
            const grown = new Int32Array(parent.length * 2);
            grown.set(parent);
            parent = grown;
          }
          label = next++;
          parent[label] = label;
        }
        labels[v] = label;
      }
    }
  }

  // Resolve provisional labels to consecutive final labels. parent[l] < l for non-roots, so
  // walking l upwards always finds the root's final label already assigned.
  const final = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    final[l] = parent[l] === l ? ++count : final[find(l)]!;
  }
  const sizes = new Int32Array(count + 1);
  for (let w = 0; w < n; w++) {
    const l = labels[w]!;
    if (l === 0) continue;
    const f = final[l]!;
    labels[w] = f;
    sizes[f]!++;
  }
  return { labels, count, sizes };
}

/**
 * Keeps only the largest connected component (ties: the one whose first voxel comes first in
 * raster order). Returns a new 0/1 mask; an empty mask stays empty.
 *
 * Labelling runs on the foreground's bounding box only, so a small LA in a big volume costs
 * little memory.
 */
export function keepLargestComponent(
  mask: Uint8Array,
  dims: Vec3,
  connectivity: Connectivity = 26,
): Uint8Array {
  checkConnectivity(connectivity);
  const [nx, ny, nz] = dims;
  if (mask.length !== nx * ny * nz) {
    throw new RangeError(
      `mask has ${mask.length} voxels but the grid ${dims.join(' x ')} needs ${nx * ny * nz}`,
    );
  }
  const out = new Uint8Array(mask.length);
  const box = nonZeroBox(mask, dims);
  if (!box) return out;
  const { x0, y0, z0, bx, by, bz } = box;
  const { labels, count, sizes } = labelComponents(
    cropMask(mask, dims, box),
    [bx, by, bz],
    connectivity,
  );
  let best = 0;
  for (let l = 1; l <= count; l++) if (sizes[l]! > (best === 0 ? 0 : sizes[best]!)) best = l;
  let o = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = x0 + nx * (y0 + j + ny * (z0 + k));
      for (let i = 0; i < bx; i++, o++) if (labels[o] === best) out[row + i] = 1;
    }
  }
  return out;
}

export interface ComponentSizeFilter {
  /** Components with fewer pixels are dropped (paper: 10). */
  readonly minPixels?: number;
  /** Components with more pixels are dropped (paper: 450). */
  readonly maxPixels?: number;
}

export const SCAR_COMPONENT_MIN_PIXELS = 10;
export const SCAR_COMPONENT_MAX_PIXELS = 450;

/**
 * The paper's scar clean-up: 4-connected components per 2D slice, keeping those with
 * minPixels <= size <= maxPixels (defaults 10 and 450; "fewer than 10 or more than 450" are
 * dropped). Why per slice: the paper applies it to its 2D slice-by-slice predictions, and its
 * pixel limits are 2D areas. Returns a new 0/1 mask.
 *
 * Works one slice at a time on that slice's foreground box, so memory stays one slice's worth.
 */
export function filterComponentsPerSlice(
  mask: Uint8Array,
  dims: Vec3,
  filter: ComponentSizeFilter = {},
  connectivity: 4 | 8 = 4,
): Uint8Array {
  const minPixels = filter.minPixels ?? SCAR_COMPONENT_MIN_PIXELS;
  const maxPixels = filter.maxPixels ?? SCAR_COMPONENT_MAX_PIXELS;
  if (!(minPixels >= 0) || !(maxPixels >= minPixels)) {
    throw new RangeError(
      `component size limits must satisfy 0 <= min <= max, got ${minPixels}..${maxPixels}`,
    );
  }
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  if (mask.length !== nxy * nz) {
    throw new RangeError(
      `mask has ${mask.length} voxels but the grid ${dims.join(' x ')} needs ${nxy * nz}`,
    );
  }
  const out = new Uint8Array(mask.length);
  for (let k = 0; k < nz; k++) {
    if (!anyNonZero(mask, k * nxy, (k + 1) * nxy)) continue; // most slices carry no scar
    // Label only the slice's foreground box: scar occupies a sliver of a slice.
    const slice = mask.subarray(k * nxy, (k + 1) * nxy);
    const box = nonZeroBox(slice, [nx, ny, 1])!;
    const { labels, sizes, count } = labelComponents(
      cropMask(slice, [nx, ny, 1], box),
      [box.bx, box.by, 1],
      connectivity,
    );
    const keep = new Uint8Array(count + 1);
    for (let l = 1; l <= count; l++)
      keep[l] = sizes[l]! >= minPixels && sizes[l]! <= maxPixels ? 1 : 0;
    let o = 0;
    for (let j = 0; j < box.by; j++) {
      const row = k * nxy + box.x0 + nx * (box.y0 + j);
      for (let i = 0; i < box.bx; i++, o++) if (keep[labels[o]!] === 1) out[row + i] = 1; // keep[0] = 0: background
    }
  }
  return out;
}
