// A mask made by another tool often sits on the source grid with its axes flipped or permuted
// (dcm2niix flips rows, some tools store slices in reverse). That is the same set of voxel
// centres, so it can be re-indexed exactly, without resampling. Anything else is a mismatch.
import {
  gridMismatch,
  patientToVoxel,
  voxelToPatient,
  type Geometry,
  type Mask,
} from '../volume.js';
import { DicomError } from './errors.js';

const AXIS_TOLERANCE = 1e-4;
const SPACING_TOLERANCE_MM = 1e-3;
const INDEX_TOLERANCE = 1e-3;

/**
 * The mask re-indexed onto `target` when its grid is the target grid up to flips and
 * permutations of the axes; throws GRID_MISMATCH (saying why) otherwise.
 */
export function alignMaskToGrid(mask: Mask, target: Geometry, what = 'mask'): Mask {
  if (!gridMismatch(mask.geometry, target)) return { geometry: target, data: mask.data };
  const mismatch = (): DicomError =>
    new DicomError(
      'GRID_MISMATCH',
      `the ${what} is not on the source series' grid, even allowing flipped or swapped axes: ${gridMismatch(mask.geometry, target)}`,
    );
  const g = mask.geometry;
  const axisOf: number[] = [];
  const signOf: number[] = [];
  for (let a = 0; a < 3; a++) {
    let found = -1;
    for (let b = 0; b < 3; b++) {
      const d = g.direction[a]!.reduce((s, c, n) => s + c * target.direction[b]![n]!, 0);
      if (Math.abs(Math.abs(d) - 1) < AXIS_TOLERANCE) {
        found = b;
        signOf[a] = Math.sign(d);
      }
    }
    if (found < 0 || axisOf.includes(found)) throw mismatch();
    if (g.dims[a] !== target.dims[found]) throw mismatch();
    if (Math.abs(g.spacing[a]! - target.spacing[found]!) > SPACING_TOLERANCE_MM) throw mismatch();
    axisOf[a] = found;
  }
  // Where the mask's first voxel lies on the target grid: it must be a target voxel centre.
  const corner = patientToVoxel(target, voxelToPatient(g, 0, 0, 0));
  const start = corner.map((c) => Math.round(c));
  if (corner.some((c, n) => Math.abs(c - start[n]!) > INDEX_TOLERANCE)) throw mismatch();
  for (let a = 0; a < 3; a++) {
    const b = axisOf[a]!;
    const size = target.dims[b]!;
    const end = start[b]! + signOf[a]! * (g.dims[a]! - 1);
    if (start[b]! < 0 || start[b]! >= size || end < 0 || end >= size) throw mismatch();
  }
  const [nx, ny, nz] = g.dims;
  const [tx, ty] = target.dims;
  const stride = [1, tx, tx * ty];
  const step = [0, 1, 2].map((a) => signOf[a]! * stride[axisOf[a]!]!);
  const base = start[0]! + tx * (start[1]! + ty * start[2]!);
  const out = new Uint8Array(mask.data.length);
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let t = base + k * step[2]! + j * step[1]!;
      for (let i = 0; i < nx; i++, v++, t += step[0]!) out[t] = mask.data[v]!;
    }
  }
  return { geometry: target, data: out };
}
