import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyNonZero,
  countNonZeroBytes,
  cropMask,
  forEachNonZero,
  nonZeroBox,
} from './mask-scan.js';

// Masks as views at every byte offset, so the word-at-a-time path meets every alignment.
const maskView = fc
  .record({
    offset: fc.integer({ min: 0, max: 7 }),
    bytes: fc.array(fc.constantFrom(0, 0, 0, 0, 1, 2, 255), { minLength: 0, maxLength: 60 }),
  })
  .map(({ offset, bytes }) => {
    const buffer = new Uint8Array(offset + bytes.length + 3);
    buffer.set(bytes, offset);
    return buffer.subarray(offset, offset + bytes.length);
  });

describe('mask scans', () => {
  it('visit, count and test exactly the non-zero bytes of any range', () => {
    fc.assert(
      fc.property(maskView, fc.nat(), fc.nat(), (mask, a, b) => {
        const start = mask.length ? a % (mask.length + 1) : 0;
        const end = start + (mask.length - start ? b % (mask.length - start + 1) : 0);
        const expected: number[] = [];
        for (let v = start; v < end; v++) if (mask[v] !== 0) expected.push(v);
        const seen: number[] = [];
        forEachNonZero(mask, (v) => seen.push(v), start, end);
        expect(seen).toEqual(expected);
        expect(countNonZeroBytes(mask, start, end)).toBe(expected.length);
        expect(anyNonZero(mask, start, end)).toBe(expected.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('finds the bounding box and crops it as 0/1', () => {
    const dims = [5, 4, 3] as const;
    const mask = new Uint8Array(60);
    mask[1 + 5 * (2 + 4 * 0)] = 7; // (1, 2, 0)
    mask[3 + 5 * (1 + 4 * 2)] = 1; // (3, 1, 2)
    expect(nonZeroBox(mask, dims)).toEqual({ x0: 1, y0: 1, z0: 0, bx: 3, by: 2, bz: 3 });
    const crop = cropMask(mask, dims, nonZeroBox(mask, dims)!);
    expect(crop.length).toBe(18);
    expect(crop[0 + 3 * (1 + 2 * 0)]).toBe(1);
    expect(crop[2 + 3 * (0 + 2 * 2)]).toBe(1);
    expect(crop.reduce((s, v) => s + v, 0)).toBe(2);
    expect(nonZeroBox(new Uint8Array(60), dims)).toBeUndefined();
    expect(() => nonZeroBox(mask, [5, 4, 2])).toThrow(/needs 40/);
  });

  it('finds a box that is one slice thick', () => {
    const mask = new Uint8Array(4 * 3 * 2);
    mask[1 + 4 * (2 + 3 * 1)] = 1;
    mask[3 + 4 * (1 + 3 * 1)] = 1;
    expect(nonZeroBox(mask, [4, 3, 2])).toEqual({ x0: 1, y0: 1, z0: 1, bx: 3, by: 2, bz: 1 });
    expect(nonZeroBox(new Uint8Array(24), [4, 3, 2])).toBeUndefined();
  });
});
