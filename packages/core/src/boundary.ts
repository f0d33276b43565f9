/**
 * Boundary geometry for Boundary2Patches, per 2D slice of the LA mask, on the ORIGINAL grid:
 * the boundary pixels, the traced contours, the patch centres sampled along them, and the band
 * around the boundary where scar is searched.
 *
 * Definitions (the paper is silent; see method-spec "Decisions"):
 * - A boundary pixel is a mask pixel with a 4-neighbour outside the mask (pixels beyond the
 *   image edge count as outside). These are exactly the pixels an 8-connected contour passes
 *   through, for outer borders and hole borders alike.
 * - Contours: every border of the slice's 8-connected mask components, outer borders and the
 *   borders of holes, traced by Suzuki-Abe border following (1985) -- Moore-neighbour tracing
 *   with Suzuki's start and stop rules, which visits each border once even where a one-pixel-wide
 *   part is passed twice. Same as OpenCV findContours(RETR_LIST, CHAIN_APPROX_NONE).
 * - Patch centres: contour points 0, step, 2 step, ... of each contour (step counted in contour
 *   moves; a diagonal move counts 1), default step 16 px, so 64 px windows overlap by 3/4.
 *   Each contour starts at its first pixel in raster order. Centres are de-duplicated per slice.
 * - Band: pixels whose centre lies within `bandMm` (Euclidean, in-plane, anisotropic spacing
 *   honoured) of a boundary pixel's centre, on either side of the boundary.
 */

import { nonZeroBox, type MaskBox } from './mask-scan.js';

/** A 2D slice of a mask: 0 outside, non-zero inside; index = column + columns * row. */
export interface SliceMask {
  readonly data: ArrayLike<number>;
  readonly columns: number;
  readonly rows: number;
}

/** Default distance between patch centres along a contour, in contour moves. */
export const DEFAULT_PATCH_STEP_PX = 16;
/** Default half-width of the boundary band, mm (scar lies in the ~2-3 mm wall; 5 mm gives slack
 * for an LA boundary that is off by a few pixels). */
export const DEFAULT_BAND_MM = 5;

/** The mask's foreground box (a word-at-a-time scan when the data is a byte array). */
function sliceBox(m: SliceMask): MaskBox | undefined {
  const bytes =
    m.data instanceof Uint8Array ? m.data : Uint8Array.from(m.data, (v) => (v !== 0 ? 1 : 0));
  return nonZeroBox(bytes, [m.columns, m.rows, 1]);
}

function checkSliceMask(m: SliceMask): void {
  if (!Number.isInteger(m.columns) || !Number.isInteger(m.rows) || m.columns < 1 || m.rows < 1) {
    throw new RangeError(`slice size must be positive integers, got ${m.columns} x ${m.rows}`);
  }
  if (m.data.length !== m.columns * m.rows) {
    throw new RangeError(
      `slice mask has ${m.data.length} pixels, expected ${m.columns} x ${m.rows}`,
    );
  }
}

/** 0/1 per pixel: mask pixels with a 4-neighbour outside the mask or the image. */
export function boundaryPixels(mask: SliceMask): Uint8Array {
  checkSliceMask(mask);
  const { data, columns: nx, rows: ny } = mask;
  const out = new Uint8Array(nx * ny);
  const box = sliceBox(mask);
  if (!box) return out;
  for (let j = box.y0; j < box.y0 + box.by; j++) {
    for (let i = box.x0; i < box.x0 + box.bx; i++) {
      const p = i + nx * j;
      if (data[p] === 0) continue;
      if (
        i === 0 ||
        j === 0 ||
        i === nx - 1 ||
        j === ny - 1 ||
        data[p - 1] === 0 ||
        data[p + 1] === 0 ||
        data[p - nx] === 0 ||
        data[p + nx] === 0
      ) {
        out[p] = 1;
      }
    }
  }
  return out;
}

// Neighbour directions in COUNTER-clockwise order on screen (rows grow downwards):
// E, NE, N, NW, W, SW, S, SE. Clockwise = decreasing index.
const DX = [1, 1, 0, -1, -1, -1, 0, 1] as const;
const DY = [0, -1, -1, -1, 0, 1, 1, 1] as const;

/**
 * Every border of the mask (outer borders and hole borders), each as a closed sequence of pixel
 * indices (column + columns * row) in tracing order, in the order Suzuki's raster scan meets them.
 * A lone pixel is a contour of length 1.
 *
 * Works on the mask's bounding box (plus a one-pixel zero frame), so a small LA on a big slice is
 * cheap.
 */
export function traceContours(mask: SliceMask): Int32Array[] {
  checkSliceMask(mask);
  const { data, columns: nx } = mask;
  const box = sliceBox(mask);
  if (!box) return [];
  const { x0, y0 } = box;
  const x1 = x0 + box.bx - 1;
  const y1 = y0 + box.by - 1;
  // Framed working copy: f = 1 on the mask, 0 elsewhere, a zero frame all round.
  const w = x1 - x0 + 3;
  const h = y1 - y0 + 3;
  const f = new Int32Array(w * h);
  for (let j = y0; j <= y1; j++) {
    for (let i = x0; i <= x1; i++) if (data[i + nx * j] !== 0) f[i - x0 + 1 + w * (j - y0 + 1)] = 1;
  }
  const toSource = (q: number): number => {
    const fx = q % w;
    const fy = (q - fx) / w;
    return fx - 1 + x0 + nx * (fy - 1 + y0);
  };
  const step = DX.map((dx, d) => dx + w * DY[d]!);
  // Direction of a neighbour from its index difference (unique because w >= 3).
  const directionOfDelta = new Int8Array(2 * w + 3);
  step.forEach((delta, d) => (directionOfDelta[delta + w + 1] = d));

  const contours: Int32Array[] = [];
  let nbd = 1;
  let points = new Int32Array(256);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = x + w * y;
      const fp = f[p]!;
      if (fp === 0) continue;
      let from: number; // direction from p to the zero pixel that starts the border
      if (fp === 1 && f[p - 1] === 0) {
        from = 4; // outer border, start from the west neighbour
      } else if (fp >= 1 && f[p + 1] === 0) {
        from = 0; // hole border, start from the east neighbour
      } else {
        continue;
      }
      nbd++;
      // (3.1) Clockwise from `from`, the first non-zero neighbour.
      let d1 = -1;
      for (let t = 0; t < 8; t++) {
        const d = (from - t + 8) & 7;
        if (f[p + step[d]!] !== 0) {
          d1 = d;
          break;
        }
      }
      if (d1 < 0) {
        f[p] = -nbd; // a lone pixel
        contours.push(Int32Array.of(toSource(p)));
        continue;
      }
      const p1 = p + step[d1]!;
      let n = 0;
      let prev = p1;
      let cur = p;
      for (;;) {
        // (3.3) Counter-clockwise from the direction after `prev`, the first non-zero neighbour.
        const dPrev = directionOfDelta[prev - cur + w + 1]!;
        let eastExaminedZero = false;
        let next = -1;
        for (let t = 1; t <= 8; t++) {
          const d = (dPrev + t) & 7;
          const q = cur + step[d]!;
          if (f[q] !== 0) {
            next = q;
            break;
          }
          if (d === 0) eastExaminedZero = true;
        }
        // (3.4) Mark the pixel: negative when it is the right end of a run (east is outside).
        if (eastExaminedZero) f[cur] = -nbd;
        else if (f[cur] === 1) f[cur] = nbd;
        if (n === points.length) {
          const grown = new Int32Array(points.length * 2);
          grown.set(points);
          points = grown;
        }
        points[n++] = toSource(cur);
        // (3.5) Back at the start, arriving the way the trace left: the border is closed.
        if (next === p && cur === p1) break;
        prev = cur;
        cur = next;
      }
      contours.push(points.slice(0, n));
    }
  }
  return contours;
}

/**
 * Patch centres along every contour: contour points 0, step, 2 step, ... (see the module
 * comment), de-duplicated. Returns [column0, row0, column1, row1, ...].
 */
export function samplePatchCentres(
  mask: SliceMask,
  stepPx: number = DEFAULT_PATCH_STEP_PX,
): Int32Array {
  if (!Number.isInteger(stepPx) || stepPx < 1)
    throw new RangeError(`patch step must be a positive integer, got ${stepPx}`);
  const seen = new Set<number>();
  const centres: number[] = [];
  for (const contour of traceContours(mask)) {
    for (let t = 0; t < contour.length; t += stepPx) {
      const p = contour[t]!;
      if (seen.has(p)) continue;
      seen.add(p);
      centres.push(p % mask.columns, Math.floor(p / mask.columns));
    }
  }
  return Int32Array.from(centres);
}

/**
 * 0/1 per pixel: within bandMm of a boundary pixel (centre to centre, Euclidean, using the
 * column and row spacing in mm). Boundary pixels themselves are in the band.
 */
export function boundaryBand(
  mask: SliceMask,
  spacing: readonly [number, number],
  bandMm: number = DEFAULT_BAND_MM,
  boundary: Uint8Array = boundaryPixels(mask),
): Uint8Array {
  const [sx, sy] = spacing;
  if (!(sx > 0) || !(sy > 0))
    throw new RangeError(`pixel spacing must be positive, got ${sx} x ${sy} mm`);
  if (!(bandMm >= 0) || !Number.isFinite(bandMm))
    throw new RangeError(`band width must be >= 0 mm, got ${bandMm}`);
  const { columns: nx, rows: ny } = mask;
  // Row half-widths of the disc of radius bandMm: |dy| <= ry rows, |dx| <= half[|dy|] columns.
  const ry = Math.floor(bandMm / sy + 1e-9);
  const half = new Int32Array(ry + 1);
  for (let dy = 0; dy <= ry; dy++) {
    const r2 = bandMm * bandMm - (dy * sy) ** 2;
    half[dy] = r2 < 0 ? -1 : Math.floor(Math.sqrt(r2) / sx + 1e-9);
  }
  const band = new Uint8Array(nx * ny);
  const box = sliceBox({ data: boundary, columns: nx, rows: ny });
  if (!box) return band;
  for (let j = box.y0; j < box.y0 + box.by; j++) {
    for (let i = box.x0; i < box.x0 + box.bx; i++) {
      if (boundary[i + nx * j] === 0) continue;
      // Stamp the disc as row spans (one fill per row).
      for (let dy = -ry; dy <= ry; dy++) {
        const y = j + dy;
        if (y < 0 || y >= ny) continue;
        const hw = half[Math.abs(dy)]!;
        if (hw < 0) continue;
        const a = Math.max(0, i - hw);
        const b = Math.min(nx - 1, i + hw);
        band.fill(1, a + nx * y, b + 1 + nx * y);
      }
    }
  }
  return band;
}
