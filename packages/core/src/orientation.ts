/**
 * The networks' standard orientation, and the way back to the file's own grid.
 *
 * The networks only ever saw phantoms stored one way (phantom/acquisition.ts: columns towards
 * the patient's left, rows towards posterior, slices towards superior, tilted at most 15 degrees,
 * and training/augment.py does not flip LA slices). A hospital file may store the same anatomy
 * with flipped rows or columns, transposed rows and columns, or slices in either order, and a
 * 2-D network does not give the same answer on a mirrored slice. So, as MONAI's Orientation
 * transform does, every volume is brought to ONE array orientation before the networks: an axis
 * permutation plus flips chosen from the direction cosines, with no resampling (every voxel
 * keeps its value and its patient-space position). The masks are mapped back by the inverse
 * permutation, so they lie exactly on the source grid.
 *
 * Standard orientation: axis i runs towards the patient's Left, j towards Posterior, k towards
 * Superior (DICOM LPS+, nibabel axis codes "LPS"), i.e. the DICOM ImageOrientationPatient
 * 1\0\0\0\1\0 of a plain axial stack with slices ordered feet to head.
 */
import {
  GeometryError,
  cross,
  gridMismatch,
  voxelCount,
  voxelToPatient,
  type Geometry,
  type Vec3,
  type Volume,
  type VoxelArray,
} from './volume.js';

export type Axis = 0 | 1 | 2;

/** How a source grid maps onto the standard one. */
export interface OrientationTransform {
  /** The source grid, exactly as it came: masks are mapped back onto it. */
  readonly source: Geometry;
  /** The standard grid the networks see. */
  readonly standard: Geometry;
  /** For each standard axis (i, j, k), the source axis it is taken from. */
  readonly axes: readonly [Axis, Axis, Axis];
  /** For each standard axis, true when it runs against that source axis. */
  readonly flips: readonly [boolean, boolean, boolean];
  /** True when the standard grid is the source grid (nothing to move). */
  readonly identity: boolean;
}

/** A short name of the standard orientation, for reports. */
export const STANDARD_ORIENTATION =
  'LPS (columns towards left, rows towards posterior, slices towards superior)';

const PERMUTATIONS: readonly (readonly [Axis, Axis, Axis])[] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/**
 * The permutation and flips that bring a grid closest to the standard orientation: each standard
 * axis takes the source axis whose direction lies along it (the assignment with the largest sum
 * of |cosines|, so an oblique stack maps to its nearest standard arrangement), flipped when that
 * direction points the other way.
 */
export function standardOrientationOf(g: Geometry): {
  readonly axes: readonly [Axis, Axis, Axis];
  readonly flips: readonly [boolean, boolean, boolean];
} {
  let best = PERMUTATIONS[0]!;
  let bestScore = -Infinity;
  for (const p of PERMUTATIONS) {
    // Strictly greater: on an exact tie the earlier permutation (identity first) wins.
    const score = p.reduce<number>((s, src, axis) => s + Math.abs(g.direction[src][axis]!), 0);
    if (score > bestScore + 1e-9) {
      best = p;
      bestScore = score;
    }
  }
  const flips = best.map((src, axis) => g.direction[src][axis]! < 0) as unknown as [
    boolean,
    boolean,
    boolean,
  ];
  return { axes: best, flips };
}

/**
 * The grid whose axis a is the source's axis `axes[a]` (reversed when `flips[a]`), and the
 * transform between the two (no voxels touched). Every voxel keeps its patient-space position.
 */
export function axisTransform(
  source: Geometry,
  axes: readonly [Axis, Axis, Axis],
  flips: readonly [boolean, boolean, boolean],
): OrientationTransform {
  if ([...axes].sort().join() !== '0,1,2')
    throw new RangeError(`axes must be a permutation of 0, 1, 2, got ${axes.join(', ')}`);
  const identity = axes.every((src, axis) => src === axis) && flips.every((f) => !f);
  if (identity) return { source, standard: source, axes, flips, identity };
  const corner = [0, 0, 0];
  axes.forEach((src, axis) => {
    if (flips[axis]) corner[src] = source.dims[src] - 1;
  });
  const standard: Geometry = {
    dims: axes.map((src) => source.dims[src]) as unknown as Vec3,
    spacing: axes.map((src) => source.spacing[src]) as unknown as Vec3,
    origin: voxelToPatient(source, corner[0]!, corner[1]!, corner[2]!),
    direction: axes.map((src, axis) => {
      const d = source.direction[src];
      return flips[axis] ? ([-d[0], -d[1], -d[2]] as Vec3) : d;
    }) as unknown as [Vec3, Vec3, Vec3],
  };
  return { source, standard, axes, flips, identity };
}

/** The transform of a grid to the standard orientation (no voxels touched). */
export function orientationTransform(source: Geometry): OrientationTransform {
  const { axes, flips } = standardOrientationOf(source);
  return axisTransform(source, axes, flips);
}

/**
 * For standard voxel (i, j, k), the source memory index is start + i * step[0] + j * step[1] +
 * k * step[2].
 */
function sourceSteps(t: OrientationTransform): { start: number; step: [number, number, number] } {
  const [nx, ny] = t.source.dims;
  const stride = [1, nx, nx * ny];
  let start = 0;
  const step = t.axes.map((src, axis) => {
    const s = stride[src]!;
    if (!t.flips[axis]) return s;
    start += (t.source.dims[src] - 1) * s;
    return -s;
  }) as [number, number, number];
  return { start, step };
}

function sameKind<T extends VoxelArray>(data: T, length: number): T {
  return new (data.constructor as new (n: number) => T)(length);
}

/**
 * The volume in the standard orientation, and the transform that maps results back. A volume
 * already in the standard orientation is returned as it is (no copy).
 */
export function toStandardOrientation<T extends VoxelArray>(
  volume: Volume<T>,
): { readonly volume: Volume<T>; readonly transform: OrientationTransform } {
  const transform = orientationTransform(volume.geometry);
  return { volume: applyAxisTransform(volume, transform), transform };
}

/**
 * The voxels of `volume` (on transform.source) rearranged onto transform.standard: the same
 * anatomy stored with its axes permuted and flipped. Also writes a study in any of the 48 axis
 * arrangements (tests, input drills).
 */
export function applyAxisTransform<T extends VoxelArray>(
  volume: Volume<T>,
  transform: OrientationTransform,
): Volume<T> {
  const mismatch = gridMismatch(volume.geometry, transform.source);
  if (mismatch)
    throw new GeometryError(`the volume is not on the transform's source grid: ${mismatch}`);
  if (transform.identity) return volume;
  const n = voxelCount(volume.geometry);
  if (volume.data.length !== n) {
    throw new GeometryError(
      `voxel data has ${volume.data.length} values but the grid ${volume.geometry.dims.join(' x ')} needs ${n}`,
    );
  }
  const out = sameKind(volume.data, n);
  const src = volume.data;
  const [sx, sy, sz] = transform.standard.dims;
  const { start, step } = sourceSteps(transform);
  let o = 0;
  for (let k = 0; k < sz; k++) {
    for (let j = 0; j < sy; j++) {
      let s = start + j * step[1] + k * step[2];
      for (let i = 0; i < sx; i++, o++, s += step[0]) out[o] = src[s]!;
    }
  }
  return { geometry: transform.standard, data: out };
}

/**
 * A volume on the standard grid (a mask the pipeline made there) mapped back onto the source grid
 * of `transform`, voxel for voxel: the exact inverse of toStandardOrientation.
 */
export function fromStandardOrientation<T extends VoxelArray>(
  volume: Volume<T>,
  transform: OrientationTransform,
): Volume<T> {
  const mismatch = gridMismatch(volume.geometry, transform.standard);
  if (mismatch)
    throw new GeometryError(`the volume is not on the standard grid of this study: ${mismatch}`);
  if (transform.identity) return { geometry: transform.source, data: volume.data };
  const n = voxelCount(transform.source);
  const out = sameKind(volume.data, n);
  const std = volume.data;
  const [sx, sy, sz] = transform.standard.dims;
  const { start, step } = sourceSteps(transform);
  let o = 0;
  for (let k = 0; k < sz; k++) {
    for (let j = 0; j < sy; j++) {
      let s = start + j * step[1] + k * step[2];
      for (let i = 0; i < sx; i++, o++, s += step[0]) out[s] = std[o]!;
    }
  }
  return { geometry: transform.source, data: out };
}

/**
 * The largest angle between a stack's slice normal and the axial direction that the pipeline
 * segments. Beyond 45 degrees the slices are closer to coronal or sagittal than to axial: the
 * networks (trained on axial slices tilted at most 15 degrees) were never shown such a slice, and
 * reslicing the stack axially would give slices with the slice spacing as a pixel size, which
 * they never saw either. Such stacks are refused, not resampled.
 */
export const MAX_SLICE_TILT_DEG = 45;

/** Angle in degrees (0..90) between the slice normal (row x column cosines) and the S axis. */
export function sliceTiltDeg(rowCosines: Vec3, columnCosines: Vec3): number {
  const n = cross(rowCosines, columnCosines);
  const len = Math.hypot(n[0], n[1], n[2]);
  if (!(len > 0)) return 90;
  return (Math.acos(Math.min(1, Math.abs(n[2]) / len)) * 180) / Math.PI;
}

/** The plane a stack's slices are closest to, from its slice normal. */
export function slicePlaneName(rowCosines: Vec3, columnCosines: Vec3): string {
  const n = cross(rowCosines, columnCosines).map(Math.abs);
  if (n[2]! >= n[0]! && n[2]! >= n[1]!) return 'axial';
  return n[1]! >= n[0]! ? 'coronal' : 'sagittal';
}

/** A stack the pipeline will not segment because of its slice orientation (a data problem). */
export class UnsupportedOrientationError extends GeometryError {
  override name = 'UnsupportedOrientationError';
}

/**
 * Why a grid's slices cannot go to the networks, or undefined when they can: the slice normal
 * must lie within `maxTiltDeg` of the axial direction, and the standard orientation must keep the
 * stored slices as its slices (so the networks see the slices as acquired).
 */
export function sliceOrientationProblem(
  g: Geometry,
  maxTiltDeg: number = MAX_SLICE_TILT_DEG,
): string | undefined {
  const [row, column] = g.direction;
  const tilt = sliceTiltDeg(row, column);
  const moved = standardOrientationOf(g).axes[2] !== 2;
  if (tilt <= maxTiltDeg + 1e-9 && !moved) return undefined;
  return `slice normal ${tilt.toFixed(0)}\u00b0 from axial (${slicePlaneName(row, column)} slices): only axial LGE stacks, tilted at most ${maxTiltDeg}\u00b0, are supported`;
}
