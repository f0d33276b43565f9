/**
 * A picture of a study for a person to judge at a glance: axial, coronal and sagittal planes
 * through the LA centre, with square physical pixels (slice spacing honoured), the LA outline
 * and the scar overlaid. Pure: volumes in, an RGBA buffer out (the CLI writes the PNG).
 *
 * Layout, three rows of three panels: the whole field of view with overlays; a zoom on the LA
 * without overlays (to judge the image itself); the same zoom with overlays.
 * Display conventions: axial and coronal show the patient's left on the right (radiological);
 * sagittal shows anterior on the left; superior is up. Planes are the grid's own (an oblique
 * stack is shown in its own planes, not resampled to true axial).
 */
import { type Mask, type Volume, type VoxelArray, gridMismatch } from './volume.js';

export interface PreviewImage {
  readonly width: number;
  readonly height: number;
  /** Row-major RGBA, 4 bytes per pixel. */
  readonly rgba: Uint8Array;
}

export interface PreviewOptions {
  /** Side of one square panel in pixels (default 300). */
  readonly panelPx?: number;
  /** Side of the zoomed field of view in mm (default 130). */
  readonly zoomMm?: number;
  /** Voxel (i, j, k) the three planes go through; default the LA centroid, else the grid centre. */
  readonly centre?: readonly [number, number, number];
}

const LA_OUTLINE = [40, 230, 80] as const;
const SCAR_FILL = [255, 40, 30] as const;
const SCAR_ALPHA = 0.55;
const GAP = 4;

type Plane = 'axial' | 'coronal' | 'sagittal';

export function renderPreview(
  image: Volume<VoxelArray>,
  la?: Mask,
  scar?: Mask,
  options: PreviewOptions = {},
): PreviewImage {
  for (const [name, mask] of [
    ['LA mask', la],
    ['scar mask', scar],
  ] as const) {
    const problem = mask && gridMismatch(image.geometry, mask.geometry);
    if (problem) throw new Error(`${name} is not on the image grid: ${problem}`);
  }
  const panel = options.panelPx ?? 300;
  const zoomMm = options.zoomMm ?? 130;
  const g = image.geometry;
  const centre = options.centre ??
    (la && maskCentroid(la)) ?? [(g.dims[0] - 1) / 2, (g.dims[1] - 1) / 2, (g.dims[2] - 1) / 2];
  const [lo, hi] = displayWindow(image.data);
  const width = 3 * panel + 2 * GAP;
  const height = 3 * panel + 2 * GAP;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 3; p < rgba.length; p += 4) rgba[p] = 255;
  const [fx, fy, fz] = [
    g.dims[0] * g.spacing[0],
    g.dims[1] * g.spacing[1],
    g.dims[2] * g.spacing[2],
  ];
  const fullMmPerPx = Math.max(fx, fy, fz) / panel;
  const zoomMmPerPx = zoomMm / panel;
  const planes: Plane[] = ['axial', 'coronal', 'sagittal'];
  const rows = [
    { mmPerPx: fullMmPerPx, overlay: true, zoom: false },
    { mmPerPx: zoomMmPerPx, overlay: false, zoom: true },
    { mmPerPx: zoomMmPerPx, overlay: true, zoom: true },
  ];
  rows.forEach((row, r) => {
    planes.forEach((plane, c) => {
      drawPanel({
        image,
        la: row.overlay ? la : undefined,
        scar: row.overlay ? scar : undefined,
        plane,
        centre,
        zoom: row.zoom,
        mmPerPx: row.mmPerPx,
        window: [lo, hi],
        out: rgba,
        outWidth: width,
        x0: c * (panel + GAP),
        y0: r * (panel + GAP),
        size: panel,
      });
    });
  });
  return { width, height, rgba };
}

interface PanelJob {
  image: Volume<VoxelArray>;
  la: Mask | undefined;
  scar: Mask | undefined;
  plane: Plane;
  centre: readonly [number, number, number];
  zoom: boolean;
  mmPerPx: number;
  window: [number, number];
  out: Uint8Array;
  outWidth: number;
  x0: number;
  y0: number;
  size: number;
}

function drawPanel(job: PanelJob): void {
  const g = job.image.geometry;
  const [nx, ny, nz] = g.dims;
  const [si, sj, sk] = g.spacing;
  const [ci, cj, ck] = job.centre;
  const superiorUp = g.direction[2][2] >= 0;
  // Horizontal and vertical voxel axes of the panel, their spacing and the fixed index.
  const spec =
    job.plane === 'axial'
      ? { h: 0, v: 1, hs: si, vs: sj, hn: nx, vn: ny, hc: ci, vc: cj, flipV: false }
      : job.plane === 'coronal'
        ? { h: 0, v: 2, hs: si, vs: sk, hn: nx, vn: nz, hc: ci, vc: ck, flipV: superiorUp }
        : { h: 1, v: 2, hs: sj, vs: sk, hn: ny, vn: nz, hc: cj, vc: ck, flipV: superiorUp };
  const fixed =
    job.plane === 'axial'
      ? Math.round(ck)
      : job.plane === 'coronal'
        ? Math.round(cj)
        : Math.round(ci);
  // Panel centre in mm along each axis: the LA centre when zoomed, else the grid centre.
  const hMid = job.zoom ? spec.hc * spec.hs : ((spec.hn - 1) / 2) * spec.hs;
  const vMid = job.zoom ? spec.vc * spec.vs : ((spec.vn - 1) / 2) * spec.vs;
  const size = job.size;
  const voxelAt = new Int32Array(size * size).fill(-1);
  for (let py = 0; py < size; py++) {
    const vmm = (py - size / 2 + 0.5) * job.mmPerPx;
    let vIdx = Math.round((vMid + vmm) / spec.vs);
    if (spec.flipV) vIdx = Math.round((vMid - vmm) / spec.vs);
    if (vIdx < 0 || vIdx >= spec.vn) continue;
    for (let px = 0; px < size; px++) {
      const hIdx = Math.round((hMid + (px - size / 2 + 0.5) * job.mmPerPx) / spec.hs);
      if (hIdx < 0 || hIdx >= spec.hn) continue;
      const ijk = [0, 0, 0];
      ijk[spec.h] = hIdx;
      ijk[spec.v] = vIdx;
      ijk[3 - spec.h - spec.v] = fixed;
      voxelAt[px + size * py] = ijk[0]! + nx * (ijk[1]! + ny * ijk[2]!);
    }
  }
  const [lo, hi] = job.window;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const la = job.la?.data;
  const scar = job.scar?.data;
  const inLa = (px: number, py: number): boolean => {
    if (!la || px < 0 || py < 0 || px >= size || py >= size) return false;
    const v = voxelAt[px + size * py]!;
    return v >= 0 && la[v] !== 0;
  };
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const v = voxelAt[px + size * py]!;
      const o = ((job.y0 + py) * job.outWidth + job.x0 + px) * 4;
      if (v < 0) {
        job.out[o] = job.out[o + 1] = job.out[o + 2] = 24; // outside the field of view
        continue;
      }
      const grey = Math.max(0, Math.min(255, Math.round((job.image.data[v]! - lo) * scale)));
      let rgb: [number, number, number] = [grey, grey, grey];
      if (scar && scar[v]) {
        rgb = rgb.map((x, n) => Math.round(x * (1 - SCAR_ALPHA) + SCAR_FILL[n]! * SCAR_ALPHA)) as [
          number,
          number,
          number,
        ];
      }
      if (
        inLa(px, py) &&
        (!inLa(px - 1, py) || !inLa(px + 1, py) || !inLa(px, py - 1) || !inLa(px, py + 1))
      ) {
        rgb = [...LA_OUTLINE];
      }
      job.out[o] = rgb[0];
      job.out[o + 1] = rgb[1];
      job.out[o + 2] = rgb[2];
    }
  }
}

/** Voxel-index centroid of a mask, or undefined when it is empty. */
export function maskCentroid(mask: Mask): [number, number, number] | undefined {
  const [nx, ny] = mask.geometry.dims;
  let si = 0;
  let sj = 0;
  let sk = 0;
  let n = 0;
  const d = mask.data;
  for (let v = 0; v < d.length; v++) {
    if (!d[v]) continue;
    si += v % nx;
    sj += Math.floor(v / nx) % ny;
    sk += Math.floor(v / (nx * ny));
    n++;
  }
  return n ? [si / n, sj / n, sk / n] : undefined;
}

/** Display window from robust percentiles (0.5 % .. 99.95 %, so scar stays brighter than blood) of a subsample. */
function displayWindow(data: VoxelArray): [number, number] {
  const step = Math.max(1, Math.floor(data.length / 200_000));
  const sample: number[] = [];
  for (let v = 0; v < data.length; v += step) sample.push(data[v]!);
  sample.sort((a, b) => a - b);
  const at = (q: number): number =>
    sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] ?? 0;
  return [at(0.005), at(0.9995)];
}
