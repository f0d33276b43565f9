/**
 * Solid shapes in patient space (LPS, mm): each is a bounding box plus an inside test, cheap
 * enough to run on every voxel of its box.
 */
import type { Vec3 } from '../volume.js';

export interface Box {
  readonly min: Vec3;
  readonly max: Vec3;
}

export interface Shape {
  readonly box: Box;
  inside(x: number, y: number, z: number): boolean;
}

/** An orthonormal frame: three unit axes (rows of the world-to-local rotation). */
export type Frame = readonly [Vec3, Vec3, Vec3];

export const WORLD_FRAME: Frame = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return [a[0] / n, a[1] / n, a[2] / n];
}
/** Local coordinates (in `frame`) to world. */
export function toWorld(frame: Frame, centre: Vec3, local: Vec3): Vec3 {
  return [
    centre[0] + local[0] * frame[0][0] + local[1] * frame[1][0] + local[2] * frame[2][0],
    centre[1] + local[0] * frame[0][1] + local[1] * frame[1][1] + local[2] * frame[2][1],
    centre[2] + local[0] * frame[0][2] + local[1] * frame[1][2] + local[2] * frame[2][2],
  ];
}
/** A direction given in `frame` coordinates, expressed in world coordinates. */
export function dirToWorld(frame: Frame, local: Vec3): Vec3 {
  return toWorld(frame, [0, 0, 0], local);
}

function ballBox(c: Vec3, r: number): Box {
  return { min: [c[0] - r, c[1] - r, c[2] - r], max: [c[0] + r, c[1] + r, c[2] + r] };
}

export function unionBox(boxes: readonly Box[]): Box {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (const b of boxes) {
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a]!, b.min[a]!);
      max[a] = Math.max(max[a]!, b.max[a]!);
    }
  }
  return { min, max };
}

export function growBox(b: Box, mm: number): Box {
  return {
    min: [b.min[0] - mm, b.min[1] - mm, b.min[2] - mm],
    max: [b.max[0] + mm, b.max[1] + mm, b.max[2] + mm],
  };
}

/** Number of harmonic-polynomial terms the deformation of an ellipsoid takes. */
export const DEFORM_TERMS = 16;

/**
 * Real harmonic polynomials of degree 1-3 on the unit sphere (unnormalised): a smooth, low-order
 * "spherical-harmonic-like" perturbation of the radius without any trigonometry per voxel.
 */
function harmonics(x: number, y: number, z: number, out: Float64Array): void {
  out[0] = x;
  out[1] = y;
  out[2] = z;
  out[3] = x * y;
  out[4] = y * z;
  out[5] = x * z;
  out[6] = x * x - y * y;
  out[7] = 3 * z * z - 1;
  out[8] = x * (x * x - 3 * y * y);
  out[9] = y * (3 * x * x - y * y);
  out[10] = z * (x * x - y * y);
  out[11] = x * y * z;
  out[12] = x * (5 * z * z - 1);
  out[13] = y * (5 * z * z - 1);
  out[14] = z * (5 * z * z - 3);
  out[15] = x * x * x * x + y * y * y * y + z * z * z * z - 0.6;
}

export interface EllipsoidSpec {
  readonly centre: Vec3;
  readonly frame: Frame;
  /** Semi-axes along the frame's axes, mm. */
  readonly radii: Vec3;
  /** Optional DEFORM_TERMS coefficients: radius scale = 1 + sum(c * harmonic(direction)). */
  readonly deform?: Float64Array;
  /** Keep only points with (p - point) . normal < 0 (a flat cut such as the mitral plane). */
  readonly clip?: { point: Vec3; normal: Vec3 };
}

/** Radius scale of a deformed ellipsoid along the unit direction (ux, uy, uz) of scaled space. */
export function deformedRadius(
  deform: Float64Array | undefined,
  ux: number,
  uy: number,
  uz: number,
  scratch: Float64Array,
): number {
  if (!deform) return 1;
  harmonics(ux, uy, uz, scratch);
  let r = 1;
  for (let t = 0; t < DEFORM_TERMS; t++) r += deform[t]! * scratch[t]!;
  return r;
}

export function ellipsoid(spec: EllipsoidSpec): Shape {
  const [cx, cy, cz] = spec.centre;
  const [e0, e1, e2] = spec.frame;
  const [ra, rb, rc] = spec.radii;
  const deform = spec.deform;
  let maxScale = 1;
  if (deform) for (let t = 0; t < DEFORM_TERMS; t++) maxScale += Math.abs(deform[t]!) * 2;
  const reach = Math.max(ra, rb, rc) * maxScale;
  const scratch = new Float64Array(DEFORM_TERMS);
  const clip = spec.clip;
  const inside = (x: number, y: number, z: number): boolean => {
    const dx = x - cx;
    const dy = y - cy;
    const dz = z - cz;
    if (clip) {
      const cn = clip.normal;
      const cp = clip.point;
      if ((x - cp[0]) * cn[0] + (y - cp[1]) * cn[1] + (z - cp[2]) * cn[2] >= 0) return false;
    }
    const a = (dx * e0[0] + dy * e0[1] + dz * e0[2]) / ra;
    const b = (dx * e1[0] + dy * e1[1] + dz * e1[2]) / rb;
    const c = (dx * e2[0] + dy * e2[1] + dz * e2[2]) / rc;
    const rho2 = a * a + b * b + c * c;
    if (!deform) return rho2 < 1;
    if (rho2 < 0.25) return true; // deformations never reach this deep
    if (rho2 > maxScale * maxScale) return false;
    const rho = Math.sqrt(rho2);
    const s = deformedRadius(deform, a / rho, b / rho, c / rho, scratch);
    return rho < s;
  };
  // Exact axis-aligned half-widths of the ellipsoid (times the deformation's largest scale).
  const half = [0, 1, 2].map((a) => {
    let h = 0;
    for (let t = 0; t < 3; t++) h += (spec.frame[t]![a]! * spec.radii[t]!) ** 2;
    return Math.min(Math.sqrt(h) * maxScale, reach);
  });
  const [cxx, cyy, czz] = spec.centre;
  const box: Box = {
    min: [cxx - half[0]!, cyy - half[1]!, czz - half[2]!],
    max: [cxx + half[0]!, cyy + half[1]!, czz + half[2]!],
  };
  return { box, inside };
}

/** Distance (mm) from the ellipsoid centre to its (deformed) surface along the world direction u. */
export function surfaceDistance(spec: EllipsoidSpec, u: Vec3): number {
  const [e0, e1, e2] = spec.frame;
  const a = dot(u, e0) / spec.radii[0];
  const b = dot(u, e1) / spec.radii[1];
  const c = dot(u, e2) / spec.radii[2];
  const rho = Math.hypot(a, b, c);
  const s = deformedRadius(spec.deform, a / rho, b / rho, c / rho, new Float64Array(DEFORM_TERMS));
  return s / rho;
}

/** A tube through `points` whose radius varies linearly between `radii` (capsule chain). */
export function tube(points: readonly Vec3[], radii: readonly number[]): Shape {
  const n = points.length - 1;
  if (n < 1 || radii.length !== points.length)
    throw new Error('tube needs >= 2 points and one radius per point');
  const segs = new Float64Array(n * 8); // ax ay az dx dy dz len2 ra, then rb in a second array
  const rEnd = new Float64Array(n);
  const boxes: Box[] = [];
  for (let s = 0; s < n; s++) {
    const a = points[s]!;
    const b = points[s + 1]!;
    const d = sub(b, a);
    segs.set([a[0], a[1], a[2], d[0], d[1], d[2], Math.max(dot(d, d), 1e-9), radii[s]!], s * 8);
    rEnd[s] = radii[s + 1]!;
    boxes.push(ballBox(a, radii[s]!), ballBox(b, radii[s + 1]!));
  }
  const inside = (x: number, y: number, z: number): boolean => {
    for (let s = 0; s < n; s++) {
      const o = s * 8;
      const px = x - segs[o]!;
      const py = y - segs[o + 1]!;
      const pz = z - segs[o + 2]!;
      const dx = segs[o + 3]!;
      const dy = segs[o + 4]!;
      const dz = segs[o + 5]!;
      let t = (px * dx + py * dy + pz * dz) / segs[o + 6]!;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const qx = px - t * dx;
      const qy = py - t * dy;
      const qz = pz - t * dz;
      const r = segs[o + 7]! + t * (rEnd[s]! - segs[o + 7]!);
      if (qx * qx + qy * qy + qz * qz < r * r) return true;
    }
    return false;
  };
  return { box: unionBox(boxes), inside };
}

/** Union of balls (a lobulated appendage, fat pads). */
export function balls(centres: readonly Vec3[], radii: readonly number[]): Shape {
  const n = centres.length;
  const data = new Float64Array(n * 4);
  centres.forEach((c, s) => data.set([c[0], c[1], c[2], radii[s]! * radii[s]!], s * 4));
  const inside = (x: number, y: number, z: number): boolean => {
    for (let s = 0; s < n; s++) {
      const o = s * 4;
      const dx = x - data[o]!;
      const dy = y - data[o + 1]!;
      const dz = z - data[o + 2]!;
      if (dx * dx + dy * dy + dz * dz < data[o + 3]!) return true;
    }
    return false;
  };
  return { box: unionBox(centres.map((c, s) => ballBox(c, radii[s]!))), inside };
}

export function union(shapes: readonly Shape[]): Shape {
  return {
    box: unionBox(shapes.map((s) => s.box)),
    inside: (x, y, z) => {
      for (const s of shapes) if (s.inside(x, y, z)) return true;
      return false;
    },
  };
}

/** `shape` minus a half-space: keep (p - point) . normal < 0. */
export function clipped(shape: Shape, point: Vec3, normal: Vec3): Shape {
  const [px, py, pz] = point;
  const [nx, ny, nz] = normal;
  return {
    box: shape.box,
    inside: (x, y, z) => (x - px) * nx + (y - py) * ny + (z - pz) * nz < 0 && shape.inside(x, y, z),
  };
}

/** `shape` minus another. */
export function minus(shape: Shape, hole: Shape): Shape {
  return { box: shape.box, inside: (x, y, z) => shape.inside(x, y, z) && !hole.inside(x, y, z) };
}
