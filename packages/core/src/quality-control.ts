/**
 * Quality control: the checks that tell a person to look at a result before trusting it, each
 * with the reason in words. A result is never silently "successful" when the LA is missing,
 * implausibly large or small, barely covered by the slices, or when much of the scar lies far
 * from the LA wall (where scar cannot be).
 *
 * Pure: masks and numbers in, flags out. The limits are part of the method settings
 * (method-settings.ts: CLI flags, LASCAR_QC_* variables) and recorded with every result.
 */

import { distanceTransformMmInBox } from './distance.js';
import { countNonZeroBytes, nonZeroBox } from './mask-scan.js';
import { growBoxMm, type ScarQuantification } from './quantify.js';
import { gridMismatch, voxelVolumeMl, type Mask } from './volume.js';

/** The limits the checks use; part of MethodSettings. */
export interface QualityControlLimits {
  /** Plausible LA cavity volume, mL (inclusive): outside it, the result needs review. */
  readonly qcLaMinVolumeMl: number;
  readonly qcLaMaxVolumeMl: number;
  /**
   * The LA must span at least this much in the slice direction, mm (slices holding LA, first to
   * last, times the slice spacing). 0 = no check.
   */
  readonly qcLaMinExtentMm: number;
  /** Scar farther than this from the LA cavity surface (either side) counts as far from the wall, mm. */
  readonly qcScarWallDistanceMm: number;
  /** The result needs review when more than this share of the scar volume is far from the wall, %. */
  readonly qcScarFarMaxPercent: number;
}

/**
 * Defaults: an adult LA cavity is ~50-150 mL (mean ~90 mL, LAScarQS post-ablation); 20-300 mL
 * covers small atria and severely dilated ones. A whole LA spans 40-70 mm head to foot; under
 * 25 mm the stack misses most of it (or the network found a speck). The scar is only searched
 * within the boundary band (5 mm) of the LA surface, so scar 10 mm away is a sign of a wrong
 * surface or a wrong band setting.
 */
export const DEFAULT_QC_LIMITS: QualityControlLimits = {
  qcLaMinVolumeMl: 20,
  qcLaMaxVolumeMl: 300,
  qcLaMinExtentMm: 25,
  qcScarWallDistanceMm: 10,
  qcScarFarMaxPercent: 5,
};

/** Stable identifiers of the checks (for filtering); the reason text is what people read. */
export type QcCode = 'no-la' | 'la-volume' | 'la-extent' | 'no-wall' | 'scar-far-from-wall';

export interface QcFlag {
  readonly code: QcCode;
  /** One line for a person, e.g. "LA volume 12.3 mL is outside the plausible range 20-300 mL". */
  readonly reason: string;
}

export interface QualityControl {
  /** True when any check raised a flag. */
  readonly needsReview: boolean;
  readonly flags: readonly QcFlag[];
  /** What the checks measured, for reports. */
  readonly measured: {
    readonly laVolumeMl: number;
    /** Slices holding LA, first to last (0 when none). */
    readonly laSlices: number;
    /** laSlices x slice spacing, mm. */
    readonly laExtentMm: number;
    /** Share of the scar volume farther than qcScarWallDistanceMm from the cavity surface, % (null: no scar or no LA). */
    readonly scarFarFromWallPercent: number | null;
  };
  readonly limits: QualityControlLimits;
}

const fmt = (v: number, digits = 1): string => v.toFixed(digits);

/**
 * Runs the checks on one study's LA cavity and scar masks (same grid). The slice direction is
 * the grid's third axis (k): run it on the study in the standard orientation (stages.ts), where k
 * is the head-foot axis of an axial stack. With the study's quantification, an LA whose wall
 * shell holds no voxel (no burden can be computed) is flagged too.
 */
export function qualityControl(
  la: Mask,
  scar: Mask,
  limits: QualityControlLimits = DEFAULT_QC_LIMITS,
  quantification?: Pick<ScarQuantification, 'wallVoxels' | 'wallMm'>,
): QualityControl {
  const mismatch = gridMismatch(la.geometry, scar.geometry);
  if (mismatch) throw new RangeError(`LA and scar masks are not on the same grid: ${mismatch}`);
  const { dims, spacing } = la.geometry;
  const voxelMl = voxelVolumeMl(la.geometry);
  const laVoxels = countNonZeroBytes(la.data);
  const laVolumeMl = laVoxels * voxelMl;
  const box = nonZeroBox(la.data, dims);
  const laSlices = box ? box.bz : 0;
  const laExtentMm = laSlices * spacing[2];
  const flags: QcFlag[] = [];
  let scarFarFromWallPercent: number | null = null;

  if (!box) {
    flags.push({
      code: 'no-la',
      reason: 'no LA cavity found: nothing to measure (no SEG or SR is stored)',
    });
  } else {
    if (laVolumeMl < limits.qcLaMinVolumeMl || laVolumeMl > limits.qcLaMaxVolumeMl) {
      flags.push({
        code: 'la-volume',
        reason: `LA volume ${fmt(laVolumeMl)} mL is outside the plausible range ${limits.qcLaMinVolumeMl}-${limits.qcLaMaxVolumeMl} mL`,
      });
    }
    if (laExtentMm < limits.qcLaMinExtentMm) {
      flags.push({
        code: 'la-extent',
        reason: `LA found on ${laSlices} slice${laSlices === 1 ? '' : 's'} only (${fmt(laExtentMm)} mm in the slice direction; at least ${limits.qcLaMinExtentMm} mm expected)`,
      });
    }
    if (quantification && quantification.wallVoxels === 0) {
      // A shell thinner than twice the voxel size can fall between voxel centres.
      flags.push({
        code: 'no-wall',
        reason: `the ${quantification.wallMm} mm LA wall shell holds no voxel at this spacing (${spacing.map((v) => fmt(v, 2)).join(' x ')} mm): no scar burden`,
      });
    }
    const scarVoxels = countNonZeroBytes(scar.data);
    if (scarVoxels > 0) {
      const far = scarFarFromSurface(la, scar, limits.qcScarWallDistanceMm);
      scarFarFromWallPercent = (far / scarVoxels) * 100;
      if (scarFarFromWallPercent > limits.qcScarFarMaxPercent) {
        flags.push({
          code: 'scar-far-from-wall',
          reason: `${fmt(scarFarFromWallPercent)} % of the scar volume lies more than ${limits.qcScarWallDistanceMm} mm from the LA wall (at most ${limits.qcScarFarMaxPercent} % expected)`,
        });
      }
    }
  }
  return {
    needsReview: flags.length > 0,
    flags,
    measured: { laVolumeMl, laSlices, laExtentMm, scarFarFromWallPercent },
    // Only the limits (a caller may pass all its settings).
    limits: {
      qcLaMinVolumeMl: limits.qcLaMinVolumeMl,
      qcLaMaxVolumeMl: limits.qcLaMaxVolumeMl,
      qcLaMinExtentMm: limits.qcLaMinExtentMm,
      qcScarWallDistanceMm: limits.qcScarWallDistanceMm,
      qcScarFarMaxPercent: limits.qcScarFarMaxPercent,
    },
  };
}

/**
 * Scar voxels whose centre is farther than `mm` from the cavity surface: outside the cavity,
 * the distance to the nearest cavity voxel; inside, to the nearest non-cavity voxel. Distances are
 * computed on the cavity's box grown by `mm`; scar outside that box is farther by construction.
 */
function scarFarFromSurface(la: Mask, scar: Mask, mm: number): number {
  const { dims, spacing } = la.geometry;
  const cavity = nonZeroBox(la.data, dims)!;
  const box = growBoxMm(cavity, dims, spacing, mm);
  const outside2 = distanceTransformMmInBox(la.data, dims, spacing, box, true);
  const depth2 = distanceTransformMmInBox(la.data, dims, spacing, box, true, true);
  const limit2 = mm * mm * (1 + 1e-6);
  const [bx, by, bz] = [0, 1, 2].map((a) => box.max[a]! - box.min[a]!) as [number, number, number];
  let near = 0;
  let o = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = box.min[0] + dims[0] * (box.min[1] + j + dims[1] * (box.min[2] + k));
      for (let i = 0; i < bx; i++, o++) {
        if (scar.data[row + i] === 0) continue;
        const d2 = outside2[o]! > 0 ? outside2[o]! : depth2[o]!;
        if (d2 <= limit2) near++;
      }
    }
  }
  return countNonZeroBytes(scar.data) - near;
}

/** A flag as stored (Measurement.qcFlags) and shown: "<code>: <reason>". */
export function formatQcFlag(flag: QcFlag): string {
  return `${flag.code}: ${flag.reason}`;
}

/**
 * The words of a stored flag, for display: the reason of "<code>: <reason>"; an older flag that
 * is a bare code (e.g. "low_blood_pool_contrast") becomes "low blood pool contrast".
 */
export function qcFlagReason(stored: string): string {
  const m = /^([a-z][a-z0-9_-]*): (.+)$/s.exec(stored);
  if (m) return m[2]!;
  return /^[a-z0-9_-]+$/i.test(stored) ? stored.replace(/[_-]+/g, ' ') : stored;
}
