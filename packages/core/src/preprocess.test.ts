import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildLaInputBatch,
  buildLaTargetBatch,
  canvasPlacement,
  halveCanvas,
  restoreCanvasSlice,
  restoreCanvasSliceMask,
  sliceStatistics,
  writeCanvas,
  writeZScoredCanvas,
} from './preprocess.js';
import { makeGeometry, makeVolume, type Vec3 } from './volume.js';

describe('sliceStatistics and z-scoring', () => {
  it('uses the population standard deviation of the slice alone', () => {
    // Slice 0: 1 2 3 4 (mean 2.5, population std sqrt(1.25)); slice 1: constant 7.
    const data = Int16Array.from([1, 2, 3, 4, 7, 7, 7, 7]);
    const s0 = sliceStatistics(data, [2, 2, 2], 0);
    expect(s0.mean).toBe(2.5);
    expect(s0.std).toBeCloseTo(Math.sqrt(1.25), 12);
    const out = new Float32Array(16);
    const placement = canvasPlacement(2, 2, 4);
    writeZScoredCanvas(data, [2, 2, 2], 0, placement, out);
    // 2 x 2 centred in 4 x 4: rows 1-2, columns 1-2.
    const z = (v: number): number => Math.fround((v - 2.5) / Math.sqrt(1.25));
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, z(1), z(2), 0, 0, z(3), z(4), 0, 0, 0, 0, 0]);
  });

  it('gives the same statistics for 16-bit (one pass) and float (two passes) slices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -32768, max: 32767 }), { minLength: 1, maxLength: 300 }),
        (values) => {
          const a = sliceStatistics(Int16Array.from(values), [values.length, 1, 1], 0);
          const b = sliceStatistics(Float64Array.from(values), [values.length, 1, 1], 0);
          expect(a.mean).toBeCloseTo(b.mean, 9);
          expect(Math.abs(a.std - b.std)).toBeLessThan(1e-9 * Math.max(1, b.std) + 1e-7);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('names a slice with NaN intensities', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, Number.NaN, 7, 8]);
    expect(sliceStatistics(data, [2, 2, 2], 0).mean).toBe(2.5);
    expect(() => sliceStatistics(data, [2, 2, 2], 1)).toThrow(
      /slice 1 contains non-finite intensities/,
    );
  });

  it('turns a constant slice into zeros, not NaN', () => {
    const data = Int16Array.from([1, 2, 3, 4, 7, 7, 7, 7]);
    const out = new Float32Array(16).fill(9);
    writeZScoredCanvas(data, [2, 2, 2], 1, canvasPlacement(2, 2, 4), out);
    expect(Array.from(out).every((v) => v === 0)).toBe(true);
  });
});

describe('canvasPlacement', () => {
  it('pads and crops by the spec numbers', () => {
    expect(canvasPlacement(480, 480)).toMatchObject({ offsetX: 80, offsetY: 80 });
    expect(canvasPlacement(576, 576)).toMatchObject({ offsetX: 32, offsetY: 32 });
    expect(canvasPlacement(864, 864)).toMatchObject({ offsetX: -112, offsetY: -112 });
    expect(canvasPlacement(784, 784)).toMatchObject({ offsetX: -72 });
    expect(canvasPlacement(768, 768)).toMatchObject({ offsetX: -64 });
    expect(canvasPlacement(640, 640)).toMatchObject({ offsetX: 0, offsetY: 0 });
  });

  it('puts the odd pixel at the end and treats rows and columns independently', () => {
    const p = canvasPlacement(639, 643);
    expect(p.offsetX).toBe(0); // pad 0 left, 1 right
    expect(p.offsetY).toBe(-1); // crop 1 top, 2 bottom
    const q = canvasPlacement(3, 6, 4);
    expect(q).toMatchObject({ offsetX: 0, offsetY: -1 });
  });

  it('places a non-square slice as hand-computed', () => {
    // 3 columns x 6 rows onto 4 x 4: column offset 0 (pad right 1), row offset -1 (crop top 1, bottom 1).
    const data = Float32Array.from({ length: 18 }, (_, v) => v + 1);
    const out = new Float32Array(16);
    writeCanvas(data, [3, 6, 1], 0, canvasPlacement(3, 6, 4), out);
    expect(Array.from(out)).toEqual([4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0, 13, 14, 15, 0]);
  });
});

describe('pad/crop round trip', () => {
  it('restores exactly, with cropped-away pixels set to 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 2, max: 10 }),
        (nx, ny, size) => {
          const dims: Vec3 = [nx, ny, 2];
          const data = Float32Array.from({ length: nx * ny * 2 }, (_, v) => 1 + v);
          const placement = canvasPlacement(nx, ny, size);
          const canvas = new Float32Array(size * size);
          writeCanvas(data, dims, 1, placement, canvas);
          const back = new Float32Array(nx * ny * 2).fill(-1);
          restoreCanvasSlice(canvas, 0, placement, dims, 1, back);
          for (let j = 0; j < ny; j++) {
            for (let i = 0; i < nx; i++) {
              const x = i + placement.offsetX;
              const y = j + placement.offsetY;
              const kept = x >= 0 && y >= 0 && x < size && y < size;
              const v = i + nx * (j + ny);
              expect(back[v]).toBe(kept ? data[v] : 0);
            }
          }
          expect(Array.from(back.subarray(0, nx * ny)).every((v) => v === -1)).toBe(true); // slice 0 untouched
          // Every canvas pixel holds either its source pixel or padding.
          let nonZero = 0;
          for (const v of canvas) if (v !== 0) nonZero++;
          expect(nonZero).toBe(Math.min(nx, size) * Math.min(ny, size));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('thresholds while restoring: p > threshold', () => {
    const placement = canvasPlacement(2, 1, 2);
    const canvas = Float32Array.from([0, 0, 0.5, 0.51]);
    const out = new Uint8Array(2);
    restoreCanvasSliceMask(canvas, 0, placement, [2, 1, 1], 0, out);
    // 2 x 1 centred in 2 x 2: row offset 0 (pad goes to the bottom).
    expect(Array.from(out)).toEqual([0, 0]);
    restoreCanvasSliceMask(Float32Array.from([0.5, 0.51, 0, 0]), 0, placement, [2, 1, 1], 0, out);
    expect(Array.from(out)).toEqual([0, 1]);
  });
});

describe('halveCanvas', () => {
  it('is the 2 x 2 block mean', () => {
    const input = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const out = new Float32Array(4);
    halveCanvas(input, 0, 4, out);
    expect(Array.from(out)).toEqual([3.5, 5.5, 11.5, 13.5]);
  });

  it('equals bilinear resizing with half-pixel centres at scale 0.5 (align_corners = false)', () => {
    const size = 8;
    const input = Float32Array.from({ length: size * size }, (_, v) => Math.sin(v * 1.7) * 10);
    const out = new Float32Array(16);
    halveCanvas(input, 0, size, out);
    const at = (x: number, y: number): number => input[x + size * y]!;
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        // Source coordinate of output centre, PyTorch/OpenCV convention.
        const sx = (x + 0.5) * 2 - 0.5;
        const sy = (y + 0.5) * 2 - 0.5;
        const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0; // prettier-ignore
        const bilinear =
          (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
          fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        expect(out[x + 4 * y]).toBeCloseTo(bilinear, 5);
      }
    }
  });
});

describe('buildLaInputBatch', () => {
  it('builds N x 1 x 640 x 640 and N x 1 x 320 x 320 tensors for a slice range', () => {
    const geometry = makeGeometry({ dims: [480, 480, 3], spacing: [0.625, 0.625, 1.25] });
    const data = new Int16Array(480 * 480 * 3);
    for (let v = 0; v < data.length; v++) data[v] = (v * 7919) % 1000;
    const image = makeVolume(geometry, data);
    const batch = buildLaInputBatch(image, 1, 2);
    expect(batch.full.length).toBe(2 * 640 * 640);
    expect(batch.half.length).toBe(2 * 320 * 320);
    // Second tensor = slice 2; its pixel (0, 0) sits at canvas (80, 80).
    const stats = sliceStatistics(data, geometry.dims, 2);
    expect(batch.full[640 * 640 + 80 * 640 + 80]).toBeCloseTo(
      (data[2 * 480 * 480]! - stats.mean) / stats.std,
      5,
    );
    expect(batch.full[640 * 640]).toBe(0); // padding
    // Half-scale pixel (40, 40) = mean of canvas (80..81, 80..81).
    const f = (x: number, y: number): number => batch.full[640 * 640 + y * 640 + x]!;
    expect(batch.half[320 * 320 + 40 * 320 + 40]).toBeCloseTo(
      (f(80, 80) + f(81, 80) + f(80, 81) + f(81, 81)) / 4,
      6,
    );
    // Reusing the buffers writes the same values.
    const again = buildLaInputBatch(image, 1, 2, {
      full: new Float32Array(3 * 640 * 640),
      half: new Float32Array(3 * 320 * 320),
    });
    expect(again.full.length).toBe(batch.full.length);
    expect(again.full[640 * 640 + 80 * 640 + 80]).toBe(batch.full[640 * 640 + 80 * 640 + 80]);
    expect(() => buildLaInputBatch(image, 2, 2)).toThrow(/slice 3 is outside/);
  });

  it('places training targets like the image', () => {
    const geometry = makeGeometry({ dims: [4, 2, 1], spacing: [1, 1, 1] });
    const mask = makeVolume(geometry, Uint8Array.from([0, 1, 1, 0, 0, 0, 1, 255]));
    const target = buildLaTargetBatch(mask, 0, 1, 4);
    expect(Array.from(target)).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
  });
});
