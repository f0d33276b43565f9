import { describe, expect, it } from 'vitest';
import { renderPreview, maskCentroid } from './preview.js';
import { type Mask, makeGeometry, makeVolume } from './volume.js';

// A 40 x 40 x 10 grid with 1 mm pixels and 4 mm slices; the "LA" is a physical 16 mm cube.
const g = makeGeometry({ dims: [40, 40, 10], spacing: [1, 1, 4] });
const image = makeVolume(
  g,
  new Int16Array(40 * 40 * 10).map((_, v) => (v % 40) * 10),
);
const la: Mask = makeVolume(g, new Uint8Array(40 * 40 * 10));
const scar: Mask = makeVolume(g, new Uint8Array(40 * 40 * 10));
for (let k = 3; k < 7; k++)
  for (let j = 12; j < 28; j++)
    for (let i = 12; i < 28; i++) {
      la.data[i + 40 * (j + 40 * k)] = 1;
      if (i === 27) scar.data[i + 1 + 40 * (j + 40 * k)] = 1; // wall just outside, on the patient's left
    }

const isOutline = (p: Uint8Array, o: number): boolean =>
  p[o] === 40 && p[o + 1] === 230 && p[o + 2] === 80;
const isScarTint = (p: Uint8Array, o: number): boolean =>
  p[o]! > p[o + 1]! + 60 && p[o]! > p[o + 2]! + 60;

/** Bounding box of outline pixels in one panel (column c, row r). */
function outlineBox(pic: ReturnType<typeof renderPreview>, c: number, r: number, panel: number) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity; // prettier-ignore
  for (let y = 0; y < panel; y++)
    for (let x = 0; x < panel; x++) {
      const o = ((r * (panel + 4) + y) * pic.width + c * (panel + 4) + x) * 4;
      if (isOutline(pic.rgba, o)) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  return { w: x1 - x0 + 1, h: y1 - y0 + 1, x0, x1 };
}

describe('renderPreview', () => {
  const panel = 120;
  const pic = renderPreview(image, la, scar, { panelPx: panel, zoomMm: 60 });

  it('lays out 3 x 3 panels of RGBA', () => {
    expect(pic.width).toBe(3 * panel + 8);
    expect(pic.height).toBe(3 * panel + 8);
    expect(pic.rgba.length).toBe(pic.width * pic.height * 4);
  });

  it('keeps the physical aspect ratio: a 16 mm cube is square in all three planes', () => {
    for (const c of [0, 1, 2]) {
      const box = outlineBox(pic, c, 2, panel);
      // 60 mm over 120 px = 0.5 mm per px: 16 mm is about 32 px in each direction.
      expect(Math.abs(box.w - 32)).toBeLessThanOrEqual(3);
      expect(Math.abs(box.h - 32)).toBeLessThanOrEqual(3);
    }
  });

  it('draws the LA outline and tints the scar, and leaves the middle row without overlays', () => {
    let scarPixels = 0;
    let middleOverlay = 0;
    for (let y = 0; y < pic.height; y++)
      for (let x = 0; x < pic.width; x++) {
        const o = (y * pic.width + x) * 4;
        const row = Math.floor(y / (panel + 4));
        if (row === 1 && (isOutline(pic.rgba, o) || isScarTint(pic.rgba, o))) middleOverlay++;
        if (row === 2 && isScarTint(pic.rgba, o)) scarPixels++;
      }
    expect(scarPixels).toBeGreaterThan(10);
    expect(middleOverlay).toBe(0);
    // Axial: scar column (patient left) is drawn on the right of the LA (radiological view).
    const box = outlineBox(pic, 0, 2, panel);
    let rightOfLa = 0;
    for (let y = 0; y < panel; y++)
      for (let x = box.x1; x < panel; x++) {
        const o = ((2 * (panel + 4) + y) * pic.width + x) * 4;
        if (isScarTint(pic.rgba, o)) rightOfLa++;
      }
    expect(rightOfLa).toBeGreaterThan(10);
  });

  it('centres on the LA and rejects masks on another grid', () => {
    expect(maskCentroid(la)).toEqual([19.5, 19.5, 4.5]);
    const other = makeVolume(
      makeGeometry({ dims: [40, 40, 10], spacing: [1, 1, 2] }),
      new Uint8Array(16000),
    );
    expect(() => renderPreview(image, other)).toThrow(/LA mask is not on the image grid/);
  });
});
