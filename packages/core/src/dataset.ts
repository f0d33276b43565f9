/**
 * Training samples for the two networks, built by the SAME functions inference uses
 * (buildLaInputBatch, planScarSlice, writeScarPatches), so the tensors a network learns from and
 * the tensors it later sees cannot drift apart. `lascar dataset` writes these as shards
 * (training/SHARDS.md); PyTorch only reads them.
 */
import { buildLaInputBatch, buildLaTargetBatch, LA_INPUT_SIZE } from './preprocess.js';
import {
  planScarSlice,
  SCAR_PATCH_CHANNELS,
  SCAR_PATCH_SIZE,
  writeScarLabelPatches,
  writeScarPatches,
  type ScarPatchOptions,
} from './patches.js';
import { applyAxisTransform, orientationTransform } from './orientation.js';
import { gridMismatch, type Mask, type Volume, type VoxelArray } from './volume.js';

/**
 * Names the tensors' recipe. Change it whenever preprocess.ts or patches.ts change what a
 * network sees: models record it, and the product refuses a model trained on another recipe.
 */
export const PREPROCESSING_VERSION = 'lascar-preprocessing-1';

export interface TrainingCase {
  readonly id: string;
  readonly image: Volume<VoxelArray>;
  /** LA cavity ground truth on the image grid. */
  readonly la: Mask;
  /** Scar ground truth (task 1 cases only). */
  readonly scar?: Mask;
}

export interface LaSample {
  readonly slice: number;
  /** 1 x size x size, z-scored, centred (the network's `image_full`). */
  readonly full: Float32Array;
  /** 1 x size/2 x size/2 (`image_half`). */
  readonly half: Float32Array;
  /** 1 x size x size, 0/1. */
  readonly label: Uint8Array;
}

export interface ScarSampleBatch {
  readonly slice: number;
  readonly count: number;
  /** count x 3 x 64 x 64 (`patches`). */
  readonly patches: Float32Array;
  /** count x 1 x 64 x 64, 0/1. */
  readonly labels: Uint8Array;
}

export interface LaSampleOptions {
  /** Canvas size (640 for the product; smaller only for tiny tests). */
  readonly size?: number;
  /**
   * Slices without LA are kept when within this many slices of the LA's extent (hard negatives:
   * veins, ventricle, aorta next to the atrium) ...
   */
  readonly nearEmptySlices?: number;
  /** ... and otherwise every n-th one (the network must also learn to say "no atrium here"). */
  readonly farEmptyEvery?: number;
}

export class TrainingCaseError extends Error {
  override name = 'TrainingCaseError';
}

/**
 * Checks the labels lie on the image grid, and brings the case to the standard orientation
 * (orientation.ts): the networks learn on the arrangement inference gives them, whatever way the
 * case's files store it.
 */
function standardCase(c: TrainingCase): TrainingCase {
  const problems = [
    gridMismatch(c.image.geometry, c.la.geometry),
    c.scar ? gridMismatch(c.image.geometry, c.scar.geometry) : undefined,
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0)
    throw new TrainingCaseError(
      `case ${c.id}: labels do not lie on the image grid: ${problems.join('; ')}`,
    );
  const t = orientationTransform(c.image.geometry);
  if (t.identity) return c;
  return {
    id: c.id,
    image: applyAxisTransform(c.image, t),
    la: applyAxisTransform(c.la, t),
    ...(c.scar ? { scar: applyAxisTransform(c.scar, t) } : {}),
  };
}

/** Which slices of a case become LA samples (ascending). */
export function selectLaSlices(la: Mask, options: LaSampleOptions = {}): number[] {
  const [nx, ny, nz] = la.geometry.dims;
  const nxy = nx * ny;
  const near = options.nearEmptySlices ?? 4;
  const every = options.farEmptyEvery ?? 4;
  const hasLa: boolean[] = [];
  for (let k = 0; k < nz; k++) {
    const s = la.data.subarray(k * nxy, (k + 1) * nxy);
    hasLa.push(s.some((v) => v !== 0));
  }
  const first = hasLa.indexOf(true);
  const last = hasLa.lastIndexOf(true);
  const chosen: number[] = [];
  for (let k = 0; k < nz; k++) {
    if (hasLa[k]) chosen.push(k);
    else if (first >= 0 && k >= first - near && k <= last + near) chosen.push(k);
    else if (k % every === 0) chosen.push(k);
  }
  return chosen;
}

/** LA network samples of one case (slice numbers in the standard orientation), one slice at a time. */
export function* laSamples(
  original: TrainingCase,
  options: LaSampleOptions = {},
): Generator<LaSample> {
  const c = standardCase(original);
  const size = options.size ?? LA_INPUT_SIZE;
  let reuse: { full: Float32Array; half: Float32Array } | undefined;
  for (const k of selectLaSlices(c.la, options)) {
    const batch = buildLaInputBatch(c.image, k, 1, reuse, size);
    reuse = { full: batch.full, half: batch.half };
    const target = buildLaTargetBatch(c.la, k, 1, size);
    yield { slice: k, full: batch.full, half: batch.half, label: Uint8Array.from(target) };
  }
}

/**
 * Scar network samples of one task-1 case: every boundary patch of every slice, centred on the
 * GROUND-TRUTH LA boundary (at inference the predicted one), with the matching scar labels.
 */
export function* scarSamples(
  original: TrainingCase,
  options: ScarPatchOptions = {},
): Generator<ScarSampleBatch> {
  const c = standardCase(original);
  const scar = c.scar;
  if (!scar) return;
  const nz = c.image.geometry.dims[2];
  const pixels = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  for (let k = 0; k < nz; k++) {
    const plan = planScarSlice(c.image, c.la.data, k, options);
    if (!plan) continue;
    const patches = new Float32Array(plan.patchCount * SCAR_PATCH_CHANNELS * pixels);
    const labelsF = new Float32Array(plan.patchCount * pixels);
    writeScarPatches(c.image, plan, 0, plan.patchCount, patches);
    writeScarLabelPatches(scar.data, plan, 0, plan.patchCount, labelsF);
    yield { slice: k, count: plan.patchCount, patches, labels: Uint8Array.from(labelsF) };
  }
}
