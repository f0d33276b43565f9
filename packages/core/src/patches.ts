/**
 * Boundary2Patches tensors: 64 x 64 windows centred on points sampled along the LA boundary of
 * each slice, on the ORIGINAL slice grid, three channels each; and the way back: pasting patch
 * predictions into the slice with overlap averaging.
 *
 * The same functions build inference inputs (from the predicted LA mask) and training samples
 * (from the ground-truth LA mask, plus writeScarLabelPatches for the targets), so `lascar dataset`
 * and inference cannot drift apart.
 *
 * Channels (method-spec, "Boundary2Patches" and "Decisions"):
 *   0. the image z-scored with the WHOLE SLICE's mean and standard deviation -- the same
 *      normalisation as the LA network's input (sliceStatistics), so one slice has one intensity
 *      scale everywhere and a patch's values do not depend on where its window fell;
 *   1. the histogram scar-probability map: the empirical CDF of the pixel's intensity among the
 *      intensities of the slice's boundary band (boundaryBand: within bandMm of the LA boundary),
 *      F(v) = #{band pixels with intensity <= v} / #{band pixels}, in [0, 1]; scar, the brightest
 *      wall tissue in LGE, sits near 1. (A CDF is invariant to the z-score, so raw intensities are
 *      used.)
 *   2. max(z, 0), the non-negative part of channel 0.
 * Window placement: the window centred on pixel (cx, cy) covers columns cx - 32 .. cx + 31 and rows
 * cy - 32 .. cy + 31 (an even size has no middle pixel; the centre is the 33rd). Parts of a window
 * beyond the image edge are zero in every channel (and in label patches), i.e. zero padding, as a
 * network sees at a padded convolution edge.
 */

import {
  DEFAULT_BAND_MM,
  DEFAULT_PATCH_STEP_PX,
  boundaryBand,
  boundaryPixels,
  samplePatchCentres,
} from './boundary.js';
import {
  DEFAULT_PROBABILITY_THRESHOLD,
  sliceStatistics,
  zScoreScale,
  type SliceStatistics,
} from './preprocess.js';
import { cropMask, nonZeroBox } from './mask-scan.js';
import type { Volume, VoxelArray } from './volume.js';

export const SCAR_PATCH_SIZE = 64;
export const SCAR_PATCH_CHANNELS = 3;
const HALF = SCAR_PATCH_SIZE / 2;
const PATCH_PIXELS = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;

export interface ScarPatchOptions {
  /** Distance between patch centres along a contour, in contour moves. Default 16. */
  readonly stepPx?: number;
  /** Half-width of the boundary band (histogram channel and where scar may be pasted), mm. Default 5. */
  readonly bandMm?: number;
}

/** A pixel rectangle on a slice: columns x0 .. x0 + width - 1, rows y0 .. y0 + height - 1. */
export interface PixelRect {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
}

/** Everything needed to build, and paste back, the patches of one slice. */
export interface ScarSlicePlan {
  /** Slice index k. */
  readonly slice: number;
  readonly columns: number;
  readonly rows: number;
  /** Patch centres, [column0, row0, column1, row1, ...]. */
  readonly centres: Int32Array;
  readonly patchCount: number;
  /** 0/1 per slice pixel: within bandMm of the LA boundary. */
  readonly band: Uint8Array;
  readonly bandPixelCount: number;
  /** The slice's intensity statistics (channel 0's z-score). */
  readonly statistics: SliceStatistics;
  /** The union of all windows, clipped to the slice: the only pixels patches touch. */
  readonly region: PixelRect;
  /** Channel 1 for every pixel of `region` (index (x - x0) + width * (y - y0)). */
  readonly scarProbability: Float32Array;
}

/**
 * Plans slice k: boundary, patch centres, band and the histogram channel. Returns undefined when
 * the LA mask is empty on that slice (no boundary, nothing to search).
 *
 * `laMask` is a 0/1 volume on the image's grid (the predicted LA at inference, the ground truth
 * when exporting training data). `statistics`, when the caller already has slice k's
 * (buildLaInputBatch returns them), saves a pass over the slice.
 */
export function planScarSlice(
  image: Volume<VoxelArray>,
  laMask: Uint8Array,
  k: number,
  options: ScarPatchOptions = {},
  statistics?: SliceStatistics,
): ScarSlicePlan | undefined {
  const { dims, spacing } = image.geometry;
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  if (laMask.length !== image.data.length) {
    throw new RangeError(
      `LA mask has ${laMask.length} voxels but the image has ${image.data.length}`,
    );
  }
  if (!Number.isInteger(k) || k < 0 || k >= nz)
    throw new RangeError(`slice ${k} is outside the volume's ${nz} slices`);
  const bandMm = options.bandMm ?? DEFAULT_BAND_MM;
  const stepPx = options.stepPx ?? DEFAULT_PATCH_STEP_PX;
  const base = k * nxy;

  // Work on the LA's box grown by the band's reach (and at least one pixel, so the crop edge is
  // never mistaken for the image edge): contours, boundary and band are the same as on the whole
  // slice, at a cost proportional to the LA, not the slice.
  const sliceMask = laMask.subarray(base, base + nxy);
  const box = nonZeroBox(sliceMask, [nx, ny, 1]);
  if (!box) return undefined;
  const reach = Math.max(1, Math.ceil(bandMm / Math.min(spacing[0], spacing[1])) + 1);
  const cx0 = Math.max(0, box.x0 - reach);
  const cy0 = Math.max(0, box.y0 - reach);
  const cw = Math.min(nx, box.x0 + box.bx + reach) - cx0;
  const ch = Math.min(ny, box.y0 + box.by + reach) - cy0;
  const crop = cropMask(sliceMask, [nx, ny, 1], { x0: cx0, y0: cy0, z0: 0, bx: cw, by: ch, bz: 1 });
  const cropSlice = { data: crop, columns: cw, rows: ch };
  const centres = samplePatchCentres(cropSlice, stepPx);
  for (let c = 0; c < centres.length; c += 2) {
    centres[c]! += cx0;
    centres[c + 1]! += cy0;
  }
  const cropBand = boundaryBand(
    cropSlice,
    [spacing[0], spacing[1]],
    bandMm,
    boundaryPixels(cropSlice),
  );

  // The band on the whole slice, and its intensities: the distribution channel 1 is read from.
  const band = new Uint8Array(nxy);
  const bandIntensities: number[] = [];
  for (let y = 0; y < ch; y++) {
    const row = cx0 + nx * (cy0 + y);
    for (let x = 0; x < cw; x++) {
      if (cropBand[x + cw * y] === 0) continue;
      band[row + x] = 1;
      bandIntensities.push(image.data[base + row + x]!);
    }
  }
  const bandPixelCount = bandIntensities.length;
  const cdf = empiricalCdf(bandIntensities, isIntegerArray(image.data));

  let x0 = nx, y0 = ny, x1 = -1, y1 = -1; // prettier-ignore
  for (let c = 0; c < centres.length; c += 2) {
    x0 = Math.min(x0, centres[c]! - HALF);
    x1 = Math.max(x1, centres[c]! + HALF - 1);
    y0 = Math.min(y0, centres[c + 1]! - HALF);
    y1 = Math.max(y1, centres[c + 1]! + HALF - 1);
  }
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(nx - 1, x1);
  y1 = Math.min(ny - 1, y1);
  const region: PixelRect = { x0, y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };

  const scarProbability = new Float32Array(region.width * region.height);
  for (let y = 0, o = 0; y < region.height; y++) {
    const row = base + x0 + nx * (y0 + y);
    for (let x = 0; x < region.width; x++, o++) scarProbability[o] = cdf(image.data[row + x]!);
  }

  return {
    slice: k,
    columns: nx,
    rows: ny,
    centres,
    patchCount: centres.length / 2,
    band,
    bandPixelCount,
    statistics: statistics ?? sliceStatistics(image.data, dims, k),
    region,
    scarProbability,
  };
}

function isIntegerArray(a: VoxelArray): boolean {
  return !(a instanceof Float32Array || a instanceof Float64Array);
}

/**
 * v -> #{values <= v} / #values. Integer intensities (what scanners store) use a cumulative
 * histogram over the values' range, O(1) per lookup; other data a sorted copy and binary search.
 */
function empiricalCdf(values: number[], integers: boolean): (v: number) => number {
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (integers && max - min <= 1 << 20) {
    const cumulative = new Int32Array(max - min + 1);
    for (const v of values) cumulative[v - min]!++;
    for (let t = 1; t < cumulative.length; t++) cumulative[t]! += cumulative[t - 1]!;
    return (v) => (v < min ? 0 : v >= max ? 1 : cumulative[Math.floor(v) - min]! / n);
  }
  const sorted = Float64Array.from(values).sort();
  return (v) => upperBound(sorted, v) / n;
}

/** Number of sorted values <= v. */
function upperBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkPatchRange(plan: ScarSlicePlan, firstPatch: number, count: number): void {
  if (
    !Number.isInteger(firstPatch) ||
    !Number.isInteger(count) ||
    firstPatch < 0 ||
    count < 0 ||
    firstPatch + count > plan.patchCount
  ) {
    throw new RangeError(
      `patches ${firstPatch}..${firstPatch + count - 1} are outside slice ${plan.slice}'s ${plan.patchCount} patches`,
    );
  }
}

function checkOut(out: Float32Array, offsetPatches: number, count: number, channels: number): void {
  const end = (offsetPatches + count) * channels * PATCH_PIXELS;
  if (offsetPatches < 0 || end > out.length) {
    throw new RangeError(
      `${count} patches at ${offsetPatches} do not fit a tensor of ${out.length} values`,
    );
  }
}

/**
 * Writes patches firstPatch .. firstPatch + count - 1 of a slice plan as count x 3 x 64 x 64
 * float32 (NCHW) into `out`, starting at patch slot `outPatch`.
 */
export function writeScarPatches(
  image: Volume<VoxelArray>,
  plan: ScarSlicePlan,
  firstPatch: number,
  count: number,
  out: Float32Array,
  outPatch = 0,
): void {
  checkPatchRange(plan, firstPatch, count);
  checkOut(out, outPatch, count, SCAR_PATCH_CHANNELS);
  const { columns: nx, rows: ny, region, scarProbability, centres } = plan;
  const { offset, scale } = zScoreScale(plan.statistics);
  const base = plan.slice * nx * ny;
  const data = image.data;
  for (let t = 0; t < count; t++) {
    const p = firstPatch + t;
    const wx = centres[2 * p]! - HALF;
    const wy = centres[2 * p + 1]! - HALF;
    const o0 = (outPatch + t) * SCAR_PATCH_CHANNELS * PATCH_PIXELS;
    out.fill(0, o0, o0 + SCAR_PATCH_CHANNELS * PATCH_PIXELS);
    const [u0, w] = clip(wx, nx);
    const [v0, h] = clip(wy, ny);
    for (let v = v0; v < v0 + h; v++) {
      const y = wy + v;
      const src = base + nx * y + wx;
      const cdf = (y - region.y0) * region.width + wx - region.x0;
      const o = o0 + v * SCAR_PATCH_SIZE;
      for (let u = u0; u < u0 + w; u++) {
        const z = (data[src + u]! - offset) * scale;
        out[o + u] = z;
        out[o + PATCH_PIXELS + u] = scarProbability[cdf + u]!;
        out[o + 2 * PATCH_PIXELS + u] = z > 0 ? z : 0;
      }
    }
  }
}

/** The window offsets u with 0 <= start + u < n: [first u, count]. */
function clip(start: number, n: number): [number, number] {
  const first = Math.max(0, -start);
  const last = Math.min(SCAR_PATCH_SIZE, n - start);
  return [first, Math.max(0, last - first)];
}

/**
 * Training targets: the same windows cut from a scar mask (0/1 volume on the image grid) as
 * count x 1 x 64 x 64 float32, starting at patch slot `outPatch`.
 */
export function writeScarLabelPatches(
  scarMask: Uint8Array,
  plan: ScarSlicePlan,
  firstPatch: number,
  count: number,
  out: Float32Array,
  outPatch = 0,
): void {
  checkPatchRange(plan, firstPatch, count);
  checkOut(out, outPatch, count, 1);
  const { columns: nx, rows: ny, centres } = plan;
  if (scarMask.length % (nx * ny) !== 0 || scarMask.length / (nx * ny) <= plan.slice) {
    throw new RangeError(
      `scar mask of ${scarMask.length} voxels does not hold slice ${plan.slice} of ${nx} x ${ny}`,
    );
  }
  const base = plan.slice * nx * ny;
  for (let t = 0; t < count; t++) {
    const p = firstPatch + t;
    const wx = centres[2 * p]! - HALF;
    const wy = centres[2 * p + 1]! - HALF;
    const o0 = (outPatch + t) * PATCH_PIXELS;
    out.fill(0, o0, o0 + PATCH_PIXELS);
    const [u0, w] = clip(wx, nx);
    const [v0, h] = clip(wy, ny);
    for (let v = v0; v < v0 + h; v++) {
      const src = base + nx * (wy + v) + wx;
      for (let u = u0; u < u0 + w; u++)
        out[o0 + v * SCAR_PATCH_SIZE + u] = scarMask[src + u] !== 0 ? 1 : 0;
    }
  }
}

/** Running sums of pasted predictions over a plan's region. */
export interface ScarSliceAccumulator {
  readonly plan: ScarSlicePlan;
  /** Sum of the predicted probabilities per region pixel. */
  readonly sum: Float32Array;
  /** How many windows covered each region pixel. */
  readonly hits: Uint16Array;
}

export function createScarAccumulator(plan: ScarSlicePlan): ScarSliceAccumulator {
  const n = plan.region.width * plan.region.height;
  return { plan, sum: new Float32Array(n), hits: new Uint16Array(n) };
}

/**
 * Adds predictions for patches firstPatch .. firstPatch + count - 1 (count x 1 x 64 x 64, read
 * from `predictions` starting at patch slot `predictionPatch`) into the accumulator.
 */
export function pasteScarPredictions(
  acc: ScarSliceAccumulator,
  predictions: Float32Array,
  predictionPatch: number,
  firstPatch: number,
  count: number,
): void {
  const { plan, sum, hits } = acc;
  checkPatchRange(plan, firstPatch, count);
  checkOut(predictions, predictionPatch, count, 1);
  const { columns: nx, rows: ny, centres, region } = plan;
  for (let t = 0; t < count; t++) {
    const p = firstPatch + t;
    const wx = centres[2 * p]! - HALF;
    const wy = centres[2 * p + 1]! - HALF;
    const i0 = (predictionPatch + t) * PATCH_PIXELS;
    const [u0, w] = clip(wx, nx);
    const [v0, h] = clip(wy, ny);
    for (let v = v0; v < v0 + h; v++) {
      const r = (wy + v - region.y0) * region.width + wx - region.x0;
      const s = i0 + v * SCAR_PATCH_SIZE;
      for (let u = u0; u < u0 + w; u++) {
        sum[r + u]! += predictions[s + u]!;
        hits[r + u]!++;
      }
    }
  }
}

/**
 * Writes the slice's scar into `scarMask` (a 0/1 volume on the image grid): 1 where the pixel is
 * in the boundary band, at least one window covered it, and the mean of the overlapping
 * predictions is > threshold (strictly; default 0.5). The band restriction is the method's
 * premise: scar lies in the LA wall, so nothing far from the boundary can be scar. The slice's
 * other pixels are set to 0.
 */
export function finishScarSlice(
  acc: ScarSliceAccumulator,
  scarMask: Uint8Array,
  threshold: number = DEFAULT_PROBABILITY_THRESHOLD,
): void {
  const { plan, sum, hits } = acc;
  const { columns: nx, rows: ny, region, band } = plan;
  const nxy = nx * ny;
  const base = plan.slice * nxy;
  if (scarMask.length < base + nxy)
    throw new RangeError(
      `scar mask of ${scarMask.length} voxels does not hold slice ${plan.slice}`,
    );
  scarMask.fill(0, base, base + nxy);
  for (let y = 0, o = 0; y < region.height; y++) {
    const p0 = region.x0 + nx * (region.y0 + y);
    for (let x = 0; x < region.width; x++, o++) {
      const n = hits[o]!;
      if (n > 0 && band[p0 + x] === 1 && sum[o]! > threshold * n) scarMask[base + p0 + x] = 1;
    }
  }
}
