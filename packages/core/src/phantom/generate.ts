/**
 * A synthetic post-ablation LGE study: seed -> image volume (12-bit integers), LA cavity mask,
 * LA scar mask and the truth a report should find, all on one grid. Deterministic per seed.
 *
 * Label conventions follow LAScarQS 2022: the cavity (atriumSegImgMO) is the LA blood pool with
 * the appendage and the ostial stubs of the pulmonary veins, cut at the mitral plane; scar
 * (scarSegImgM) lies on the wall just outside the cavity, never inside it.
 */
import { type Geometry, type Mask, type Vec3, type Volume, makeVolume } from '../volume.js';
import {
  type Acquisition,
  type AcquisitionOptions,
  type PhantomStyle,
  placeGrid,
  sampleAcquisition,
} from './acquisition.js';
import { type HeartModel, type ScarPattern, type VeinName, sampleHeart } from './anatomy.js';
import { keepLargestComponent } from '../cca.js';
import { type ScarQuantification, quantifyStudy } from '../quantify.js';
import { squaredEdtInPlace } from '../distance.js';
import { applyMisregistration, sampleMisregistration } from './motion.js';
import { namedNoise } from './noise.js';
import { paintHeart, paintTorso } from './paint.js';
import { Rng } from './random.js';
import { forEachVoxel, voxelBox } from './raster.js';
import { type RenderReport, renderImage } from './render.js';
import {
  type Shape,
  add,
  balls,
  clipped,
  dot,
  ellipsoid,
  growBox,
  scale,
  sub,
  tube,
  union,
  unionBox,
} from './shapes.js';
import { type Contrast, Tissue, sampleContrast, sampleShiftContrast } from './tissue.js';

export type PhantomOptions = AcquisitionOptions;

/** The phantoms' true wall shell for the burden: voxels outside the cavity within this distance. */
export const WALL_SHELL_MM = 3;

/**
 * The truth's wall: the 3 mm shell wholly OUTSIDE the true cavity (its surface is the wall's inner
 * face). The product centres its shell on a PREDICTED surface instead (quantify.ts), because a
 * predicted surface may lie anywhere in the wall.
 */
export const PHANTOM_TRUTH_WALL = { wallMm: WALL_SHELL_MM, wallInsideMm: 0 } as const;

export interface PhantomTruth {
  readonly generator: 'lascar-phantom';
  readonly version: 1;
  readonly seed: number;
  readonly geometry: {
    readonly dims: Vec3;
    readonly spacing: Vec3;
    readonly origin: Vec3;
    readonly direction: readonly [Vec3, Vec3, Vec3];
  };
  readonly acquisition: {
    readonly matrix: number;
    readonly slices: number;
    readonly inPlaneSpacingMm: number;
    readonly sliceSpacingMm: number;
    readonly acquiredInPlaneMm: number;
    readonly sliceThicknessMm: number;
    readonly obliqueDeg: number;
    readonly snr: number;
    readonly gain: number;
    readonly phaseEncoding: 'row' | 'column';
    readonly ghosts: number;
    readonly ghostAmplitude: number;
    readonly noiseSigma: number;
    /** 'classic' (main's look), 'randomised' (training ranges) or 'shift' (held out, outside them). */
    readonly style: PhantomStyle;
    readonly noiseModel: 'rician' | 'sum-of-squares';
    readonly coils: number;
    readonly gFactorMax: number;
    readonly wrapFraction: number;
    /** Largest / smallest value of the receive bias field in plane. */
    readonly biasMaxOverMin: number;
    /** Largest in-plane slice displacement from navigator misregistration, mm (0: none). */
    readonly misregistrationMm: number;
  };
  readonly contrast: {
    readonly blood: number;
    readonly scar: number;
    readonly myocardium: number;
    readonly fat: number;
    readonly scarToBloodRatio: number;
    readonly fatSuppressed: boolean;
    readonly poorNulling: boolean;
    readonly bloodToMyocardiumRatio: number;
    readonly model: Contrast['model'];
  };
  readonly anatomy: {
    readonly laCentreMm: Vec3;
    readonly laSemiAxesMm: Vec3;
    readonly wallThicknessMm: number;
    readonly veins: readonly {
      name: string;
      ostiumMm: Vec3;
      ostialDiameterMm: number;
      labelCutMm: number;
    }[];
    readonly lvEnhancement: boolean;
    readonly fatPads: number;
    /** Null in the classic style (its LA is not sized to a drawn volume). */
    readonly targetLaVolumeMl: number | null;
    readonly appendageLobes: number;
    readonly scarPattern: ScarPattern;
  };
  readonly quantities: {
    readonly laVolumeMl: number;
    readonly scarVolumeMl: number;
    readonly wallVolumeMl: number;
    readonly scarBurdenPercent: number;
    readonly targetBurdenPercent: number;
    readonly laVoxels: number;
    readonly scarVoxels: number;
    readonly wallVoxels: number;
    readonly wallDefinition: string;
    readonly burdenMethod: string;
    readonly definitionSource: string;
  };
}

export interface PhantomCase {
  readonly seed: number;
  readonly image: Volume<Int16Array>;
  /** LA cavity (blood pool + appendage + PV ostia), 0/1. */
  readonly la: Mask;
  /** LA wall scar, 0/1. */
  readonly scar: Mask;
  /** The tissue class (tissue.ts) painted at each voxel before rendering: lets tests measure contrast. */
  readonly tissue: Volume<Uint8Array>;
  readonly truth: PhantomTruth;
}

/** The acquisition a seed draws (cheap: no voxels), e.g. to check geometry variety. */
export function phantomAcquisition(seed: number, options: PhantomOptions = {}): Acquisition {
  return sampleAcquisition(new Rng(seed).fork(1), options);
}

export function generatePhantom(seed: number, options: PhantomOptions = {}): PhantomCase {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`phantom seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const root = new Rng(seed);
  const acq = sampleAcquisition(root.fork(1), options);
  const heart = sampleHeart(root.fork(2), acq.style);
  const contrast =
    acq.style === 'shift'
      ? sampleShiftContrast(root.fork(3))
      : sampleContrast(root.fork(3), acq.style);
  const placement = root.fork(4);
  const scarRng = root.fork(5);

  const geometry = placeGrid(acq, gridCentre(placement, acq, heart));
  const labels = new Uint8Array(geometry.dims[0] * geometry.dims[1] * geometry.dims[2]);
  paintTorso(geometry, labels, heart);
  paintHeart(geometry, labels, heart, root.fork(7).int(0, 0x7fffffff));
  const la = new Uint8Array(labels.length);
  const scar = new Uint8Array(labels.length);
  const targetBurden = sampleBurden(scarRng);
  const lr = paintLeftAtrium(geometry, labels, heart, la, scar, targetBurden, scarRng);

  const laMask = makeVolume(geometry, la);
  const scarMask = makeVolume(geometry, scar);
  // The truth uses the product's quantification code, with the wall outside the true cavity.
  let q = quantifyStudy(laMask, scarMask, PHANTOM_TRUTH_WALL);
  if (q.wallVoxels !== lr.wallVoxels || q.scarInWallVoxels !== lr.scarVoxels) {
    throw new Error(
      `phantom ${seed}: wall shell disagrees with quantifyStudy (${lr.wallVoxels} vs ${q.wallVoxels} voxels)`,
    );
  }
  // Navigator misregistration (randomised style only) moves slices of labels and masks together,
  // before rendering; the truth is then measured again on the moved masks.
  let misregistrationMm = 0;
  const displacement =
    acq.style === 'randomised' ? sampleMisregistration(root.fork(9), geometry.dims[2]) : undefined;
  if (displacement) {
    const moved = applyMisregistration(geometry, labels, la, scar, displacement, WALL_SHELL_MM);
    misregistrationMm = moved.maxShiftMm;
    if (moved.maxShiftMm > 0) q = quantifyStudy(laMask, scarMask, PHANTOM_TRUTH_WALL);
  }

  const { data, report } = renderImage(geometry, labels, {
    levels: contrast.levels,
    blood: contrast.blood,
    acquisition: acq,
    seed: root.fork(8).int(0, 0x7fffffff),
  });
  const truth = describe(
    seed,
    geometry,
    acq,
    contrast,
    heart,
    report,
    q,
    targetBurden,
    misregistrationMm,
  );
  return {
    seed,
    image: makeVolume(geometry, data),
    la: laMask,
    scar: scarMask,
    tissue: makeVolume(geometry, labels),
    truth,
  };
}

/**
 * The scar burden (fraction 0..0.35 of the wall shell) a seed aims for, without generating it;
 * generatePhantom reaches it to within a voxel unless the wall offers too few candidates, or
 * navigator misregistration moved scar out of the shell (then the truth holds what is left).
 */
export function phantomTargetBurden(seed: number): number {
  return sampleBurden(new Rng(seed).fork(5));
}

/** Scar burden to aim for: a few scar-free atria, most 2-35 % (post-ablation), skewed low. */
function sampleBurden(rng: Rng): number {
  if (rng.chance(0.08)) return 0;
  return 0.01 + 0.34 * rng.next() ** 1.15;
}

/** The stack centre: the LA off-centre in plane, and high or low in the stack but covered. */
function gridCentre(rng: Rng, acq: Acquisition, heart: HeartModel): Vec3 {
  const L = heart.laCentre;
  const fovX = acq.dims[0] * acq.spacing[0];
  const fovY = acq.dims[1] * acq.spacing[1];
  const depth = acq.dims[2] * acq.spacing[2];
  const ext = heart.laExtent;
  const lo = ext.max[2] + 10 - depth / 2;
  const hi = ext.min[2] - 10 + depth / 2;
  const z = lo <= hi ? rng.uniform(lo, hi) : (ext.min[2] + ext.max[2]) / 2;
  return [L[0] + rng.uniform(-0.12, 0.12) * fovX, L[1] + rng.uniform(-0.12, 0.12) * fovY, z];
}

/**
 * The shapes of the LA label: the body cut at the mitral plane, the appendage and the veins'
 * ostial stubs (before the grid and the one-piece rule).
 */
export function laLabelShapes(heart: HeartModel): {
  body: Shape;
  appendage: Shape;
  stubs: Shape;
  label: Shape;
} {
  const M = heart.mitral.point;
  const n = heart.mitral.normal;
  const body = ellipsoid(heart.laBody);
  const appendage = clipped(balls(heart.appendage.centres, heart.appendage.radii), M, n);
  const stubs: Shape = union(
    heart.veins.map((v) => clipped(tube(v.labelled.points, v.labelled.radii), M, n)),
  );
  return { body, appendage, stubs, label: union([body, appendage, stubs]) };
}

interface LaResult {
  readonly laVoxels: number;
  readonly scarVoxels: number;
  readonly wallVoxels: number;
}

/**
 * The LA cavity, its wall and scar, from distance maps inside the LA's bounding box:
 * image wall = a shell `wallMm` thick around all LA blood (veins included); label wall (for the
 * burden) = WALL_SHELL_MM around the labelled cavity; scar = irregular patches of the image wall
 * inside the label wall, sized to the target burden.
 */
function paintLeftAtrium(
  g: Geometry,
  labels: Uint8Array,
  heart: HeartModel,
  laMask: Uint8Array,
  scarMask: Uint8Array,
  targetBurden: number,
  rng: Rng,
): LaResult {
  const M = heart.mitral.point;
  const n = heart.mitral.normal;
  const { body, appendage, stubs, label: labelShape } = laLabelShapes(heart);
  const trunks: Shape = union(
    heart.veins.map((v) => clipped(tube(v.trunk.points, v.trunk.radii), M, n)),
  );
  const margin = Math.max(WALL_SHELL_MM, heart.wallMm) + 5;
  const vb = voxelBox(g, growBox(unionBox([body.box, appendage.box, labelShape.box]), margin));
  const blockDims: Vec3 = [vb.i1 - vb.i0 + 1, vb.j1 - vb.j0 + 1, vb.k1 - vb.k0 + 1];
  const size = blockDims[0] * blockDims[1] * blockDims[2];
  // blood: 1 in the LA body, 2 in the appendage only, 3 in a vein only (each shape tested once).
  const blood = new Uint8Array(size);
  let cavity: Uint8Array = new Uint8Array(size);
  forEachVoxel(g, vb, (_index, x, y, z, local) => {
    if (body.inside(x, y, z)) {
      blood[local] = 1;
      cavity[local] = 1;
    } else if (appendage.inside(x, y, z)) {
      blood[local] = 2;
      cavity[local] = 1;
    } else if (trunks.inside(x, y, z)) {
      blood[local] = 3;
      if (stubs.inside(x, y, z)) cavity[local] = 1;
    }
  });
  // The label is one piece (6-connected), as a cavity must be.
  cavity = keepLargestComponent(cavity, blockDims, 6);
  const squaredDistance = (mask: Uint8Array): Float32Array => {
    const f = new Float32Array(size);
    for (let v = 0; v < size; v++) f[v] = mask[v] ? 0 : Infinity;
    squaredEdtInPlace(f, blockDims, g.spacing);
    return f;
  };
  const dBlood = squaredDistance(blood);
  const dCavity = squaredDistance(cavity);
  const wall2 = heart.wallMm * heart.wallMm;
  const shell2 = WALL_SHELL_MM * WALL_SHELL_MM * (1 + 1e-6); // as quantify.ts

  // Candidate scar voxels: image wall inside the label shell, away from the mitral annulus.
  const field = scarField(heart, rng);
  const candidates: number[] = [];
  const fieldValues: number[] = [];
  let wallVoxels = 0;
  let laVoxels = 0;
  forEachVoxel(g, vb, (index, x, y, z, local) => {
    if (cavity[local]) laVoxels++;
    else if (dCavity[local]! <= shell2) wallVoxels++;
    if (blood[local] || dBlood[local]! > wall2 || dCavity[local]! > shell2) return;
    if (labels[index] === Tissue.BloodLv) return;
    if ((x - M[0]) * n[0] + (y - M[1]) * n[1] + (z - M[2]) * n[2] > -4) return;
    candidates.push(local);
    fieldValues.push(field(x, y, z));
  });
  const target = Math.min(candidates.length, Math.round(targetBurden * wallVoxels));
  const values = Float64Array.from(fieldValues);
  const isScar = new Uint8Array(size);
  const dense = new Uint8Array(size);
  const denseCount = Math.round(target * rng.uniform(0.3, 0.7));
  const scarPick = selectTop(values, target);
  const densePick = selectTop(values, denseCount);
  for (let c = 0; c < candidates.length; c++) {
    if (scarPick[c]) isScar[candidates[c]!] = 1;
    if (densePick[c]) dense[candidates[c]!] = 1;
  }

  let scarVoxels = 0;
  forEachVoxel(g, vb, (index, _x, _y, _z, local) => {
    if (cavity[local]) laMask[index] = 1;
    if (blood[local]) {
      labels[index] = blood[local] === 2 ? Tissue.BloodLaa : Tissue.BloodLa;
    } else if (isScar[local]) {
      labels[index] = dense[local] ? Tissue.ScarDense : Tissue.Scar;
      scarMask[index] = 1;
      scarVoxels++;
    } else if (dBlood[local]! <= wall2 && labels[index] !== Tissue.BloodLv) {
      labels[index] = Tissue.LaWall;
    }
  });
  return { laVoxels, scarVoxels, wallVoxels };
}

/**
 * Marks the `k` largest values (ties: lower index first), without sorting indices: the threshold
 * comes from a sorted copy of the values.
 */
export function selectTop(values: Float64Array, k: number): Uint8Array {
  const picked = new Uint8Array(values.length);
  if (k <= 0) return picked;
  if (k >= values.length) return picked.fill(1);
  const sorted = Float64Array.from(values).sort();
  const threshold = sorted[values.length - k]!;
  let above = 0;
  for (let v = 0; v < values.length; v++) if (values[v]! > threshold) above++;
  let ties = k - above;
  for (let v = 0; v < values.length; v++) {
    if (values[v]! > threshold) picked[v] = 1;
    else if (values[v] === threshold && ties > 0) {
      picked[v] = 1;
      ties--;
    }
  }
  return picked;
}

/**
 * Where ablation leaves scar: broken rings around the vein antra (wide-area circumferential
 * ablation), sometimes roof/floor lines and posterior-wall patches, all made irregular by noise.
 * The case's pattern sets the blob sizes: thin lines (small, dense blobs, little noise), mixed,
 * or large confluent areas (wide blobs, big patches, coarse noise). Higher values scar first.
 */
function scarField(heart: HeartModel, rng: Rng): (x: number, y: number, z: number) => number {
  const pattern = heart.scarPattern;
  const centres: number[] = [];
  const push = (p: Vec3, sigma: number, weight: number): void => {
    centres.push(p[0], p[1], p[2], 1 / (2 * sigma * sigma), weight);
  };
  const ringSigma: [number, number] =
    pattern === 'lines' ? [1.8, 3.2] : pattern === 'confluent' ? [6, 12] : [3.5, 8];
  for (const v of heart.veins) {
    const u = v.direction;
    const side = Math.abs(u[2]) < 0.9 ? ([0, 0, 1] as Vec3) : ([1, 0, 0] as Vec3);
    const e1 = normalizeV(sub(side, scale(u, dot(side, u))));
    const e2 = crossV(u, e1);
    const ring = v.ostialRadiusMm + rng.uniform(2, 9);
    // Thin lines need closely spaced blobs to read as lines.
    const count = pattern === 'lines' ? rng.int(12, 20) : rng.int(6, 12);
    const phase = rng.uniform(0, 2 * Math.PI);
    for (let s = 0; s < count; s++) {
      if (rng.chance(0.25)) continue; // gaps in the lesion set
      const a = phase + (2 * Math.PI * s) / count;
      const p = add(
        add(v.ostium, scale(u, rng.uniform(-6, 2))),
        add(scale(e1, ring * Math.cos(a)), scale(e2, ring * Math.sin(a))),
      );
      push(p, rng.uniform(ringSigma[0], ringSigma[1]), rng.uniform(0.4, 1));
    }
  }
  // Roof and floor lines between the ipsilateral-to-contralateral veins, and loose patches.
  const byName = new Map(heart.veins.map((v) => [v.name, v.ostium]));
  const ostium = (name: VeinName): Vec3 => byName.get(name) ?? byName.get('LCPV')!;
  const lines: [VeinName, VeinName][] = [];
  if (rng.chance(pattern === 'lines' ? 0.6 : 0.4)) lines.push(['LSPV', 'RSPV']);
  if (rng.chance(pattern === 'lines' ? 0.45 : 0.25)) lines.push(['LIPV', 'RIPV']);
  const lineSigma: [number, number] = pattern === 'lines' ? [1.8, 3] : [3, 6];
  for (const [a, b] of lines) {
    const pa = ostium(a);
    const pb = ostium(b);
    const steps = pattern === 'lines' ? 10 : 6;
    for (let s = 1; s < steps; s++)
      push(
        add(pa, scale(sub(pb, pa), s / steps)),
        rng.uniform(lineSigma[0], lineSigma[1]),
        rng.uniform(0.5, 1),
      );
  }
  const patches = pattern === 'lines' ? 0 : pattern === 'confluent' ? rng.int(2, 6) : rng.int(0, 5);
  const patchSigma: [number, number] = pattern === 'confluent' ? [10, 20] : [5, 12];
  const L = heart.laCentre;
  for (let s = 0; s < patches; s++) {
    const u = rng.unitVector();
    const r = Math.max(...heart.laBody.radii);
    push(add(L, scale(u, r)), rng.uniform(patchSigma[0], patchSigma[1]), rng.uniform(0.3, 0.9));
  }
  const count = centres.length / 5;
  // The noise seed is drawn before its cell size: the classic random stream's order.
  const noiseSeed = rng.int(0, 0x7fffffff);
  const cell = pattern === 'confluent' ? rng.uniform(8, 14) : rng.uniform(4, 8);
  const noise = namedNoise(noiseSeed, 3, cell, 2);
  const amplitude =
    pattern === 'lines'
      ? rng.uniform(0.1, 0.25)
      : pattern === 'confluent'
        ? rng.uniform(0.3, 0.7)
        : rng.uniform(0.25, 0.6);
  return (x, y, z) => {
    let f = 0;
    for (let c = 0; c < count; c++) {
      const o = c * 5;
      const dx = x - centres[o]!;
      const dy = y - centres[o + 1]!;
      const dz = z - centres[o + 2]!;
      const d2 = dx * dx + dy * dy + dz * dz;
      const e = d2 * centres[o + 3]!;
      if (e < 12) f += centres[o + 4]! * Math.exp(-e);
    }
    return f + amplitude * noise(x, y, z);
  };
}

function describe(
  seed: number,
  g: Geometry,
  acq: Acquisition,
  contrast: Contrast,
  heart: HeartModel,
  report: RenderReport,
  q: ScarQuantification,
  targetBurden: number,
  misregistrationMm: number,
): PhantomTruth {
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const v3 = (v: Vec3): Vec3 => [r3(v[0]), r3(v[1]), r3(v[2])];
  return {
    generator: 'lascar-phantom',
    version: 1,
    seed,
    geometry: { dims: g.dims, spacing: v3(g.spacing), origin: g.origin, direction: g.direction },
    acquisition: {
      matrix: g.dims[0],
      slices: g.dims[2],
      inPlaneSpacingMm: r3(g.spacing[0]),
      sliceSpacingMm: r3(g.spacing[2]),
      acquiredInPlaneMm: r3(acq.acquiredInPlaneMm),
      sliceThicknessMm: r3(acq.sliceThicknessMm),
      obliqueDeg: r3(acq.obliqueDeg),
      snr: r3(acq.snr),
      gain: r3(acq.gain),
      phaseEncoding: acq.phaseEncoding,
      ghosts: report.ghosts,
      ghostAmplitude: r3(report.ghostAmplitude),
      noiseSigma: r3(report.noiseSigma),
      style: acq.style,
      noiseModel: report.noiseModel,
      coils: report.coils,
      gFactorMax: r3(report.gFactorMax),
      wrapFraction: r3(report.wrapFraction),
      biasMaxOverMin: r3(report.biasRange[1] / report.biasRange[0]),
      misregistrationMm: r3(misregistrationMm),
    },
    contrast: {
      blood: r3(contrast.blood),
      scar: r3(contrast.scar),
      myocardium: r3(contrast.myocardium),
      fat: r3(contrast.fat),
      scarToBloodRatio: r3(contrast.scar / contrast.blood),
      fatSuppressed: contrast.fatSuppressed,
      poorNulling: contrast.poorNulling,
      bloodToMyocardiumRatio: r3(contrast.blood / contrast.myocardium),
      model: contrast.model,
    },
    anatomy: {
      laCentreMm: v3(heart.laCentre),
      laSemiAxesMm: v3(heart.laBody.radii),
      wallThicknessMm: r3(heart.wallMm),
      veins: heart.veins.map((v) => ({
        name: v.name,
        ostiumMm: v3(v.ostium),
        ostialDiameterMm: r3(2 * v.ostialRadiusMm),
        labelCutMm: r3(v.labelCutMm),
      })),
      lvEnhancement: heart.infarct !== undefined,
      fatPads: heart.fatPads.centres.length,
      targetLaVolumeMl: heart.targetLaVolumeMl === null ? null : r3(heart.targetLaVolumeMl),
      appendageLobes: heart.appendage.centres.length,
      scarPattern: heart.scarPattern,
    },
    quantities: {
      laVolumeMl: r3(q.laVolumeMl),
      scarVolumeMl: r3(q.scarVolumeMl),
      wallVolumeMl: r3(q.wallVolumeMl),
      scarBurdenPercent: r3(q.scarBurdenPercent ?? 0),
      targetBurdenPercent: r3(100 * targetBurden),
      laVoxels: q.laVoxels,
      scarVoxels: q.scarVoxels,
      wallVoxels: q.wallVoxels,
      wallDefinition: q.wallDefinition,
      burdenMethod: q.burdenMethod,
      definitionSource:
        'quantifyStudy (packages/core/src/quantify.ts), wallMm 3, wallInsideMm 0 (the 3 mm shell outside the true cavity)',
    },
  };
}

function normalizeV(a: Vec3): Vec3 {
  const l = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / l, a[1] / l, a[2] / l];
}
function crossV(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
