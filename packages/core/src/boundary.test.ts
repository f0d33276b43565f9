import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundaryBand,
  boundaryPixels,
  samplePatchCentres,
  traceContours,
  type SliceMask,
} from './boundary.js';

function fromRows(rows: string[]): SliceMask {
  const columns = rows[0]!.length;
  const data = Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0));
  return { data, columns, rows: rows.length };
}

function rectangle(
  columns: number,
  rows: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
): SliceMask {
  const data = new Uint8Array(columns * rows);
  for (let j = y0; j < y0 + h; j++) for (let i = x0; i < x0 + w; i++) data[i + columns * j] = 1;
  return { data, columns, rows };
}

const isNeighbour = (a: number, b: number, columns: number): boolean => {
  const dx = Math.abs((a % columns) - (b % columns));
  const dy = Math.abs(Math.floor(a / columns) - Math.floor(b / columns));
  return Math.max(dx, dy) === 1;
};

describe('boundaryPixels', () => {
  it('marks mask pixels with a 4-neighbour outside (image edge counts as outside)', () => {
    const m = fromRows(['#####', '#####', '#####', '.....']);
    expect(Array.from(boundaryPixels(m))).toEqual([
      1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    ]);
  });
});

describe('traceContours', () => {
  it('traces a rectangle border once, as a closed 8-connected loop', () => {
    const m = rectangle(20, 12, 3, 2, 10, 6);
    const contours = traceContours(m);
    expect(contours).toHaveLength(1);
    const c = contours[0]!;
    expect(c.length).toBe(2 * (10 + 6) - 4); // every border pixel once
    expect(c[0]).toBe(3 + 20 * 2); // starts at the first pixel in raster order
    expect(new Set(c).size).toBe(c.length);
    for (let t = 0; t < c.length; t++)
      expect(isNeighbour(c[t]!, c[(t + 1) % c.length]!, 20)).toBe(true);
    // Counter-clockwise on screen: from the top-left corner the trace goes down first.
    expect(c[1]).toBe(3 + 20 * 3);
  });

  it('traces holes and separate components', () => {
    const m = fromRows([
      '..........',
      '.#####..#.',
      '.#...#....',
      '.#...#....',
      '.#####....',
      '..........',
    ]);
    const contours = traceContours(m);
    // The lone pixel; the hole border (the 10 pixels 4-adjacent to the 3 x 2 hole: an 8-connected
    // loop skips the ring's inner corners); the ring's outer border.
    expect(contours.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 10, 14]);
  });

  it('visits a one-pixel-wide line both ways and stops', () => {
    const m = fromRows(['.....', '.###.', '.....']);
    const [c] = traceContours(m);
    expect(Array.from(c!)).toEqual([6, 7, 8, 7]);
  });

  it('covers exactly the boundary pixels, on random masks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 14 }),
        fc.integer({ min: 1, max: 14 }),
        fc.array(fc.boolean(), { minLength: 196, maxLength: 196 }),
        (columns, rows, bits) => {
          const data = Uint8Array.from({ length: columns * rows }, (_, p) => (bits[p] ? 1 : 0));
          const m: SliceMask = { data, columns, rows };
          const contours = traceContours(m);
          const traced = new Uint8Array(columns * rows);
          for (const c of contours) {
            for (let t = 0; t < c.length; t++) {
              traced[c[t]!] = 1;
              if (c.length > 1)
                expect(isNeighbour(c[t]!, c[(t + 1) % c.length]!, columns)).toBe(true);
            }
          }
          expect(Array.from(traced)).toEqual(Array.from(boundaryPixels(m)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns nothing for an empty slice', () => {
    expect(traceContours({ data: new Uint8Array(9), columns: 3, rows: 3 })).toEqual([]);
  });
});

describe('samplePatchCentres', () => {
  it('takes every 16th contour point', () => {
    const m = rectangle(20, 12, 3, 2, 10, 6); // contour of 28 points -> points 0 and 16
    const [c] = traceContours(m);
    const centres = samplePatchCentres(m);
    expect(Array.from(centres)).toEqual([
      c![0]! % 20,
      Math.floor(c![0]! / 20),
      c![16]! % 20,
      Math.floor(c![16]! / 20),
    ]);
    expect(samplePatchCentres(m, 7).length / 2).toBe(4); // 0, 7, 14, 21
  });

  it('does not repeat a pixel a thin contour passes twice', () => {
    const m = fromRows(['.....', '.###.', '.....']);
    expect(Array.from(samplePatchCentres(m, 1))).toEqual([1, 1, 2, 1, 3, 1]);
  });
});

describe('boundaryBand', () => {
  it('is the set of pixels within bandMm of a boundary pixel (brute force check)', () => {
    const m = fromRows([
      '............',
      '............',
      '....####....',
      '....####....',
      '....####....',
      '....####....',
      '............',
      '............',
    ]);
    const spacing: [number, number] = [0.7, 1.3];
    const bandMm = 2;
    const band = boundaryBand(m, spacing, bandMm);
    const b = boundaryPixels(m);
    for (let p = 0; p < band.length; p++) {
      let near = false;
      for (let q = 0; q < b.length; q++) {
        if (!b[q]) continue;
        const dx = ((p % 12) - (q % 12)) * spacing[0];
        const dy = (Math.floor(p / 12) - Math.floor(q / 12)) * spacing[1];
        if (Math.hypot(dx, dy) <= bandMm + 1e-9) near = true;
      }
      expect(band[p]).toBe(near ? 1 : 0);
    }
  });

  it('includes exactly the boundary with a zero band', () => {
    const m = rectangle(8, 8, 2, 2, 4, 4);
    expect(Array.from(boundaryBand(m, [1, 1], 0))).toEqual(Array.from(boundaryPixels(m)));
  });
});
