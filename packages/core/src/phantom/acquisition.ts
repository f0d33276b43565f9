/**
 * The scan a phantom pretends to come from: matrix, voxel spacing, slice count, orientation, the
 * acquired resolution (for partial-volume blur) and the signal-to-noise ratio. The spread covers
 * the LAScarQS 2022 data (three centres: 480-864 px square matrices, 44-88 slices,
 * 0.625-1.25 mm in plane, 1.25-2.5 mm between slices) and is widened past it (smaller matrices,
 * 0.6-1.5 mm in plane, slices 1-4 mm thick) so the networks see more scanners than those three.
 */
import { type Geometry, type Vec3, cross, makeGeometry } from '../volume.js';
import type { Rng } from './random.js';

export interface Acquisition {
  /** Reconstructed grid before any placement: dims and spacing (origin/direction set later). */
  readonly dims: Vec3;
  readonly spacing: Vec3;
  /** Rotation of the slice stack away from true axial (degrees, 0 for a plain axial stack). */
  readonly obliqueDeg: number;
  /** Unit LPS row, column and slice directions. */
  readonly direction: readonly [Vec3, Vec3, Vec3];
  /** Acquired (pre-interpolation) in-plane resolution and slice thickness, mm: drive the blur. */
  readonly acquiredInPlaneMm: number;
  readonly sliceThicknessMm: number;
  /** Blood-pool signal over noise standard deviation. */
  readonly snr: number;
  /** Scanner scaling of the stored integers: signal of relative intensity 1.0. */
  readonly gain: number;
  /** 'row' or 'column': the phase-encoding direction (where respiratory ghosts are smeared). */
  readonly phaseEncoding: 'row' | 'column';
  /** 'classic' (main's look), 'randomised' (the training ranges) or 'shift' (held out, outside them). */
  readonly style: PhantomStyle;
}

/**
 * 'classic' (the default): the phantoms the generator made before domain randomisation, byte for
 * byte (the product's tests and the held-out set rely on particular seeds); none of the draws
 * added since is taken, and its random stream is the old one.
 * 'randomised': anatomy and appearance drawn inside the documented domain-randomisation ranges
 * (training phantoms).
 * 'shift': randomised anatomy and grids with a held-out look deliberately outside those ranges
 * (inversion-recovery contrast, multi-coil correlated noise, coarser blur, wrap-around and strong
 * ghosts); never for training or for choosing checkpoints.
 */
export type PhantomStyle = 'classic' | 'randomised' | 'shift';

export const PHANTOM_STYLES: readonly PhantomStyle[] = ['classic', 'randomised', 'shift'];

/** Randomised ranges of the acquisition draws (training/README.md, "Domain randomisation"). */
export const ACQUISITION_RANGES = {
  fieldOfViewMm: [280, 620],
  inPlaneSpacingMm: [0.6, 1.5],
  sliceSpacingMm: [1, 2.5],
  acquiredInPlaneMm: [0.9, 2.0],
  sliceThicknessMm: [1, 4],
  /** Blood-pool SNR: 10 % of cases 4-8, 80 % 9-35, 10 % 40-80. */
  snr: [4, 80],
} as const;

/** Classic ranges: the LAScarQS 2022 spread only, as the generator drew before randomisation. */
const CLASSIC_ACQUISITION = {
  fieldOfViewMm: [300, 560],
  inPlaneSpacingMm: [0.625, 1.25],
  sliceSpacingMm: [1.25, 2.5],
  acquiredInPlaneMm: [1.1, 1.7],
  sliceThicknessMm: [1.5, 4],
} as const;

/** Style shift: blur from an acquisition coarser than any training draw. */
export const SHIFT_BLUR = { acquiredInPlaneMm: [2.2, 2.8], sliceThicknessMm: [4.5, 6] } as const;

const FAST_MAX_IN_PLANE_MM = 2;
const FAST_MAX_SLICE_MM = 3;

/** Matrices seen in LAScarQS 2022 (the common ones listed twice to weight them): classic. */
const CLASSIC_MATRICES = [480, 576, 576, 640, 640, 640, 768, 784, 864] as const;

/** Randomised: also two smaller ones, as scanners reconstructing without 2x interpolation store them. */
const MATRICES = [320, 400, ...CLASSIC_MATRICES] as const;

export interface AcquisitionOptions {
  /**
   * Shrink factor (0 < scale <= 1) applied to every matrix dimension, spacing grown to keep the
   * field of view up to 2 mm in plane and 3 mm between slices (beyond that the view shrinks):
   * a fast path for tests. 1 = the real sizes.
   */
  readonly scale?: number;
  /** Force a matrix size (in-plane) and/or slice count, e.g. for benchmarks. */
  readonly matrix?: number;
  readonly slices?: number;
  /** 'classic' (default), 'randomised' (training) or the held-out 'shift' style. */
  readonly style?: PhantomStyle;
}

export function sampleAcquisition(rng: Rng, options: AcquisitionOptions = {}): Acquisition {
  const scale = options.scale ?? 1;
  if (!(scale > 0 && scale <= 1))
    throw new RangeError(`phantom scale must be in (0, 1], got ${scale}`);
  const style = options.style ?? 'classic';
  if (!PHANTOM_STYLES.includes(style)) throw new RangeError(`unknown phantom style "${style}"`);
  const classic = style === 'classic';
  const R = classic ? CLASSIC_ACQUISITION : ACQUISITION_RANGES;
  const n = options.matrix ?? rng.pick(classic ? CLASSIC_MATRICES : MATRICES);
  // Field of view (classic 300-560 mm, randomised 280-620 mm), as chest LGE stacks are; spacing
  // follows from the matrix.
  const spacingLo = Math.max(R.inPlaneSpacingMm[0], R.fieldOfViewMm[0] / n);
  const spacingHi = Math.min(R.inPlaneSpacingMm[1], R.fieldOfViewMm[1] / n);
  const inPlane =
    spacingLo <= spacingHi
      ? roundTo(rng.uniform(spacingLo, spacingHi), 0.001)
      : spacingLo > R.inPlaneSpacingMm[1] && !classic
        ? R.inPlaneSpacingMm[1]
        : R.inPlaneSpacingMm[0];
  const nz = options.slices ?? rng.int(44, 88);
  // The stack must cover the LA with its veins (>= 85 mm).
  const dzHi = R.sliceSpacingMm[1];
  const dzLo = Math.max(R.sliceSpacingMm[0], 85 / nz);
  const dz = roundTo(dzLo <= dzHi ? rng.uniform(dzLo, dzHi) : dzLo, 0.05);

  let acquiredInPlaneMm = Math.max(
    inPlane,
    rng.uniform(R.acquiredInPlaneMm[0], R.acquiredInPlaneMm[1]),
  );
  // Thick-slab 3D acquisitions are often reconstructed with overlapping slices.
  let sliceThicknessMm = Math.max(dz, rng.uniform(R.sliceThicknessMm[0], R.sliceThicknessMm[1]));
  if (style === 'shift') {
    // Own fork: the shift set keeps the geometry its seed would give in randomised style.
    const blur = rng.fork(0x5f);
    acquiredInPlaneMm = blur.uniform(
      SHIFT_BLUR.acquiredInPlaneMm[0],
      SHIFT_BLUR.acquiredInPlaneMm[1],
    );
    sliceThicknessMm = blur.uniform(SHIFT_BLUR.sliceThicknessMm[0], SHIFT_BLUR.sliceThicknessMm[1]);
  }

  const snrRoll = rng.next();
  const snr =
    snrRoll < 0.1 ? rng.uniform(4, 8) : snrRoll > 0.9 ? rng.uniform(40, 80) : rng.uniform(9, 35);

  const oblique = rng.chance(0.3);
  const obliqueDeg = oblique ? rng.uniform(3, 15) : 0;
  const direction = oblique ? obliqueDirection(rng, (obliqueDeg * Math.PI) / 180) : AXIAL;

  let dims: Vec3 = [n, n, nz];
  let spacing: Vec3 = [inPlane, inPlane, dz];
  if (scale < 1) {
    // Fewer voxels, same field of view, except that voxels never grow past 2 mm in plane and
    // 3 mm between slices (the 3 mm wall shell must stay resolvable): then the view shrinks.
    const m = Math.max(16, Math.round(n * scale));
    const sIn = Math.min((inPlane * n) / m, FAST_MAX_IN_PLANE_MM);
    const sZ = Math.min((dz * nz) / Math.max(8, Math.round(nz * scale)), FAST_MAX_SLICE_MM);
    const mz = Math.max(8, Math.round(nz * scale), Math.ceil(75 / sZ));
    dims = [m, m, Math.min(mz, Math.round((dz * nz) / sZ))];
    spacing = [sIn, sIn, sZ];
  }
  return {
    dims,
    spacing,
    obliqueDeg,
    direction,
    acquiredInPlaneMm: Math.max(acquiredInPlaneMm, spacing[0]),
    sliceThicknessMm: Math.max(sliceThicknessMm, spacing[2]),
    snr,
    gain: rng.uniform(900, 3600),
    phaseEncoding: rng.chance(0.7) ? 'column' : 'row',
    style,
  };
}

/** Places the grid so that the voxel centre of the stack lands on `centre` (LPS mm). */
export function placeGrid(acq: Acquisition, centre: Vec3): Geometry {
  const [di, dj, dk] = acq.direction;
  const half = acq.dims.map((n, axis) => ((n - 1) / 2) * acq.spacing[axis]!) as [
    number,
    number,
    number,
  ];
  const origin: Vec3 = [
    centre[0] - half[0] * di[0] - half[1] * dj[0] - half[2] * dk[0],
    centre[1] - half[0] * di[1] - half[1] * dj[1] - half[2] * dk[1],
    centre[2] - half[0] * di[2] - half[1] * dj[2] - half[2] * dk[2],
  ];
  return makeGeometry({
    dims: acq.dims,
    spacing: acq.spacing,
    origin: origin.map(round4) as unknown as Vec3,
    direction: acq.direction,
  });
}

const AXIAL: readonly [Vec3, Vec3, Vec3] = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

/** An axial stack tilted by `angle` about a random in-plane axis (right-handed, orthonormal). */
function obliqueDirection(rng: Rng, angle: number): readonly [Vec3, Vec3, Vec3] {
  const phi = rng.uniform(0, 2 * Math.PI);
  const axis: Vec3 = [Math.cos(phi), Math.sin(phi), 0];
  const rot = (v: Vec3): Vec3 => round6(rotateAbout(v, axis, angle));
  const spin = rng.uniform(-0.15, 0.15); // small in-plane rotation as well
  const row = rotateAbout([1, 0, 0], [0, 0, 1], spin);
  const col = rotateAbout([0, 1, 0], [0, 0, 1], spin);
  const r = rot(row);
  const c = rot(col);
  return [r, c, round6(cross(r, c))];
}

export function rotateAbout(v: Vec3, axis: Vec3, angle: number): Vec3 {
  // Rodrigues' formula.
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const d = axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2];
  const x = cross(axis, v);
  return [
    v[0] * c + x[0] * s + axis[0] * d * (1 - c),
    v[1] * c + x[1] * s + axis[1] * d * (1 - c),
    v[2] * c + x[2] * s + axis[2] * d * (1 - c),
  ];
}

function roundTo(x: number, step: number): number {
  return Math.round(x / step) * step;
}
function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
function round6(v: Vec3): Vec3 {
  // Renormalise after rounding so the cosines stay unit vectors to 1e-6.
  const n = Math.hypot(v[0], v[1], v[2]);
  return [
    Math.round((v[0] / n) * 1e6) / 1e6,
    Math.round((v[1] / n) * 1e6) / 1e6,
    Math.round((v[2] / n) * 1e6) / 1e6,
  ];
}
