/**
 * The numbers a cardiologist reads from one study: LA cavity volume, scar volume, scar burden
 * (with the method that produced it) and the stage of that burden in named bin sets.
 *
 * Scar burden here is VOLUME-BASED (Utah/CARMA style): the share of LA wall voxels that are scar.
 * Surface-based burden (the LAScarQS challenge, CemrgApp) gives different numbers; reports must
 * print `burdenMethod`.
 *
 * The wall: a shell `wallMm` thick (default 3 mm) CENTRED on the predicted cavity surface: the
 * voxels inside the cavity mask within wallMm / 2 of its surface, and the voxels outside it within
 * wallMm / 2 (exact Euclidean distances between voxel centres, in mm, on the anisotropic grid).
 * Why centred: the wall lies just outside the true blood pool, but where exactly that is, relative
 * to a predicted surface, is uncertain by a voxel or two, and the LA network leans towards a
 * cavity 1-2 mm too large (it is trained to miss less rather than to overreach: Tversky 0.3/0.7),
 * which swallows part of the wall. A shell on both sides of the surface holds the wall wherever it
 * fell, and every voxel in it counts alike, scar or not: numerator = scar voxels in the shell,
 * denominator = all voxels in the shell, so the burden is a share of one fixed set of voxels
 * (<= 100 %). (The rule it replaces counted scar inside the cavity in both numerator and
 * denominator but the rest of the swallowed wall in neither, which inflated the burden.)
 * Scar beyond the shell (deeper in the cavity, or further out) is reported but is not LA wall.
 *
 * `wallInsideMm` moves the shell: 0 puts it wholly outside the cavity, as a ground-truth cavity
 * (whose surface IS the wall's inner face) calls for; the phantoms' truth uses that.
 */

import { distanceTransformMmInBox, type VoxelBox } from './distance.js';
import { countNonZeroBytes, nonZeroBox, type MaskBox } from './mask-scan.js';
import { gridMismatch, voxelVolumeMl, type Mask, type Vec3 } from './volume.js';

/** Default wall thickness, mm (method-spec "Decisions"): half inside the cavity surface, half outside. */
export const DEFAULT_WALL_MM = 3;

/** One bin of a staging scheme, with its boundaries stated exactly. */
export interface StageBin {
  readonly stage: string;
  /** Lower bound in %, or null for none. */
  readonly min: number | null;
  readonly minInclusive: boolean;
  /** Upper bound in %, or null for none. */
  readonly max: number | null;
  readonly maxInclusive: boolean;
}

export interface StagingScheme {
  readonly name: string;
  /** The bins in one line, for reports. */
  readonly description: string;
  readonly bins: readonly StageBin[];
}

/** Utah stages (Oakes et al. 2009; domain-notes): I <= 5 %, II 5-20 %, III 20-35 %, IV > 35 %. */
export const UTAH_STAGING: StagingScheme = {
  name: 'Utah',
  description: 'Utah stage: I <= 5 %; II > 5 % and <= 20 %; III > 20 % and <= 35 %; IV > 35 %',
  bins: [
    { stage: 'I', min: null, minInclusive: false, max: 5, maxInclusive: true },
    { stage: 'II', min: 5, minInclusive: false, max: 20, maxInclusive: true },
    { stage: 'III', min: 20, minInclusive: false, max: 35, maxInclusive: true },
    { stage: 'IV', min: 35, minInclusive: false, max: null, maxInclusive: false },
  ],
};

/** DECAAF stages (Marrouche et al. 2014): 1 < 10 %, 2 10-20 %, 3 20-30 %, 4 >= 30 %. */
export const DECAAF_STAGING: StagingScheme = {
  name: 'DECAAF',
  description: 'DECAAF stage: 1 < 10 %; 2 >= 10 % and < 20 %; 3 >= 20 % and < 30 %; 4 >= 30 %',
  bins: [
    { stage: '1', min: null, minInclusive: false, max: 10, maxInclusive: false },
    { stage: '2', min: 10, minInclusive: true, max: 20, maxInclusive: false },
    { stage: '3', min: 20, minInclusive: true, max: 30, maxInclusive: false },
    { stage: '4', min: 30, minInclusive: true, max: null, maxInclusive: false },
  ],
};

/** The stage of a burden (%) in a scheme. */
export function stageOf(scheme: StagingScheme, burdenPercent: number): string {
  if (!Number.isFinite(burdenPercent) || burdenPercent < 0) {
    throw new RangeError(`scar burden must be a finite percentage >= 0, got ${burdenPercent}`);
  }
  for (const bin of scheme.bins) {
    const aboveMin =
      bin.min === null || (bin.minInclusive ? burdenPercent >= bin.min : burdenPercent > bin.min);
    const belowMax =
      bin.max === null || (bin.maxInclusive ? burdenPercent <= bin.max : burdenPercent < bin.max);
    if (aboveMin && belowMax) return bin.stage;
  }
  throw new Error(`${scheme.name} bins do not cover ${burdenPercent} %`);
}

export interface QuantifyOptions {
  /** Wall shell thickness, mm (default 3). */
  readonly wallMm?: number;
  /** How much of the shell lies inside the cavity mask, mm (default wallMm / 2; 0..wallMm). */
  readonly wallInsideMm?: number;
}

export interface StageResult {
  readonly scheme: string;
  readonly stage: string;
  readonly description: string;
}

export interface ScarQuantification {
  /** LA cavity (blood pool) volume, mL. */
  readonly laVolumeMl: number;
  /** All scar voxels, mL. */
  readonly scarVolumeMl: number;
  /** The wall shell (both parts), mL: the burden's denominator. */
  readonly wallVolumeMl: number;
  /** Scar in the wall shell (both parts), mL: the burden's numerator. */
  readonly scarInWallVolumeMl: number;
  /** Scar in the part of the wall outside the cavity mask, mL. */
  readonly scarInShellVolumeMl: number;
  /** Scar in the part of the wall inside the cavity mask (wall the cavity took in), mL. */
  readonly scarInCavityVolumeMl: number;
  /** Scar beyond the wall shell (not counted in the burden), mL. */
  readonly scarOutsideWallVolumeMl: number;
  readonly laVoxels: number;
  readonly scarVoxels: number;
  readonly wallVoxels: number;
  /** Wall voxels outside / inside the cavity mask. */
  readonly wallOutsideCavityVoxels: number;
  readonly wallInsideCavityVoxels: number;
  readonly scarInWallVoxels: number;
  readonly scarInShellVoxels: number;
  readonly scarInCavityVoxels: number;
  readonly scarOutsideWallVoxels: number;
  /** scarInWallVoxels / wallVoxels x 100, or null when there is no wall (no LA found). */
  readonly scarBurdenPercent: number | null;
  /** How the burden was computed, for reports. */
  readonly burdenMethod: string;
  /** How the wall was defined, for reports. */
  readonly wallDefinition: string;
  readonly wallMm: number;
  readonly wallInsideMm: number;
  /** Stages of the burden; empty when the burden is null. */
  readonly stages: readonly StageResult[];
}

/**
 * Quantifies one study from its LA cavity and scar masks (same grid). The distance transforms
 * run on the cavity's bounding box grown by the wall thickness, not the whole volume: every
 * voxel within wallMm of the cavity lies in that box, and the box holds every cavity voxel and a
 * margin of non-cavity voxels around it, so the distances there are exact.
 */
export function quantifyStudy(
  la: Mask,
  scar: Mask,
  options: QuantifyOptions = {},
): ScarQuantification {
  const wallMm = options.wallMm ?? DEFAULT_WALL_MM;
  if (!Number.isFinite(wallMm) || wallMm <= 0)
    throw new RangeError(`wall thickness must be > 0 mm, got ${wallMm}`);
  const wallInsideMm = options.wallInsideMm ?? wallMm / 2;
  if (!(wallInsideMm >= 0 && wallInsideMm <= wallMm))
    throw new RangeError(
      `the wall's inside part must be 0..${wallMm} mm (the wall thickness), got ${wallInsideMm}`,
    );
  const wallOutsideMm = wallMm - wallInsideMm;
  const mismatch = gridMismatch(la.geometry, scar.geometry);
  if (mismatch) throw new RangeError(`LA and scar masks are not on the same grid: ${mismatch}`);
  const { dims, spacing } = la.geometry;
  const voxelMl = voxelVolumeMl(la.geometry);

  const laVoxels = countNonZeroBytes(la.data);
  const scarVoxels = countNonZeroBytes(scar.data);

  let wallOutside = 0;
  let wallInside = 0;
  let scarInShell = 0;
  let scarInCavity = 0;
  const cavityBox = nonZeroBox(la.data, dims);
  if (cavityBox) {
    const box = growBoxMm(cavityBox, dims, spacing, wallMm);
    // Squared distances; inclusive limits, the tiny slack absorbs float32 rounding.
    const outside2 = distanceTransformMmInBox(la.data, dims, spacing, box, true);
    const depth2 = distanceTransformMmInBox(la.data, dims, spacing, box, true, true);
    const outsideLimit = wallOutsideMm * wallOutsideMm * (1 + 1e-6);
    const insideLimit = wallInsideMm * wallInsideMm * (1 + 1e-6);
    const [bx, by, bz] = [
      box.max[0] - box.min[0],
      box.max[1] - box.min[1],
      box.max[2] - box.min[2],
    ];
    let o = 0;
    for (let k = 0; k < bz; k++) {
      for (let j = 0; j < by; j++) {
        const row = box.min[0] + dims[0] * (box.min[1] + j + dims[1] * (box.min[2] + k));
        for (let i = 0; i < bx; i++, o++) {
          const d = outside2[o]!;
          const isScar = scar.data[row + i] !== 0;
          if (d > 0) {
            if (d <= outsideLimit) {
              wallOutside++;
              if (isScar) scarInShell++;
            }
          } else if (depth2[o]! <= insideLimit) {
            wallInside++;
            if (isScar) scarInCavity++;
          }
        }
      }
    }
  }

  const wallVoxels = wallOutside + wallInside;
  const scarInWall = scarInShell + scarInCavity;
  const scarBurdenPercent = wallVoxels > 0 ? (scarInWall / wallVoxels) * 100 : null;
  const stages: StageResult[] =
    scarBurdenPercent === null
      ? []
      : [UTAH_STAGING, DECAAF_STAGING].map((s) => ({
          scheme: s.name,
          stage: stageOf(s, scarBurdenPercent),
          description: s.description,
        }));
  const wallDefinition =
    wallInsideMm === 0
      ? `voxels outside the LA cavity whose centre is within ${wallMm} mm (exact Euclidean distance on the voxel grid) of a cavity voxel centre`
      : `a ${wallMm} mm shell on both sides of the LA cavity surface: cavity voxels within ${wallInsideMm} mm of a non-cavity voxel centre and non-cavity voxels within ${wallOutsideMm} mm of a cavity voxel centre (exact Euclidean distances on the voxel grid)`;
  return {
    laVolumeMl: laVoxels * voxelMl,
    scarVolumeMl: scarVoxels * voxelMl,
    wallVolumeMl: wallVoxels * voxelMl,
    scarInWallVolumeMl: scarInWall * voxelMl,
    scarInShellVolumeMl: scarInShell * voxelMl,
    scarInCavityVolumeMl: scarInCavity * voxelMl,
    scarOutsideWallVolumeMl: (scarVoxels - scarInWall) * voxelMl,
    laVoxels,
    scarVoxels,
    wallVoxels,
    wallOutsideCavityVoxels: wallOutside,
    wallInsideCavityVoxels: wallInside,
    scarInWallVoxels: scarInWall,
    scarInShellVoxels: scarInShell,
    scarInCavityVoxels: scarInCavity,
    scarOutsideWallVoxels: scarVoxels - scarInWall,
    scarBurdenPercent,
    burdenMethod: `volume-based: share of LA wall voxels that are scar, scar and non-scar voxels counted alike; wall = ${wallDefinition}`,
    wallDefinition,
    wallMm,
    wallInsideMm,
    stages,
  };
}

/**
 * The box grown by `mm` (in whole voxels, one more than needed) along each axis, clipped to the
 * grid: every voxel within `mm` of a voxel of the box lies in it.
 */
export function growBoxMm(box: MaskBox, dims: Vec3, spacing: Vec3, mm: number): VoxelBox {
  const margin = spacing.map((s) => Math.floor(mm / s) + 1);
  const min = [box.x0, box.y0, box.z0];
  const max = [box.x0 + box.bx, box.y0 + box.by, box.z0 + box.bz];
  return {
    min: [0, 1, 2].map((a) => Math.max(0, min[a]! - margin[a]!)) as unknown as Vec3,
    max: [0, 1, 2].map((a) => Math.min(dims[a]!, max[a]! + margin[a]!)) as unknown as Vec3,
  };
}
