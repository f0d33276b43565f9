/**
 * Segmentation metrics exactly as the LAScarQS 2022 evaluation computes them (medpy.metric.binary):
 *
 * - dice = 2|P∩T| / (|P| + |T|), jaccard = |P∩T| / |P∪T|
 * - sensitivity = TP / (TP + FN), specificity = TN / (TN + FP), TN counted over the whole grid
 * - surface of a mask = mask XOR erosion(mask) with the 6-connected cross and everything outside
 *   the grid taken as background (scipy's border_value = 0), so mask voxels on the grid's edge
 *   are surface voxels
 * - directed surface distances P->T: for each surface voxel of P, the exact Euclidean distance
 *   (voxel spacing in mm) to the nearest surface voxel of T
 * - hd = max of both directed maxima; hd95 = numpy.percentile(concat(P->T, T->P), 95) with
 *   linear interpolation; assd = (mean(P->T) + mean(T->P)) / 2
 *
 * "Voxel inside" means value != 0 (medpy casts to bool).
 *
 * Empty masks, where medpy raises or divides by zero, get defined values here:
 * - dice and jaccard: 1 when both masks are empty (perfect agreement on "nothing"), 0 when only
 *   one is (medpy's dc returns 0 for both empty; we say 1, as nnU-Net and the MSD do).
 * - sensitivity: null when the truth is empty (no positives to find); specificity: null when the
 *   truth fills the whole grid (no negatives).
 * - hd, hd95, assd: null when either mask is empty (no surface to measure from or to).
 *
 * Cost: the distance transforms run only on the bounding box of P ∪ T grown by one voxel, which is
 * exact because every surface voxel of either mask lies inside it; the full grid is only scanned
 * once, for the counts and the box.
 */

import { squaredEdtInPlace, type VoxelBox } from './distance.js';
import {
  gridMismatch,
  type Geometry,
  type Mask,
  type Vec3,
  type Volume,
  type VoxelArray,
} from './volume.js';

export interface SegmentationMetrics {
  /** Dice similarity coefficient, 0-1. */
  readonly dice: number;
  /** Jaccard index (intersection over union), 0-1. */
  readonly jaccard: number;
  /** TP / (TP + FN); null when the truth is empty. */
  readonly sensitivity: number | null;
  /** TN / (TN + FP) over the whole grid; null when the truth covers every voxel. */
  readonly specificity: number | null;
  /** Symmetric Hausdorff distance between the surfaces, mm; null when either mask is empty. */
  readonly hausdorffMm: number | null;
  /** 95th percentile of the pooled directed surface distances, mm; null when either is empty. */
  readonly hausdorff95Mm: number | null;
  /** Average symmetric surface distance, mm; null when either mask is empty. */
  readonly assdMm: number | null;
  readonly predVoxels: number;
  readonly truthVoxels: number;
  readonly intersectionVoxels: number;
  /** Voxels in the whole grid (the TN denominator depends on it). */
  readonly gridVoxels: number;
}

/** Voxel counts of a prediction against a truth. */
export interface OverlapCounts {
  readonly truePositive: number;
  readonly falsePositive: number;
  readonly falseNegative: number;
  readonly trueNegative: number;
}

/** Directed surface distances in mm, one value per surface voxel of the "from" mask. */
export interface SurfaceDistances {
  /** For each surface voxel of pred, the distance to the nearest surface voxel of truth. */
  readonly predToTruth: Float64Array;
  /** For each surface voxel of truth, the distance to the nearest surface voxel of pred. */
  readonly truthToPred: Float64Array;
}

/** Two masks on different voxel grids: never resampled, always an error. */
export class GridMismatchError extends Error {
  override name = 'GridMismatchError';
}

type BinaryVolume = Volume<VoxelArray>;

/** All the LAScarQS metrics of a predicted mask against a ground truth on the same grid. */
export function evaluateSegmentation(pred: BinaryVolume, truth: BinaryVolume): SegmentationMetrics {
  checkSameGrid(pred.geometry, truth.geometry);
  const scan = scanMasks(pred.data, truth.data, pred.geometry.dims);
  const counts = scan.counts;
  const distances =
    scan.box && countsHaveBoth(counts) ? surfaceDistancesInBox(pred, truth, scan.box) : undefined;
  const predVoxels = counts.truePositive + counts.falsePositive;
  const truthVoxels = counts.truePositive + counts.falseNegative;
  return {
    ...overlapMetrics(counts),
    hausdorffMm: distances ? hausdorffOf(distances) : null,
    hausdorff95Mm: distances ? hausdorff95Of(distances) : null,
    assdMm: distances ? assdOf(distances) : null,
    predVoxels,
    truthVoxels,
    intersectionVoxels: counts.truePositive,
    gridVoxels: pred.data.length,
  };
}

/** TP, FP, FN, TN of pred against truth (voxels != 0 are inside). */
export function overlapCounts(pred: BinaryVolume, truth: BinaryVolume): OverlapCounts {
  checkSameGrid(pred.geometry, truth.geometry);
  return scanMasks(pred.data, truth.data, pred.geometry.dims).counts;
}

/** Dice: 1 when both masks are empty, 0 when only one is. */
export function dice(pred: BinaryVolume, truth: BinaryVolume): number {
  return overlapMetrics(overlapCounts(pred, truth)).dice;
}

/** Jaccard: 1 when both masks are empty, 0 when only one is. */
export function jaccard(pred: BinaryVolume, truth: BinaryVolume): number {
  return overlapMetrics(overlapCounts(pred, truth)).jaccard;
}

/** TP / (TP + FN), or null when the truth is empty. */
export function sensitivity(pred: BinaryVolume, truth: BinaryVolume): number | null {
  return overlapMetrics(overlapCounts(pred, truth)).sensitivity;
}

/** TN / (TN + FP) over the whole grid, or null when the truth covers every voxel. */
export function specificity(pred: BinaryVolume, truth: BinaryVolume): number | null {
  return overlapMetrics(overlapCounts(pred, truth)).specificity;
}

/** Directed surface distances both ways, or undefined when either mask is empty. */
export function surfaceDistances(
  pred: BinaryVolume,
  truth: BinaryVolume,
): SurfaceDistances | undefined {
  checkSameGrid(pred.geometry, truth.geometry);
  const scan = scanMasks(pred.data, truth.data, pred.geometry.dims);
  if (!scan.box || !countsHaveBoth(scan.counts)) return undefined;
  return surfaceDistancesInBox(pred, truth, scan.box);
}

/** Symmetric Hausdorff distance (mm), or null when either mask is empty. */
export function hausdorffMm(pred: BinaryVolume, truth: BinaryVolume): number | null {
  const d = surfaceDistances(pred, truth);
  return d ? hausdorffOf(d) : null;
}

/** 95th-percentile Hausdorff distance (mm), or null when either mask is empty. */
export function hausdorff95Mm(pred: BinaryVolume, truth: BinaryVolume): number | null {
  const d = surfaceDistances(pred, truth);
  return d ? hausdorff95Of(d) : null;
}

/** Average symmetric surface distance (mm), or null when either mask is empty. */
export function assdMm(pred: BinaryVolume, truth: BinaryVolume): number | null {
  const d = surfaceDistances(pred, truth);
  return d ? assdOf(d) : null;
}

/** Dice, Jaccard, sensitivity and specificity from the counts, with the empty-mask rules above. */
export function overlapMetrics(
  c: OverlapCounts,
): Pick<SegmentationMetrics, 'dice' | 'jaccard' | 'sensitivity' | 'specificity'> {
  const pred = c.truePositive + c.falsePositive;
  const truth = c.truePositive + c.falseNegative;
  const union = c.truePositive + c.falsePositive + c.falseNegative;
  return {
    dice: pred + truth === 0 ? 1 : (2 * c.truePositive) / (pred + truth),
    jaccard: union === 0 ? 1 : c.truePositive / union,
    sensitivity: truth === 0 ? null : c.truePositive / truth,
    specificity:
      c.trueNegative + c.falsePositive === 0
        ? null
        : c.trueNegative / (c.trueNegative + c.falsePositive),
  };
}

/** numpy.percentile(values, q) with the default 'linear' method (sorts `values` in place). */
export function percentileLinear(values: Float64Array, q: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  values.sort();
  const rank = (q / 100) * (values.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, values.length - 1);
  const t = rank - lo;
  const a = values[lo]!;
  const b = values[hi]!;
  // numpy's _lerp: from the nearer end, for the same rounding.
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

function hausdorffOf(d: SurfaceDistances): number {
  return Math.max(maxOf(d.predToTruth), maxOf(d.truthToPred));
}

function hausdorff95Of(d: SurfaceDistances): number {
  const pooled = new Float64Array(d.predToTruth.length + d.truthToPred.length);
  pooled.set(d.predToTruth, 0);
  pooled.set(d.truthToPred, d.predToTruth.length);
  return percentileLinear(pooled, 95);
}

function assdOf(d: SurfaceDistances): number {
  return (meanOf(d.predToTruth) + meanOf(d.truthToPred)) / 2;
}

function maxOf(a: Float64Array): number {
  let m = -Infinity;
  for (let v = 0; v < a.length; v++) if (a[v]! > m) m = a[v]!;
  return m;
}

function meanOf(a: Float64Array): number {
  // numpy's mean sums pairwise; a float64 running sum over < 10^7 values agrees far below 1e-9 mm.
  let s = 0;
  for (let v = 0; v < a.length; v++) s += a[v]!;
  return s / a.length;
}

function countsHaveBoth(c: OverlapCounts): boolean {
  return c.truePositive + c.falsePositive > 0 && c.truePositive + c.falseNegative > 0;
}

function checkSameGrid(a: Geometry, b: Geometry): void {
  const problem = gridMismatch(a, b);
  if (problem)
    throw new GridMismatchError(`prediction and truth are on different grids: ${problem}`);
}

/** One pass over the full grid: the overlap counts and the bounding box of pred ∪ truth. */
function scanMasks(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  dims: Vec3,
): { counts: OverlapCounts; box: VoxelBox | undefined } {
  const [nx, ny, nz] = dims;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let x0 = nx, y0 = ny, z0 = nz, x1 = -1, y1 = -1, z1 = -1; // prettier-ignore
  let v = 0;
  for (let k = 0; k < nz; k++) {
    let sliceHit = false;
    for (let j = 0; j < ny; j++) {
      let rowFirst = -1;
      let rowLast = -1;
      for (let i = 0; i < nx; i++, v++) {
        const p = pred[v] !== 0;
        const t = truth[v] !== 0;
        if (!p && !t) continue;
        if (p && t) tp++;
        else if (p) fp++;
        else fn++;
        if (rowFirst < 0) rowFirst = i;
        rowLast = i;
      }
      if (rowFirst < 0) continue;
      sliceHit = true;
      if (rowFirst < x0) x0 = rowFirst;
      if (rowLast > x1) x1 = rowLast;
      if (j < y0) y0 = j;
      if (j > y1) y1 = j;
    }
    if (sliceHit) {
      if (k < z0) z0 = k;
      z1 = k;
    }
  }
  const tn = pred.length - tp - fp - fn;
  const counts = { truePositive: tp, falsePositive: fp, falseNegative: fn, trueNegative: tn };
  if (x1 < 0) return { counts, box: undefined };
  // One voxel of margin (clipped at the grid edge) so the box's own edge is background, as the
  // grid's edge is to scipy: then erosion inside the box equals erosion on the whole grid.
  return {
    counts,
    box: {
      min: [Math.max(0, x0 - 1), Math.max(0, y0 - 1), Math.max(0, z0 - 1)],
      max: [Math.min(nx, x1 + 2), Math.min(ny, y1 + 2), Math.min(nz, z1 + 2)],
    },
  };
}

/** Surface voxels (6-connected erosion, outside = background) of the mask cropped to a box. */
function surfaceInBox(data: ArrayLike<number>, dims: Vec3, box: VoxelBox): Uint8Array {
  const [nx, ny] = dims;
  const bx = box.max[0] - box.min[0];
  const by = box.max[1] - box.min[1];
  const bz = box.max[2] - box.min[2];
  const inside = new Uint8Array(bx * by * bz);
  let o = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = box.min[0] + nx * (box.min[1] + j + ny * (box.min[2] + k));
      for (let i = 0; i < bx; i++) inside[o++] = data[row + i] !== 0 ? 1 : 0;
    }
  }
  const surface = new Uint8Array(inside.length);
  const plane = bx * by;
  o = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      for (let i = 0; i < bx; i++, o++) {
        if (inside[o] === 0) continue;
        // A neighbour outside the box is background: the box edge is either the grid's edge
        // (scipy's border_value = 0) or margin that holds no mask voxel.
        const interior =
          i > 0 &&
          i < bx - 1 &&
          j > 0 &&
          j < by - 1 &&
          k > 0 &&
          k < bz - 1 &&
          inside[o - 1] === 1 &&
          inside[o + 1] === 1 &&
          inside[o - bx] === 1 &&
          inside[o + bx] === 1 &&
          inside[o - plane] === 1 &&
          inside[o + plane] === 1;
        if (!interior) surface[o] = 1;
      }
    }
  }
  return surface;
}

function surfaceDistancesInBox(
  pred: BinaryVolume,
  truth: BinaryVolume,
  box: VoxelBox,
): SurfaceDistances {
  const { dims, spacing } = pred.geometry;
  const boxDims: Vec3 = [box.max[0] - box.min[0], box.max[1] - box.min[1], box.max[2] - box.min[2]];
  const predSurface = surfaceInBox(pred.data, dims, box);
  const truthSurface = surfaceInBox(truth.data, dims, box);
  return {
    predToTruth: directed(predSurface, truthSurface, boxDims, spacing),
    truthToPred: directed(truthSurface, predSurface, boxDims, spacing),
  };
}

/** For each voxel of `from`, the distance (mm) to the nearest voxel of `to` (both in the box). */
function directed(from: Uint8Array, to: Uint8Array, dims: Vec3, spacing: Vec3): Float64Array {
  const field = new Float32Array(to.length);
  let n = 0;
  for (let v = 0; v < to.length; v++) {
    field[v] = to[v] !== 0 ? 0 : Infinity;
    if (from[v] !== 0) n++;
  }
  squaredEdtInPlace(field, dims, spacing);
  const out = new Float64Array(n);
  let o = 0;
  for (let v = 0; v < from.length; v++) if (from[v] !== 0) out[o++] = Math.sqrt(field[v]!);
  return out;
}

/** A mask from a labelled volume: voxels equal to `label`, or (without a label) every non-zero voxel. */
export function maskFromLabels(volume: Volume<VoxelArray>, label?: number): Mask {
  const { data } = volume;
  const out = new Uint8Array(data.length);
  if (label === undefined) {
    for (let v = 0; v < data.length; v++) out[v] = data[v] !== 0 ? 1 : 0;
  } else {
    for (let v = 0; v < data.length; v++) out[v] = data[v] === label ? 1 : 0;
  }
  return { geometry: volume.geometry, data: out };
}
