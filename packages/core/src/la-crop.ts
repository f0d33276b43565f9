/**
 * Crop-to-atrium LA inference. MSWS-Net is fully convolutional, so instead of every slice's whole
 * 640 x 640 canvas it can see a window of the canvas around the atrium:
 *
 * 1. probe: a few slices through the middle of the stack run on the whole canvas (their masks
 *    are kept as they are);
 * 2. window: the bounding box of their thresholded LA (specks far from it left out, atriumBox),
 *    plus a margin in mm, grown outwards
 *    to multiples of 64 canvas pixels (both scales pool five times: full 2^5, half 2 x 2^5) on
 *    the same 64-pixel grid as the canvas, so every pooling cell is the whole canvas's cell;
 * 3. crop: every other slice is z-scored with the WHOLE slice's statistics (as on the canvas),
 *    and the window of its canvas goes to the network; the probabilities go back to the slice.
 *
 * Falls back to the whole canvas where a crop could lose LA: for a slice whose cropped mask
 * touches a window edge inside the canvas, and for the whole study when the probe finds no LA or
 * the window would be the whole canvas anyway. Only the LA network's spatial size changes; the
 * probability threshold and everything after the LA mask are the same.
 */

import {
  LA_INPUT_SIZE,
  canvasPlacement,
  canvasRows,
  halveCanvas,
  restoreCanvasSliceMask,
  sliceStatistics,
  writeZScoredCanvas,
  type CanvasPlacement,
  type SliceStatistics,
} from './preprocess.js';
import { labelComponents } from './cca.js';
import type { LaNetworkInput } from './stages.js';
import type { Volume, VoxelArray } from './volume.js';

/** Canvas pixels per cell of MSWS-Net's coarsest feature map at the half scale (2 x 2^5). */
export const LA_CROP_STRIDE = 64;
/** The smallest window side: the network was fine-tuned on 256 x 256 crops (training/augment.py). */
export const LA_CROP_MIN_SIDE = 256;
/** Room around the probed atrium, mm: slices away from the probes may reach further. */
export const DEFAULT_LA_CROP_MARGIN_MM = 20;
/** Probe slices run on the whole canvas. */
export const LA_PROBE_SLICES = 5;

/** A rectangle of canvas pixels: columns x0 .. x1 - 1, rows y0 .. y1 - 1. */
export interface CanvasBox {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** A probe component smaller than this share of the largest one is not taken for the atrium. */
export const LA_PROBE_MIN_SHARE = 0.1;

/**
 * The atrium's box on the probe canvases (count x size x size, 0/1, probability > threshold):
 * the union of the boxes of the 8-connected components (per canvas) of at least `minShare` of
 * the largest component over all the canvases. Specks of false positive far from the atrium
 * (which the largest-3D-component step drops anyway) then do not stretch the window across the
 * canvas. Undefined when the probes found nothing.
 */
export function atriumBox(
  probes: Uint8Array,
  count: number,
  size: number = LA_INPUT_SIZE,
  minShare: number = LA_PROBE_MIN_SHARE,
): CanvasBox | undefined {
  const { labels, count: components, sizes } = labelComponents(probes, [size, size, count], 8);
  if (components === 0) return undefined;
  let largest = 0;
  for (let c = 1; c <= components; c++) largest = Math.max(largest, sizes[c]!);
  let x0 = size;
  let y0 = size;
  let x1 = 0;
  let y1 = 0;
  for (let p = 0; p < labels.length; p++) {
    const c = labels[p]!;
    if (c === 0 || sizes[c]! < minShare * largest) continue;
    const x = p % size;
    const y = Math.floor(p / size) % size;
    if (x < x0) x0 = x;
    if (x >= x1) x1 = x + 1;
    if (y < y0) y0 = y;
    if (y >= y1) y1 = y + 1;
  }
  return { x0, y0, x1, y1 };
}

/** The margin in whole canvas pixels along columns and rows (spacing: column, row mm). */
export function marginPixels(
  marginMm: number,
  spacing: readonly number[],
): { readonly x: number; readonly y: number } {
  const [sx, sy] = spacing;
  if (!(marginMm >= 0) || !Number.isFinite(marginMm))
    throw new RangeError(`the crop margin must be a finite distance >= 0 mm, got ${marginMm}`);
  if (!(sx! > 0 && sy! > 0) || !Number.isFinite(sx!) || !Number.isFinite(sy!))
    throw new RangeError(`pixel spacing must be positive, got ${sx} x ${sy} mm`);
  // The relative slack keeps exact quotients exact (20 / 0.625 = 32, not 33).
  return {
    x: Math.ceil((marginMm / sx!) * (1 - 1e-9)),
    y: Math.ceil((marginMm / sy!) * (1 - 1e-9)),
  };
}

/**
 * The window to crop: the box grown by the margin, then outwards to the stride's grid, at least
 * minSide (grown on both sides in turn), inside the canvas. Sides are multiples of the stride.
 */
export function cropWindow(
  box: CanvasBox,
  margin: { readonly x: number; readonly y: number },
  canvas: number = LA_INPUT_SIZE,
  stride: number = LA_CROP_STRIDE,
  minSide: number = LA_CROP_MIN_SIDE,
): CanvasBox {
  if (canvas % stride !== 0)
    throw new RangeError(`the canvas side ${canvas} is not a multiple of the stride ${stride}`);
  const axis = (lo: number, hi: number, m: number): [number, number] => {
    let a = Math.max(0, Math.floor((lo - m) / stride) * stride);
    let b = Math.min(canvas, Math.ceil((hi + m) / stride) * stride);
    const least = Math.min(canvas, Math.ceil(minSide / stride) * stride);
    while (b - a < least) {
      if (b < canvas) b += stride;
      if (b - a < least && a > 0) a -= stride;
    }
    return [a, b];
  };
  const [x0, x1] = axis(box.x0, box.x1, margin.x);
  const [y0, y1] = axis(box.y0, box.y1, margin.y);
  return { x0, y0, x1, y1 };
}

/**
 * The placement of a slice on a window of its canvas: writeZScoredCanvas with it writes exactly
 * the window's pixels of the whole canvas, and restoreCanvasSliceMask maps the window back (the
 * slice's pixels outside the window get 0).
 */
export function windowPlacement(placement: CanvasPlacement, window: CanvasBox): CanvasPlacement {
  return {
    size: window.x1 - window.x0,
    height: window.y1 - window.y0,
    columns: placement.columns,
    rows: placement.rows,
    offsetX: placement.offsetX - window.x0,
    offsetY: placement.offsetY - window.y0,
  };
}

/**
 * Whether any pixel with probability > threshold lies on an edge of the window that is inside
 * the canvas (where the whole canvas would have shown more). Edges on the canvas's own border do
 * not count: the whole canvas ends there too.
 */
export function touchesInnerEdge(
  values: Float32Array,
  offset: number,
  window: CanvasBox,
  canvas: number,
  threshold: number,
): boolean {
  const w = window.x1 - window.x0;
  const h = window.y1 - window.y0;
  const on = (x: number, y: number): boolean => values[offset + y * w + x]! > threshold;
  for (let x = 0; x < w; x++) {
    if (window.y0 > 0 && on(x, 0)) return true;
    if (window.y1 < canvas && on(x, h - 1)) return true;
  }
  for (let y = 0; y < h; y++) {
    if (window.x0 > 0 && on(0, y)) return true;
    if (window.x1 < canvas && on(w - 1, y)) return true;
  }
  return false;
}

/** Probe slices: `count` slices evenly spread over the middle 60 % of the stack, distinct. */
export function probeSlices(slices: number, count: number = LA_PROBE_SLICES): number[] {
  if (!Number.isInteger(slices) || slices < 1)
    throw new RangeError(`slice count must be a positive integer, got ${slices}`);
  if (slices <= count) return Array.from({ length: slices }, (_, k) => k);
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) {
    const f = count === 1 ? 0.5 : 0.2 + (0.6 * i) / (count - 1);
    picked.add(Math.round(f * (slices - 1)));
  }
  return [...picked].sort((a, b) => a - b);
}

/** Sorted slice indices as runs of consecutive slices, each at most maxCount long. */
export function consecutiveRuns(
  slices: readonly number[],
  maxCount: number,
): Array<{ first: number; count: number }> {
  const runs: Array<{ first: number; count: number }> = [];
  for (const k of slices) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === k && last.count < maxCount) last.count++;
    else runs.push({ first: k, count: 1 });
  }
  return runs;
}

/** What the crop did for one study (recorded with the result). */
export interface LaCropReport {
  /** Whether cropping was asked for (method setting) and the LA model takes any input size. */
  readonly enabled: boolean;
  /** True when some slices ran on a window. */
  readonly cropped: boolean;
  /** Why the study ran as it did, in plain words. */
  readonly reason: string;
  /** The window on the 640 x 640 canvas (x1, y1 exclusive), when cropped. */
  readonly window?: CanvasBox;
  readonly marginMm: number;
  readonly probeSlices: readonly number[];
  /** Slices that ran on a window. */
  readonly croppedSlices: number;
  /** Slices whose cropped mask touched the window's edge and ran again on the whole canvas. */
  readonly edgeFallbacks: readonly number[];
}

export interface LaSlicesOptions {
  /** Whole-canvas slices per network call; windows take as many slices as fit the same pixels. */
  readonly batchSlices: number;
  readonly threshold: number;
  /** Crop (the method setting AND a model that takes any input size). */
  readonly crop: boolean;
  /** Why not, when crop is false. */
  readonly cropOffReason?: string;
  readonly marginMm?: number;
  /** Called after each piece of work with the stage it belongs to. */
  readonly lap?: (stage: 'la-input' | 'la-network' | 'la-restore', slices: number) => void;
}

export interface LaSlices {
  /** Thresholded LA, 0/1, on the volume's grid (before the largest-component step). */
  readonly mask: Uint8Array;
  /** Each slice's intensity statistics (the scar stage's z-score reuses them). */
  readonly statistics: readonly SliceStatistics[];
  readonly crop: LaCropReport;
}

/**
 * Runs the LA network over every slice of `image` (standard orientation), on windows where it
 * can (see the top of this file), and thresholds the probabilities onto the slice grid (into
 * `mask`, when given). The network must return count x height x width probabilities for its
 * input (check that in `network`).
 */
export async function predictLaSlices(
  image: Volume<VoxelArray>,
  network: (input: LaNetworkInput) => Promise<Float32Array>,
  options: LaSlicesOptions,
  mask: Uint8Array = new Uint8Array(image.data.length),
): Promise<LaSlices> {
  const { dims, spacing } = image.geometry;
  const nz = dims[2];
  if (mask.length !== image.data.length)
    throw new RangeError(`the LA mask has ${mask.length} voxels, the image ${image.data.length}`);
  const lap = options.lap ?? ((): void => undefined);
  const marginMm = options.marginMm ?? DEFAULT_LA_CROP_MARGIN_MM;
  const statistics = Array.from({ length: nz }, (_, k) => sliceStatistics(image.data, dims, k));
  const canvas = canvasPlacement(dims[0], dims[1], LA_INPUT_SIZE);
  const size = LA_INPUT_SIZE;
  let full: Float32Array = new Float32Array(0);
  let half: Float32Array = new Float32Array(0);

  /**
   * Runs slices on `placement` (the canvas or a window) and thresholds them onto the mask; with a
   * window, returns the slices whose mask touches its edge; `probes` collects whole canvases.
   */
  const run = async (
    slices: readonly number[],
    placement: CanvasPlacement,
    window: CanvasBox | undefined,
    probes?: Uint8Array,
  ): Promise<number[]> => {
    const w = placement.size;
    const h = canvasRows(placement);
    const perBatch = Math.max(1, Math.floor((options.batchSlices * size * size) / (w * h)));
    const edge: number[] = [];
    for (const { first, count } of consecutiveRuns(slices, perBatch)) {
      if (full.length < count * w * h) full = new Float32Array(count * w * h);
      if (half.length < (count * w * h) / 4) half = new Float32Array((count * w * h) / 4);
      for (let b = 0; b < count; b++) {
        const k = first + b;
        writeZScoredCanvas(image.data, dims, k, placement, full, b * w * h, statistics[k]);
        halveCanvas(full, b * w * h, w, half, (b * w * h) / 4, h);
      }
      lap('la-input', count);
      const out = await network({
        firstSlice: first,
        count,
        width: w,
        height: h,
        full: full.subarray(0, count * w * h),
        half: half.subarray(0, (count * w * h) / 4),
      });
      lap('la-network', count);
      for (let b = 0; b < count; b++) {
        const k = first + b;
        restoreCanvasSliceMask(out, b * w * h, placement, dims, k, mask, options.threshold);
        if (window && touchesInnerEdge(out, b * w * h, window, size, options.threshold)) {
          edge.push(k);
        }
        if (probes) {
          const at = slices.indexOf(k) * w * h;
          for (let p = 0; p < w * h; p++)
            probes[at + p] = out[b * w * h + p]! > options.threshold ? 1 : 0;
        }
      }
      lap('la-restore', count);
    }
    return edge;
  };

  const all = Array.from({ length: nz }, (_, k) => k);
  const report = (fields: Partial<LaCropReport> & Pick<LaCropReport, 'reason'>): LaSlices => ({
    mask,
    statistics,
    crop: {
      enabled: options.crop,
      cropped: false,
      marginMm,
      probeSlices: [],
      croppedSlices: 0,
      edgeFallbacks: [],
      ...fields,
    },
  });
  if (!options.crop) {
    await run(all, canvas, undefined);
    return report({ reason: options.cropOffReason ?? 'off: every slice on the whole canvas' });
  }
  const probes = probeSlices(nz);
  const probed = new Uint8Array(probes.length * size * size);
  await run(probes, canvas, undefined, probed);
  const box = atriumBox(probed, probes.length, size);
  const rest = all.filter((k) => !probes.includes(k));
  if (!box) {
    await run(rest, canvas, undefined);
    return report({
      reason: 'the probe slices found no LA: every slice on the whole canvas',
      probeSlices: probes,
    });
  }
  const window = cropWindow(box, marginPixels(marginMm, spacing));
  if (window.x1 - window.x0 === size && window.y1 - window.y0 === size) {
    await run(rest, canvas, undefined);
    return report({
      reason: 'the window would be the whole canvas: every slice on the whole canvas',
      probeSlices: probes,
    });
  }
  const edge = await run(rest, windowPlacement(canvas, window), window);
  // Re-run where the crop may have cut the LA off: those slices then match the whole canvas.
  await run(edge, canvas, undefined);
  return report({
    cropped: true,
    reason:
      edge.length > 0
        ? `cropped; ${edge.length} slice(s) touching the window's edge re-run on the whole canvas`
        : 'cropped',
    window,
    probeSlices: probes,
    croppedSlices: rest.length - edge.length,
    edgeFallbacks: edge,
  });
}
