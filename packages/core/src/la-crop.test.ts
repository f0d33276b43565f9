import { describe, expect, it } from 'vitest';
import {
  LA_CROP_MIN_SIDE,
  LA_CROP_STRIDE,
  consecutiveRuns,
  cropWindow,
  atriumBox,
  marginPixels,
  predictLaSlices,
  probeSlices,
  touchesInnerEdge,
  windowPlacement,
  type CanvasBox,
} from './la-crop.js';
import {
  LA_INPUT_SIZE,
  canvasPlacement,
  restoreCanvasSliceMask,
  sliceStatistics,
  writeZScoredCanvas,
} from './preprocess.js';
import type { LaNetworkInput } from './stages.js';
import { makeGeometry, makeVolume, type Vec3, type Volume } from './volume.js';

const SIDE = LA_INPUT_SIZE;

/** The first index where two arrays differ (-1: none): toEqual on millions of voxels is slow. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('atriumBox', () => {
  const side = 64;
  const probes = (count: number): Uint8Array => new Uint8Array(count * side * side);
  const square = (m: Uint8Array, c: number, x0: number, y0: number, n: number): void => {
    for (let y = y0; y < y0 + n; y++)
      m.fill(1, c * side * side + y * side + x0, c * side * side + y * side + x0 + n);
  };

  it('bounds the atrium over all probe canvases (x1, y1 exclusive); none -> undefined', () => {
    const m = probes(3);
    expect(atriumBox(m, 3, side)).toBeUndefined();
    square(m, 0, 20, 22, 10);
    square(m, 2, 25, 18, 12);
    expect(atriumBox(m, 3, side)).toEqual({ x0: 20, y0: 18, x1: 37, y1: 32 });
  });

  it('leaves out specks under a tenth of the largest component, on any canvas', () => {
    const m = probes(2);
    square(m, 0, 20, 20, 10); // 100 pixels
    square(m, 0, 40, 40, 4); // 16: kept
    square(m, 1, 60, 2, 3); // 9, alone on its canvas: a speck
    expect(atriumBox(m, 2, side)).toEqual({ x0: 20, y0: 20, x1: 44, y1: 44 });
    expect(atriumBox(m, 2, side, 0.2)).toEqual({ x0: 20, y0: 20, x1: 30, y1: 30 });
  });
});

describe('the margin', () => {
  it('converts mm to whole pixels per axis, rounding up', () => {
    expect(marginPixels(20, [0.625, 0.625, 2.5])).toEqual({ x: 32, y: 32 });
    expect(marginPixels(20, [0.625, 1.25, 2.5])).toEqual({ x: 32, y: 16 });
    expect(marginPixels(10, [0.7, 0.9, 1])).toEqual({ x: 15, y: 12 });
    expect(marginPixels(0, [1, 1, 1])).toEqual({ x: 0, y: 0 });
    expect(() => marginPixels(-1, [1, 1, 1])).toThrow(RangeError);
    expect(() => marginPixels(10, [0, 1, 1])).toThrow(RangeError);
  });
});

describe('cropWindow', () => {
  it('adds the margin, then grows to the 64-pixel grid and the 256-pixel minimum', () => {
    // 300..359 - 32 = 268 -> 256; 360 + 32 = 392 -> 448; 192 wide -> grown to 256 (right first).
    expect(cropWindow({ x0: 300, y0: 280, x1: 360, y1: 340 }, { x: 32, y: 32 })).toEqual({
      x0: 256,
      y0: 192,
      x1: 512,
      y1: 448,
    });
    // A wide box: only the grid across, grown in turn (right, left) to 256 down.
    expect(cropWindow({ x0: 100, y0: 280, x1: 500, y1: 300 }, { x: 10, y: 0 })).toEqual({
      x0: 64,
      y0: 192,
      x1: 512,
      y1: 448,
    });
  });

  it('stays inside the canvas, growing away from its border', () => {
    expect(cropWindow({ x0: 0, y0: 0, x1: 10, y1: 10 }, { x: 32, y: 32 })).toEqual({
      x0: 0,
      y0: 0,
      x1: 256,
      y1: 256,
    });
    expect(cropWindow({ x0: 630, y0: 600, x1: 640, y1: 640 }, { x: 32, y: 32 })).toEqual({
      x0: 384,
      y0: 384,
      x1: 640,
      y1: 640,
    });
    expect(cropWindow({ x0: 5, y0: 5, x1: 630, y1: 630 }, { x: 32, y: 32 })).toEqual({
      x0: 0,
      y0: 0,
      x1: 640,
      y1: 640,
    });
  });

  it('always holds the box plus margin, on the grid, at least the minimum, inside the canvas', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let t = 0; t < 500; t++) {
      const x0 = rand(SIDE);
      const y0 = rand(SIDE);
      const box: CanvasBox = { x0, y0, x1: x0 + 1 + rand(SIDE - x0), y1: y0 + 1 + rand(SIDE - y0) };
      const margin = { x: rand(80), y: rand(80) };
      const w = cropWindow(box, margin);
      for (const [a, b, lo, hi, m] of [
        [w.x0, w.x1, box.x0, box.x1, margin.x],
        [w.y0, w.y1, box.y0, box.y1, margin.y],
      ] as const) {
        expect(a % LA_CROP_STRIDE).toBe(0);
        expect(b % LA_CROP_STRIDE).toBe(0);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(SIDE);
        expect(b - a).toBeGreaterThanOrEqual(LA_CROP_MIN_SIDE);
        expect(a).toBeLessThanOrEqual(Math.max(0, lo - m));
        expect(b).toBeGreaterThanOrEqual(Math.min(SIDE, hi + m));
      }
    }
  });
});

/** A slice volume with a ramp of values, so every pixel's place shows. */
function rampVolume(nx: number, ny: number, nz: number): Volume<Int16Array> {
  const data = new Int16Array(nx * ny * nz);
  for (let p = 0; p < data.length; p++) data[p] = (p * 37) % 1001;
  return makeVolume(makeGeometry({ dims: [nx, ny, nz], spacing: [1, 1, 2] }), data);
}

describe('windowPlacement', () => {
  for (const [nx, ny] of [
    [480, 500],
    [700, 650],
    [639, 641],
  ] as const) {
    it(`writes exactly the window of the whole canvas, and restores it (${nx} x ${ny})`, () => {
      const image = rampVolume(nx, ny, 2);
      const dims = image.geometry.dims;
      const canvas = canvasPlacement(nx, ny);
      const window = { x0: 128, y0: 64, x1: 448, y1: 320 };
      const placement = windowPlacement(canvas, window);
      const w = window.x1 - window.x0;
      const h = window.y1 - window.y0;
      const whole = new Float32Array(SIDE * SIDE);
      writeZScoredCanvas(image.data, dims, 1, canvas, whole);
      const crop = new Float32Array(w * h);
      writeZScoredCanvas(image.data, dims, 1, placement, crop);
      const expected = new Float32Array(w * h);
      for (let y = 0; y < h; y++) {
        expected.set(
          whole.subarray((y + window.y0) * SIDE + window.x0, (y + window.y0) * SIDE + window.x1),
          y * w,
        );
      }
      expect(firstDifference(crop, expected)).toBe(-1);
      expect(crop.some((v) => v !== 0)).toBe(true);
      // The same probabilities restored from the window and from a canvas that is zero outside it.
      const probs = new Float32Array(w * h).map((_, p) => ((p * 7) % 10) / 10);
      const canvasProbs = new Float32Array(SIDE * SIDE);
      for (let y = 0; y < h; y++)
        canvasProbs.set(probs.subarray(y * w, (y + 1) * w), (y + window.y0) * SIDE + window.x0);
      const fromWindow = new Uint8Array(nx * ny * 2).fill(7);
      const fromCanvas = new Uint8Array(nx * ny * 2);
      restoreCanvasSliceMask(probs, 0, placement, dims, 1, fromWindow, 0.5);
      restoreCanvasSliceMask(canvasProbs, 0, canvas, dims, 1, fromCanvas, 0.5);
      expect(firstDifference(fromWindow.subarray(nx * ny), fromCanvas.subarray(nx * ny))).toBe(-1);
      expect(fromWindow.subarray(nx * ny).some((v) => v === 1)).toBe(true);
      expect(fromWindow[0]).toBe(7); // other slices untouched
    });
  }
});

describe('touchesInnerEdge', () => {
  const window = { x0: 0, y0: 128, x1: 256, y1: 384 };
  const w = 256;
  const map = (x: number, y: number): Float32Array => {
    const m = new Float32Array(w * w);
    m[y * w + x] = 0.9;
    return m;
  };
  it('counts the edges inside the canvas, not the canvas border', () => {
    expect(touchesInnerEdge(map(0, 100), 0, window, SIDE, 0.5)).toBe(false); // canvas border
    expect(touchesInnerEdge(map(255, 100), 0, window, SIDE, 0.5)).toBe(true);
    expect(touchesInnerEdge(map(100, 0), 0, window, SIDE, 0.5)).toBe(true);
    expect(touchesInnerEdge(map(100, 255), 0, window, SIDE, 0.5)).toBe(true);
    expect(touchesInnerEdge(map(100, 100), 0, window, SIDE, 0.5)).toBe(false);
    expect(touchesInnerEdge(map(255, 100), 0, window, SIDE, 0.95)).toBe(false);
  });
});

describe('probe slices and batching', () => {
  it('spreads the probes over the middle of the stack', () => {
    expect(probeSlices(88)).toEqual([17, 30, 44, 57, 70]);
    expect(probeSlices(3)).toEqual([0, 1, 2]);
    expect(probeSlices(6)).toEqual([1, 2, 3, 4]);
    expect(() => probeSlices(0)).toThrow(RangeError);
  });

  it('groups slices into consecutive runs', () => {
    expect(consecutiveRuns([0, 1, 2, 3, 4, 6, 7, 9], 3)).toEqual([
      { first: 0, count: 3 },
      { first: 3, count: 2 },
      { first: 6, count: 2 },
      { first: 9, count: 1 },
    ]);
    expect(consecutiveRuns([], 4)).toEqual([]);
  });
});

// A stack with an "atrium" disc (intensity 1000) at (380, 300) of radius r(k) on each slice,
// background 100 with texture, and a very bright (3000) block far from it that weighs on the
// slice's statistics: a crop z-scored with its own statistics would see other numbers.
const NX = 600;
const NY = 560;
function atriumStack(radius: (k: number) => number, nz = 16): Volume<Int16Array> {
  const data = new Int16Array(NX * NY * nz);
  for (let k = 0; k < nz; k++) {
    const r = radius(k);
    for (let j = 0; j < NY; j++) {
      for (let i = 0; i < NX; i++) {
        let v = 100 + ((i * 31 + j * 17 + k * 7) % 11) - 5;
        if (r > 0 && Math.hypot(i - 380, j - 300) <= r) v = 1000;
        if (i < 30 && j < 100) v = 3000;
        data[i + NX * (j + NY * k)] = v;
      }
    }
  }
  const spacing: Vec3 = [0.625, 0.625, 2.5];
  return makeVolume(makeGeometry({ dims: [NX, NY, nz], spacing }), data);
}

/**
 * Pointwise fake MSWS-Net (p = 0.9 where 1 < z < 8): a crop gives the canvas's answer exactly.
 * Records each call with copies of its inputs.
 */
function fakeNetwork(calls: LaNetworkInput[], isLa = (z: number): boolean => z > 1 && z < 8) {
  return async (input: LaNetworkInput): Promise<Float32Array> => {
    calls.push({ ...input, full: input.full.slice(), half: input.half.slice() });
    expect(input.full.length).toBe(input.count * input.width * input.height);
    expect(input.half.length).toBe((input.count * input.width * input.height) / 4);
    return input.full.map((z) => (isLa(z) ? 0.9 : 0.1));
  };
}

/** Slice k's full-scale (or half-scale) input from a run's recorded calls. */
function inputOf(calls: LaNetworkInput[], k: number, scale: 'full' | 'half'): Float32Array {
  const call = calls.find((c) => c.firstSlice <= k && k < c.firstSlice + c.count)!;
  const n = scale === 'full' ? call.width * call.height : (call.width * call.height) / 4;
  const b = k - call.firstSlice;
  return call[scale].subarray(b * n, (b + 1) * n);
}

/** The window's part of a whole-canvas input (scale 1 or 2). */
function windowOf(canvas: Float32Array, window: CanvasBox, scale: number): Float32Array {
  const side = SIDE / scale;
  const [x0, y0, x1, y1] = [window.x0, window.y0, window.x1, window.y1].map((v) => v / scale);
  const out = new Float32Array((x1! - x0!) * (y1! - y0!));
  for (let y = y0!; y < y1!; y++)
    out.set(canvas.subarray(y * side + x0!, y * side + x1!), (y - y0!) * (x1! - x0!));
  return out;
}

describe('predictLaSlices', () => {
  const options = { batchSlices: 4, threshold: 0.5 };

  it('gives the whole-canvas masks from windows around the atrium', async () => {
    const image = atriumStack((k) => (k < 2 || k > 13 ? 0 : 40));
    const offCalls: LaNetworkInput[] = [];
    const onCalls: LaNetworkInput[] = [];
    const off = await predictLaSlices(image, fakeNetwork(offCalls), { ...options, crop: false });
    const on = await predictLaSlices(image, fakeNetwork(onCalls), { ...options, crop: true });
    expect(off.mask.some((v) => v === 1)).toBe(true);
    expect(firstDifference(on.mask, off.mask)).toBe(-1);
    expect(on.statistics).toEqual(
      Array.from({ length: 16 }, (_, k) => sliceStatistics(image.data, image.geometry.dims, k)),
    );
    expect(off.crop).toMatchObject({ enabled: false, cropped: false, croppedSlices: 0 });
    expect(offCalls.every((c) => c.width === SIDE && c.height === SIDE)).toBe(true);

    // Disc at canvas (380 + 20, 300 + 40) r 40, margin 20 mm = 32 px: x 328..473 -> 320..512,
    // grown to 256; y 268..413 -> 256..448, grown to 256.
    expect(on.crop).toMatchObject({
      enabled: true,
      cropped: true,
      reason: 'cropped',
      window: { x0: 320, y0: 256, x1: 576, y1: 512 },
      probeSlices: [3, 5, 8, 10, 12],
      croppedSlices: 11,
      edgeFallbacks: [],
    });
    const whole = onCalls.filter((c) => c.width === SIDE);
    const cropped = onCalls.filter((c) => c.width !== SIDE);
    expect(whole.reduce((n, c) => n + c.count, 0)).toBe(5);
    expect(cropped.every((c) => c.width === 256 && c.height === 256)).toBe(true);
    expect(cropped.reduce((n, c) => n + c.count, 0)).toBe(11);
    // Windows batch as many slices as fit the pixels of 4 whole canvases (here all of a run).
    expect(Math.max(...cropped.map((c) => c.count))).toBeLessThanOrEqual(
      Math.floor((4 * SIDE * SIDE) / (256 * 256)),
    );
    // Each cropped slice saw exactly the window of its whole canvas, at both scales (z-scored
    // with the whole slice's statistics: the bright block outside the window counts).
    for (let k = 0; k < 16; k++) {
      if (on.crop.probeSlices.includes(k)) continue;
      const full = windowOf(inputOf(offCalls, k, 'full'), on.crop.window!, 1);
      const half = windowOf(inputOf(offCalls, k, 'half'), on.crop.window!, 2);
      expect(firstDifference(inputOf(onCalls, k, 'full'), full)).toBe(-1);
      expect(firstDifference(inputOf(onCalls, k, 'half'), half)).toBe(-1);
    }
  });

  it('re-runs on the whole canvas a slice whose cropped LA touches the window edge', async () => {
    // Slice 14 (not a probe) holds a disc far bigger than the probes saw.
    const image = atriumStack((k) => (k === 14 ? 200 : k < 2 || k > 13 ? 0 : 40));
    const off = await predictLaSlices(image, fakeNetwork([]), { ...options, crop: false });
    const calls: LaNetworkInput[] = [];
    const on = await predictLaSlices(image, fakeNetwork(calls), { ...options, crop: true });
    expect(on.crop.edgeFallbacks).toEqual([14]);
    expect(on.crop.croppedSlices).toBe(10);
    expect(on.crop.reason).toMatch(/1 slice\(s\) touching the window's edge re-run/);
    expect(firstDifference(on.mask, off.mask)).toBe(-1);
    expect(calls[calls.length - 1]).toMatchObject({ firstSlice: 14, count: 1, width: SIDE });
  });

  it('runs the whole study on the whole canvas when the probes find no LA', async () => {
    // LA only on slice 0 and 1: no probe sees it.
    const image = atriumStack((k) => (k < 2 ? 40 : 0));
    const calls: LaNetworkInput[] = [];
    const on = await predictLaSlices(image, fakeNetwork(calls), { ...options, crop: true });
    expect(on.crop).toMatchObject({ enabled: true, cropped: false, croppedSlices: 0 });
    expect(on.crop.reason).toMatch(/probe slices found no LA/);
    expect(calls.every((c) => c.width === SIDE && c.height === SIDE)).toBe(true);
    expect(calls.reduce((n, c) => n + c.count, 0)).toBe(16);
    const off = await predictLaSlices(image, fakeNetwork([]), { ...options, crop: false });
    expect(firstDifference(on.mask, off.mask)).toBe(-1);
    expect(on.mask.some((v) => v === 1)).toBe(true);
  });

  it('runs on the whole canvas when the window would be all of it', async () => {
    const image = atriumStack(() => 40);
    const calls: LaNetworkInput[] = [];
    const everywhere = fakeNetwork(calls, () => true);
    const on = await predictLaSlices(image, everywhere, { ...options, crop: true });
    expect(on.crop.cropped).toBe(false);
    expect(on.crop.reason).toMatch(/whole canvas: every slice/);
    expect(calls.every((c) => c.width === SIDE)).toBe(true);
  });

  it('says why when cropping is off, and writes into the given mask', async () => {
    const image = atriumStack(() => 40, 3);
    const mask = new Uint8Array(image.data.length);
    const off = await predictLaSlices(
      image,
      fakeNetwork([]),
      { ...options, crop: false, cropOffReason: 'off by the method setting' },
      mask,
    );
    expect(off.mask).toBe(mask);
    expect(off.crop.reason).toBe('off by the method setting');
    await expect(
      predictLaSlices(image, fakeNetwork([]), options as never, new Uint8Array(3)),
    ).rejects.toThrow(RangeError);
  });
});
