/**
 * Navigator misregistration between slices: each slice of the stack shifted in plane by a whole
 * number of voxels, as when the diaphragm position accepted by the navigator drifts between the
 * heartbeats that fill different slices. Tissue classes, cavity and scar move together, so the
 * labels stay those of the image; what the shift breaks (the 3 mm shell across slices) is
 * repaired so the truth stays exact.
 */
import { keepLargestComponent } from '../cca.js';
import { squaredEdtInPlace } from '../distance.js';
import type { Geometry } from '../volume.js';
import type { Rng } from './random.js';
import { nonZeroBox } from './render.js';
import { Tissue } from './tissue.js';

/** Randomised-style range (training/README.md, "Domain randomisation"). */
export const MISREGISTRATION_RANGES = {
  chance: 0.4,
  /** Largest in-plane displacement of a slice, mm (mostly anterior-posterior). */
  maxShiftMm: [0.5, 4],
} as const;

/** Per-slice displacement in mm: [dx0, dy0, dx1, dy1, ...] (row and column directions). */
export type SliceDisplacements = Float64Array;

/** A slowly drifting displacement with jitter per slice, or undefined for a still patient. */
export function sampleMisregistration(rng: Rng, slices: number): SliceDisplacements | undefined {
  const R = MISREGISTRATION_RANGES;
  if (!rng.chance(R.chance)) return undefined;
  const amplitude = rng.uniform(R.maxShiftMm[0], R.maxShiftMm[1]);
  const period = rng.uniform(6, 20);
  const phase = rng.uniform(0, 2 * Math.PI);
  const sideways = rng.uniform(0.1, 0.4); // left-right share of the motion
  const out = new Float64Array(2 * slices);
  for (let k = 0; k < slices; k++) {
    const drift = 0.6 * Math.sin((2 * Math.PI * k) / period + phase) + 0.4 * (2 * rng.next() - 1);
    out[2 * k] = amplitude * sideways * drift;
    out[2 * k + 1] = amplitude * drift;
  }
  return out;
}

export interface MisregistrationResult {
  /** Largest applied displacement (mm); 0 when none could be applied. */
  readonly maxShiftMm: number;
  /** Scar voxels that left the 3 mm shell and became healthy wall. */
  readonly scarDropped: number;
}

/**
 * Shifts every slice of `labels`, `la` and `scar` in place. If the shifted cavity would fall into
 * pieces (a thin vein stub losing contact across slices), the displacement is halved, then given
 * up. Scar voxels the shift moved out of the 3 mm shell around the shifted cavity become LA wall.
 */
export function applyMisregistration(
  g: Geometry,
  labels: Uint8Array,
  la: Uint8Array,
  scar: Uint8Array,
  displacementMm: SliceDisplacements,
  shellMm: number,
): MisregistrationResult {
  const nz = g.dims[2];
  for (const factor of [1, 0.5]) {
    const shifts = new Int32Array(2 * nz);
    let maxShiftMm = 0;
    for (let k = 0; k < nz; k++) {
      shifts[2 * k] = Math.round((factor * displacementMm[2 * k]!) / g.spacing[0]);
      shifts[2 * k + 1] = Math.round((factor * displacementMm[2 * k + 1]!) / g.spacing[1]);
      maxShiftMm = Math.max(
        maxShiftMm,
        Math.hypot(shifts[2 * k]! * g.spacing[0], shifts[2 * k + 1]! * g.spacing[1]),
      );
    }
    if (maxShiftMm === 0) return { maxShiftMm: 0, scarDropped: 0 };
    const movedLa = shiftSlices(la, g.dims, shifts);
    let count = 0;
    for (const v of movedLa) count += v;
    let kept = 0;
    for (const v of keepLargestComponent(movedLa, g.dims, 6)) kept += v;
    if (kept !== count) continue;
    la.set(movedLa);
    labels.set(shiftSlices(labels, g.dims, shifts));
    scar.set(shiftSlices(scar, g.dims, shifts));
    const scarDropped = dropScarOutsideShell(g, labels, la, scar, shellMm);
    return { maxShiftMm, scarDropped };
  }
  return { maxShiftMm: 0, scarDropped: 0 };
}

/** Slice k moved by (shifts[2k], shifts[2k+1]) voxels; what moves in from outside is 0 (air). */
export function shiftSlices(
  data: Uint8Array,
  dims: readonly [number, number, number],
  shifts: Int32Array,
): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(data.length);
  for (let k = 0; k < nz; k++) {
    const di = shifts[2 * k]!;
    const dj = shifts[2 * k + 1]!;
    const i0 = Math.max(0, di);
    const i1 = Math.min(nx, nx + di);
    if (i1 <= i0) continue;
    for (let j = Math.max(0, dj); j < Math.min(ny, ny + dj); j++) {
      const to = nx * (j + ny * k);
      const from = nx * (j - dj + ny * k);
      out.set(data.subarray(from + i0 - di, from + i1 - di), to + i0);
    }
  }
  return out;
}

/** Clears scar farther than `shellMm` from the cavity (exact EDT); those voxels become wall. */
function dropScarOutsideShell(
  g: Geometry,
  labels: Uint8Array,
  la: Uint8Array,
  scar: Uint8Array,
  shellMm: number,
): number {
  const [nx, ny, nz] = g.dims;
  const cavity = nonZeroBox(la, g.dims);
  const limit = shellMm * shellMm * (1 + 1e-6); // as quantify.ts
  const lo = [0, 0, 0];
  const hi = [-1, -1, -1];
  if (cavity) {
    for (let a = 0; a < 3; a++) {
      const grow = Math.ceil(shellMm / g.spacing[a]!) + 1;
      lo[a] = Math.max(0, cavity.lo[a]! - grow);
      hi[a] = Math.min(g.dims[a]! - 1, cavity.hi[a]! + grow);
    }
  }
  const bx = hi[0]! - lo[0]! + 1;
  const by = hi[1]! - lo[1]! + 1;
  const bz = hi[2]! - lo[2]! + 1;
  const d2 = new Float32Array(Math.max(0, bx * by * bz));
  if (cavity) {
    for (let k = 0; k < bz; k++)
      for (let j = 0; j < by; j++)
        for (let i = 0; i < bx; i++) {
          const v = lo[0]! + i + nx * (lo[1]! + j + ny * (lo[2]! + k));
          d2[i + bx * (j + by * k)] = la[v] ? 0 : Infinity;
        }
    squaredEdtInPlace(d2, [bx, by, bz], g.spacing);
  }
  let dropped = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const v = i + nx * (j + ny * k);
        if (!scar[v]) continue;
        const inBox =
          i >= lo[0]! && i <= hi[0]! && j >= lo[1]! && j <= hi[1]! && k >= lo[2]! && k <= hi[2]!;
        const d = inBox ? d2[i - lo[0]! + bx * (j - lo[1]! + by * (k - lo[2]!))]! : Infinity;
        if (d <= limit) continue;
        scar[v] = 0;
        labels[v] = Tissue.LaWall;
        dropped++;
      }
  return dropped;
}
