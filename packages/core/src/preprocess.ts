/**
 * Preprocessing for the LA network (MSWS-Net), per 2D axial slice (our slice index k):
 *
 * 1. z-score the slice with its own mean and standard deviation;
 * 2. place it on a 640 x 640 canvas: centre zero-pad a smaller slice, centre crop a larger one
 *    (rows and columns independently, so non-square slices work too);
 * 3. the half-scale input is that canvas reduced to 320 x 320 by 2 x 2 block averaging.
 *
 * The same builders serve inference and training-data export (`lascar dataset`), so the network
 * sees identical inputs in both. Tensors are float32 NCHW with C = 1, built for a range of slices
 * at a time so memory stays bounded by the batch, never the whole study.
 */

import type { Vec3, Volume, VoxelArray } from './volume.js';

/** Full-scale input side of the LA network (the paper's 640 x 640). */
export const LA_INPUT_SIZE = 640;
/** Half-scale input side (320 x 320). */
export const LA_HALF_INPUT_SIZE = LA_INPUT_SIZE / 2;
/** Default probability threshold: a voxel is foreground when p > 0.5 (strictly). */
export const DEFAULT_PROBABILITY_THRESHOLD = 0.5;

export interface SliceStatistics {
  readonly mean: number;
  /** Population standard deviation (divides by n, as numpy's default `std`). */
  readonly std: number;
}

/**
 * Mean and population standard deviation of slice k, in float64.
 *
 * 8- and 16-bit integer slices (what MRI scanners store) of up to 8 M pixels take one pass: their
 * sums and sums of squares are integers below 2^53, so they are exact, and the variance is formed
 * from exact terms. Other types take two passes (mean, then squared deviations), which avoids the
 * cancellation a one-pass float formula suffers.
 */
export function sliceStatistics(data: ArrayLike<number>, dims: Vec3, k: number): SliceStatistics {
  const nxy = dims[0] * dims[1];
  checkSlice(dims, k);
  const base = k * nxy;
  const small =
    data instanceof Int16Array ||
    data instanceof Uint16Array ||
    data instanceof Uint8Array ||
    data instanceof Int8Array;
  if (small && nxy <= 8_000_000) {
    let sum = 0;
    let squares = 0;
    for (let p = base; p < base + nxy; p++) {
      const v = data[p]!;
      sum += v;
      squares += v * v;
    }
    const mean = sum / nxy;
    const variance = Math.max(0, (squares - sum * mean) / nxy);
    return { mean, std: Math.sqrt(variance) };
  }
  const stats = twoPassStatistics(data, base, nxy);
  // NaN or Infinity (possible in float NIfTI) would turn the whole slice into NaN downstream.
  if (!Number.isFinite(stats.mean) || !Number.isFinite(stats.std)) {
    throw new RangeError(`slice ${k} contains non-finite intensities (NaN or Infinity)`);
  }
  return stats;
}

function twoPassStatistics(data: ArrayLike<number>, base: number, nxy: number): SliceStatistics {
  let sum = 0;
  for (let p = base; p < base + nxy; p++) sum += data[p]!;
  const mean = sum / nxy;
  let squares = 0;
  for (let p = base; p < base + nxy; p++) {
    const d = data[p]! - mean;
    squares += d * d;
  }
  return { mean, std: Math.sqrt(squares / nxy) };
}

/**
 * z = (v - mean) / std; a constant slice (std = 0, e.g. an all-zero padding frame) gives zeros
 * rather than NaN, so one blank slice cannot poison a batch.
 */
export function zScoreScale(stats: SliceStatistics): { offset: number; scale: number } {
  const scale = stats.std > 0 && Number.isFinite(stats.std) ? 1 / stats.std : 0;
  return { offset: stats.mean, scale };
}

/**
 * Where a source slice sits on the square network canvas. Source pixel (i, j) lands on canvas
 * pixel (i + offsetX, j + offsetY); canvas pixels with no source pixel are zero padding, source
 * pixels that fall off the canvas are cropped away.
 *
 * Centring with an odd size difference: the extra pixel goes to the END (right column / bottom
 * row), for padding and cropping alike. E.g. 639 columns -> 0 padded on the left, 1 on the right;
 * 641 -> 0 cropped on the left, 1 on the right. Even differences split equally
 * (480 -> pad 80 each side, 864 -> crop 112 each side).
 */
export interface CanvasPlacement {
  /** Canvas side (640 for the LA network); the canvas width when `height` is given. */
  readonly size: number;
  /** Canvas rows when the canvas is not square (a crop of the LA canvas, la-crop.ts); default `size`. */
  readonly height?: number;
  /** Source columns (nx) and rows (ny). */
  readonly columns: number;
  readonly rows: number;
  /** Canvas column of source column 0 (negative when cropping). */
  readonly offsetX: number;
  /** Canvas row of source row 0 (negative when cropping). */
  readonly offsetY: number;
}

/** Centre offset along one axis: floor of half the difference, so the odd pixel goes last. */
function centreOffset(n: number, size: number): number {
  const d = size - n;
  return d >= 0 ? Math.floor(d / 2) : -Math.floor(-d / 2);
}

export function canvasPlacement(
  columns: number,
  rows: number,
  size: number = LA_INPUT_SIZE,
): CanvasPlacement {
  for (const [name, n] of [
    ['columns', columns],
    ['rows', rows],
    ['canvas size', size],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`${name} must be a positive integer, got ${n}`);
  }
  return {
    size,
    columns,
    rows,
    offsetX: centreOffset(columns, size),
    offsetY: centreOffset(rows, size),
  };
}

/** The overlap of source and canvas along one axis: [first source index, count]. */
function overlap(n: number, offset: number, size: number): [number, number] {
  const first = Math.max(0, -offset);
  const last = Math.min(n, size - offset); // exclusive
  return [first, Math.max(0, last - first)];
}

/**
 * Writes slice k of `data`, z-scored with the slice's own statistics, onto a size x size canvas
 * at out[outOffset ...] (zero padding where the canvas has no source pixel). Padding is applied
 * AFTER z-scoring, so pad pixels read as the slice mean, as in the reference.
 */
export function writeZScoredCanvas(
  data: ArrayLike<number>,
  dims: Vec3,
  k: number,
  placement: CanvasPlacement,
  out: Float32Array,
  outOffset = 0,
  stats: SliceStatistics = sliceStatistics(data, dims, k),
): void {
  const { offset, scale } = zScoreScale(stats);
  placeOnCanvas(data, dims, k, placement, out, outOffset, offset, scale);
}

/**
 * Writes slice k of a mask (or any values) onto the canvas unchanged: ground-truth targets for
 * training are placed exactly like the image.
 */
export function writeCanvas(
  data: ArrayLike<number>,
  dims: Vec3,
  k: number,
  placement: CanvasPlacement,
  out: Float32Array,
  outOffset = 0,
): void {
  placeOnCanvas(data, dims, k, placement, out, outOffset, 0, 1);
}

function placeOnCanvas(
  data: ArrayLike<number>,
  dims: Vec3,
  k: number,
  placement: CanvasPlacement,
  out: Float32Array,
  outOffset: number,
  offset: number,
  scale: number,
): void {
  checkSlice(dims, k);
  checkPlacement(dims, placement);
  const { size, offsetX, offsetY } = placement;
  const height = canvasRows(placement);
  const [nx, ny] = dims;
  if (outOffset < 0 || outOffset + size * height > out.length) {
    throw new RangeError(`canvas at ${outOffset} does not fit an output of ${out.length} values`);
  }
  out.fill(0, outOffset, outOffset + size * height);
  const [i0, w] = overlap(nx, offsetX, size);
  const [j0, h] = overlap(ny, offsetY, height);
  const base = k * nx * ny;
  for (let j = j0; j < j0 + h; j++) {
    const src = base + nx * j + i0;
    const dst = outOffset + size * (j + offsetY) + i0 + offsetX;
    // (v - 0) * 1 is exact, so plain copies (masks) share this loop.
    for (let i = 0; i < w; i++) out[dst + i] = (data[src + i]! - offset) * scale;
  }
}

/**
 * Half-scale canvas: each output pixel is the mean of a 2 x 2 block of the input canvas.
 *
 * At exactly 0.5 scale this IS bilinear resizing with half-pixel centres (PyTorch
 * F.interpolate(mode='bilinear', align_corners=False, antialias=False) and OpenCV
 * cv2.resize(INTER_LINEAR)): output pixel x samples input coordinate (x + 0.5) * 2 - 0.5 = 2x + 0.5,
 * exactly midway between input pixels 2x and 2x + 1 in both axes, i.e. their 2 x 2 average.
 */
export function halveCanvas(
  input: Float32Array,
  inputOffset: number,
  size: number,
  out: Float32Array,
  outOffset = 0,
  height: number = size,
): void {
  if (size % 2 !== 0 || height % 2 !== 0)
    throw new RangeError(`canvas sides must be even to halve, got ${size} x ${height}`);
  const half = size / 2;
  for (let y = 0; y < height / 2; y++) {
    const r0 = inputOffset + 2 * y * size;
    const r1 = r0 + size;
    const o = outOffset + y * half;
    for (let x = 0; x < half; x++) {
      const c = 2 * x;
      out[o + x] =
        (input[r0 + c]! + input[r0 + c + 1]! + input[r1 + c]! + input[r1 + c + 1]!) * 0.25;
    }
  }
}

/** A batch of LA network inputs: slices firstSlice .. firstSlice + count - 1. */
export interface LaInputBatch {
  readonly firstSlice: number;
  readonly count: number;
  /** count x 1 x 640 x 640, z-scored and centred. */
  readonly full: Float32Array;
  /** count x 1 x 320 x 320, the 2 x 2 block average of `full`. */
  readonly half: Float32Array;
  readonly placement: CanvasPlacement;
  /** Each slice's statistics (reused by the scar stage's z-score channel). */
  readonly statistics: readonly SliceStatistics[];
}

/**
 * Builds the two MSWS-Net input tensors for `count` consecutive slices. Pass `reuse` (a previous
 * batch of the same or larger count) to write into its buffers instead of allocating.
 */
export function buildLaInputBatch(
  image: Volume<VoxelArray>,
  firstSlice: number,
  count: number,
  reuse?: Pick<LaInputBatch, 'full' | 'half'>,
  size: number = LA_INPUT_SIZE,
): LaInputBatch {
  const dims = image.geometry.dims;
  checkRange(dims, firstSlice, count);
  const placement = canvasPlacement(dims[0], dims[1], size);
  const fullLen = size * size;
  const halfLen = (size / 2) * (size / 2);
  const full =
    reuse && reuse.full.length >= count * fullLen
      ? reuse.full.subarray(0, count * fullLen)
      : new Float32Array(count * fullLen);
  const half =
    reuse && reuse.half.length >= count * halfLen
      ? reuse.half.subarray(0, count * halfLen)
      : new Float32Array(count * halfLen);
  const statistics: SliceStatistics[] = [];
  for (let b = 0; b < count; b++) {
    const stats = sliceStatistics(image.data, dims, firstSlice + b);
    statistics.push(stats);
    writeZScoredCanvas(image.data, dims, firstSlice + b, placement, full, b * fullLen, stats);
    halveCanvas(full, b * fullLen, size, half, b * halfLen);
  }
  return { firstSlice, count, full, half, placement, statistics };
}

/**
 * Training targets for the LA network: mask slices placed exactly like buildLaInputBatch places
 * the image (count x 1 x 640 x 640, values 0/1).
 */
export function buildLaTargetBatch(
  mask: Volume<Uint8Array>,
  firstSlice: number,
  count: number,
  size: number = LA_INPUT_SIZE,
): Float32Array {
  const dims = mask.geometry.dims;
  checkRange(dims, firstSlice, count);
  const placement = canvasPlacement(dims[0], dims[1], size);
  const out = new Float32Array(count * size * size);
  for (let b = 0; b < count; b++) {
    writeCanvas(mask.data, dims, firstSlice + b, placement, out, b * size * size);
    for (let p = b * size * size; p < (b + 1) * size * size; p++) out[p] = out[p]! !== 0 ? 1 : 0;
  }
  return out;
}

/**
 * Maps one canvas (e.g. a 640 x 640 probability map) back onto slice k of a source-grid volume:
 * the exact inverse of the placement. Source pixels that were cropped away get 0 (the network
 * never saw them, so they are not LA).
 */
export function restoreCanvasSlice(
  canvas: Float32Array,
  canvasOffset: number,
  placement: CanvasPlacement,
  dims: Vec3,
  k: number,
  out: Float32Array,
): void {
  const rows = restoreRows(canvas, canvasOffset, placement, dims, k, out);
  out.fill(0, rows.base, rows.base + dims[0] * dims[1]);
  for (let j = rows.j0; j < rows.j0 + rows.h; j++) {
    const src = rows.src(j);
    const dst = rows.dst(j);
    for (let i = 0; i < rows.w; i++) out[dst + i] = canvas[src + i]!;
  }
}

/**
 * As restoreCanvasSlice, but thresholds straight into a 0/1 mask (p > threshold), so inference
 * never holds a float32 probability volume of the whole study.
 */
export function restoreCanvasSliceMask(
  canvas: Float32Array,
  canvasOffset: number,
  placement: CanvasPlacement,
  dims: Vec3,
  k: number,
  out: Uint8Array,
  threshold: number = DEFAULT_PROBABILITY_THRESHOLD,
): void {
  const rows = restoreRows(canvas, canvasOffset, placement, dims, k, out);
  out.fill(0, rows.base, rows.base + dims[0] * dims[1]);
  for (let j = rows.j0; j < rows.j0 + rows.h; j++) {
    const src = rows.src(j);
    const dst = rows.dst(j);
    for (let i = 0; i < rows.w; i++) out[dst + i] = canvas[src + i]! > threshold ? 1 : 0;
  }
}

/** Checks, and the row mapping from canvas to source slice shared by the restore functions. */
function restoreRows(
  canvas: Float32Array,
  canvasOffset: number,
  placement: CanvasPlacement,
  dims: Vec3,
  k: number,
  out: { length: number },
): {
  base: number;
  j0: number;
  h: number;
  w: number;
  src(j: number): number;
  dst(j: number): number;
} {
  checkSlice(dims, k);
  checkPlacement(dims, placement);
  const { size, offsetX, offsetY } = placement;
  const height = canvasRows(placement);
  const [nx, ny] = dims;
  if (out.length !== nx * ny * dims[2]) {
    throw new RangeError(
      `output has ${out.length} voxels but the grid ${dims.join(' x ')} needs ${nx * ny * dims[2]}`,
    );
  }
  if (canvasOffset < 0 || canvasOffset + size * height > canvas.length) {
    throw new RangeError(
      `canvas at ${canvasOffset} is outside the ${canvas.length}-value prediction`,
    );
  }
  const base = k * nx * ny;
  const [i0, w] = overlap(nx, offsetX, size);
  const [j0, h] = overlap(ny, offsetY, height);
  return {
    base,
    j0,
    h,
    w,
    src: (j) => canvasOffset + size * (j + offsetY) + i0 + offsetX,
    dst: (j) => base + nx * j + i0,
  };
}

/** Canvas rows: `height` for a non-square canvas (a crop), else the side. */
export function canvasRows(placement: CanvasPlacement): number {
  return placement.height ?? placement.size;
}

function checkSlice(dims: Vec3, k: number): void {
  if (!Number.isInteger(k) || k < 0 || k >= dims[2]) {
    throw new RangeError(`slice ${k} is outside the volume's ${dims[2]} slices`);
  }
}

function checkRange(dims: Vec3, firstSlice: number, count: number): void {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`slice count must be a positive integer, got ${count}`);
  checkSlice(dims, firstSlice);
  checkSlice(dims, firstSlice + count - 1);
}

function checkPlacement(dims: Vec3, placement: CanvasPlacement): void {
  if (placement.columns !== dims[0] || placement.rows !== dims[1]) {
    throw new RangeError(
      `placement is for ${placement.columns} x ${placement.rows} slices but the volume has ${dims[0]} x ${dims[1]}`,
    );
  }
}
