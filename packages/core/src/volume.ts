/**
 * The volume type every stage passes along: voxels plus the patient-space geometry that maps
 * them back onto the source DICOM grid exactly.
 *
 * Conventions (the same as DICOM, so nothing is flipped on the way back to the PACS):
 * - Patient space is DICOM LPS, in millimetres. NIfTI (RAS) is converted at the file edge.
 * - Voxel (i, j, k): i = column (fastest in memory), j = row, k = slice.
 *   Memory index = i + nx * (j + ny * k), which is both DICOM frame order and NIfTI order.
 * - `direction[0]` is the unit LPS vector along increasing i (DICOM ImageOrientationPatient
 *   row cosines), `direction[1]` along j (column cosines), `direction[2]` along k (the slice
 *   normal in the order the slices are stored).
 * - `origin` is the LPS centre of voxel (0, 0, 0) (DICOM ImagePositionPatient of the first slice).
 */

export type Vec3 = readonly [number, number, number];

export interface Geometry {
  /** Voxel counts [nx, ny, nz] = [columns, rows, slices]. */
  readonly dims: Vec3;
  /** Voxel spacing in mm along i, j, k: [column spacing, row spacing, slice spacing]. */
  readonly spacing: Vec3;
  /** LPS position (mm) of the centre of voxel (0, 0, 0). */
  readonly origin: Vec3;
  /** Unit LPS direction of the i, j and k axes. */
  readonly direction: readonly [Vec3, Vec3, Vec3];
}

export type VoxelArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

export interface Volume<T extends VoxelArray = Float32Array> {
  readonly geometry: Geometry;
  readonly data: T;
}

/** A binary mask: 1 inside, 0 outside, on the geometry it came from. */
export type Mask = Volume<Uint8Array>;

export const IDENTITY_DIRECTION: readonly [Vec3, Vec3, Vec3] = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

export function voxelCount(g: Pick<Geometry, 'dims'>): number {
  return g.dims[0] * g.dims[1] * g.dims[2];
}

/** Builds a geometry, checking what later stages rely on (positive sizes, unit directions). */
export function makeGeometry(g: {
  dims: Vec3;
  spacing: Vec3;
  origin?: Vec3;
  direction?: readonly [Vec3, Vec3, Vec3];
}): Geometry {
  const geometry: Geometry = {
    dims: g.dims,
    spacing: g.spacing,
    origin: g.origin ?? [0, 0, 0],
    direction: g.direction ?? IDENTITY_DIRECTION,
  };
  const problem = geometryProblem(geometry);
  if (problem) throw new GeometryError(problem);
  return geometry;
}

export class GeometryError extends Error {
  override name = 'GeometryError';
}

/** Why a geometry is unusable, or undefined when it is fine. */
export function geometryProblem(g: Geometry): string | undefined {
  for (const n of g.dims) {
    if (!Number.isInteger(n) || n < 1)
      return `dimensions must be positive integers, got ${g.dims.join(' x ')}`;
  }
  for (const s of g.spacing) {
    if (!Number.isFinite(s) || s <= 0)
      return `spacing must be positive, got ${g.spacing.join(' x ')} mm`;
  }
  if (!g.origin.every(Number.isFinite)) return 'origin must be finite';
  for (const d of g.direction) {
    const norm = Math.hypot(d[0], d[1], d[2]);
    if (!Number.isFinite(norm) || Math.abs(norm - 1) > 1e-3)
      return 'direction cosines must be unit vectors';
  }
  return undefined;
}

export function makeVolume<T extends VoxelArray>(geometry: Geometry, data: T): Volume<T> {
  if (data.length !== voxelCount(geometry)) {
    throw new GeometryError(
      `voxel data has ${data.length} values but the grid ${geometry.dims.join(' x ')} needs ${voxelCount(geometry)}`,
    );
  }
  return { geometry, data };
}

export function emptyMask(geometry: Geometry): Mask {
  return { geometry, data: new Uint8Array(voxelCount(geometry)) };
}

/** LPS position (mm) of the centre of voxel (i, j, k); fractional indices allowed. */
export function voxelToPatient(g: Geometry, i: number, j: number, k: number): Vec3 {
  const [di, dj, dk] = g.direction;
  const a = i * g.spacing[0];
  const b = j * g.spacing[1];
  const c = k * g.spacing[2];
  return [
    g.origin[0] + a * di[0] + b * dj[0] + c * dk[0],
    g.origin[1] + a * di[1] + b * dj[1] + c * dk[1],
    g.origin[2] + a * di[2] + b * dj[2] + c * dk[2],
  ];
}

/** Continuous voxel index of an LPS point (the inverse of voxelToPatient). */
export function patientToVoxel(g: Geometry, p: Vec3): Vec3 {
  // Solve M x = p - origin where M's columns are direction * spacing. Directions need not be
  // orthogonal (a gantry-tilted series is sheared), so invert the 3 x 3 matrix in general.
  const m = g.direction.map((d, axis) => d.map((c) => c * g.spacing[axis]!)) as number[][];
  const r = [p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]];
  const col = (a: number, row: number): number => m[a]![row]!;
  const det =
    col(0, 0) * (col(1, 1) * col(2, 2) - col(2, 1) * col(1, 2)) -
    col(1, 0) * (col(0, 1) * col(2, 2) - col(2, 1) * col(0, 2)) +
    col(2, 0) * (col(0, 1) * col(1, 2) - col(1, 1) * col(0, 2));
  const solve = (replace: number): number => {
    const c = (a: number, row: number): number => (a === replace ? r[row]! : col(a, row));
    return (
      (c(0, 0) * (c(1, 1) * c(2, 2) - c(2, 1) * c(1, 2)) -
        c(1, 0) * (c(0, 1) * c(2, 2) - c(2, 1) * c(0, 2)) +
        c(2, 0) * (c(0, 1) * c(1, 2) - c(1, 1) * c(0, 2))) /
      det
    );
  };
  return [solve(0), solve(1), solve(2)];
}

const GRID_TOLERANCE_MM = 1e-3;

/**
 * Why two geometries are not the same voxel grid, or undefined when they are. Used wherever a
 * mask must lie on a given image (evaluation, SEG writing): a mismatch is an error, never resampled.
 */
export function gridMismatch(
  a: Geometry,
  b: Geometry,
  toleranceMm = GRID_TOLERANCE_MM,
): string | undefined {
  if (a.dims.some((n, axis) => n !== b.dims[axis])) {
    return `grid shapes differ: ${a.dims.join(' x ')} vs ${b.dims.join(' x ')}`;
  }
  if (a.spacing.some((s, axis) => Math.abs(s - b.spacing[axis]!) > toleranceMm)) {
    return `voxel spacings differ: ${fmt(a.spacing)} mm vs ${fmt(b.spacing)} mm`;
  }
  if (a.origin.some((o, axis) => Math.abs(o - b.origin[axis]!) > toleranceMm)) {
    return `origins differ: ${fmt(a.origin)} mm vs ${fmt(b.origin)} mm`;
  }
  for (let axis = 0; axis < 3; axis++) {
    const da = a.direction[axis]!;
    const db = b.direction[axis]!;
    if (da.some((c, n) => Math.abs(c - db[n]!) > 1e-4)) {
      return `orientations differ on axis ${'ijk'[axis]}: ${fmt(da)} vs ${fmt(db)}`;
    }
  }
  return undefined;
}

function fmt(v: Vec3): string {
  return v.map((x) => Number(x.toFixed(4))).join(', ');
}

/** The cross product a x b (e.g. the slice normal from the row and column cosines). */
export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** Volume of one voxel in mL (spacing is in mm; 1 mL = 1000 mm^3). */
export function voxelVolumeMl(g: Geometry): number {
  return (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
}

/** Number of non-zero voxels. */
export function countNonZero(data: ArrayLike<number>): number {
  let n = 0;
  for (let v = 0; v < data.length; v++) if (data[v] !== 0) n++;
  return n;
}

/** Offset of slice k in a volume's data, and the number of voxels per slice. */
export function sliceLength(g: Pick<Geometry, 'dims'>): number {
  return g.dims[0] * g.dims[1];
}
