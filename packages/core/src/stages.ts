/**
 * The pipeline for one study, as a chain of the pure stages with the two networks injected:
 *
 *   image --orient--> standard orientation (LPS: axis permutation + flips, no resampling)
 *         --la-input--> [LA network] --la-restore--> --la-postprocess--> LA cavity mask
 *         --scar-plan--> --scar-input--> [scar network] --scar-paste--> --scar-cca--> scar mask
 *         --quantify--> volumes, burden, stages
 *         --quality-control--> "needs review" flags with their reasons (quality-control.ts)
 *         masks mapped back onto the source grid (orient, inverse)
 *
 * The networks are plain async functions over float32 NCHW tensors, so the ONNX runtime (or a
 * test's fake, or a benchmark's stand-in) plugs in without this module knowing which. Work is
 * done in batches of slices (LA) and of patches (scar): memory is bounded by the batch sizes plus
 * a few byte-per-voxel masks, never a float copy of the whole study per intermediate.
 */

import { filterComponentsPerSlice } from './cca.js';
import { postprocessLaMask } from './la-postprocess.js';
import {
  checkMethodSettings,
  scarPixelLimits,
  type AppliedMethodSettings,
  type MethodSettings,
} from './method-settings.js';
import {
  STANDARD_ORIENTATION,
  UnsupportedOrientationError,
  fromStandardOrientation,
  sliceOrientationProblem,
  toStandardOrientation,
  type Axis,
} from './orientation.js';
import {
  SCAR_PATCH_CHANNELS,
  SCAR_PATCH_SIZE,
  createScarAccumulator,
  finishScarSlice,
  pasteScarPredictions,
  planScarSlice,
  writeScarPatches,
  type ScarPatchOptions,
  type ScarSliceAccumulator,
} from './patches.js';
import { predictLaSlices, type LaCropReport } from './la-crop.js';
import { DEFAULT_PROBABILITY_THRESHOLD } from './preprocess.js';
import { qualityControl, type QualityControl } from './quality-control.js';
import { quantifyStudy, type ScarQuantification } from './quantify.js';
import type { Mask, Volume, VoxelArray } from './volume.js';

/** What the LA network receives: slices firstSlice .. firstSlice + count - 1. */
export interface LaNetworkInput {
  readonly firstSlice: number;
  readonly count: number;
  /**
   * The input's columns and rows: 640 x 640 (the whole canvas), or a window of the canvas when
   * the networks take crops (`StudyNetworks.laCrops`; multiples of 64, la-crop.ts).
   */
  readonly width: number;
  readonly height: number;
  /** count x 1 x height x width float32, z-scored per slice (whole-slice statistics), centred. */
  readonly full: Float32Array;
  /** count x 1 x height/2 x width/2 float32, the half-scale input. */
  readonly half: Float32Array;
}

/**
 * The LA network (MSWS-Net): resolves to count x 1 x height x width probabilities. The input
 * buffers are reused for the next batch once the promise resolves: copy them if you keep them.
 */
export type LaNetwork = (input: LaNetworkInput) => Promise<Float32Array>;

export interface ScarNetworkInput {
  readonly count: number;
  /** count x 3 x 64 x 64 float32 patches (see patches.ts for the channels). */
  readonly patches: Float32Array;
}

/** The scar network (Boundary2Patches): resolves to count x 1 x 64 x 64 probabilities. Same buffer rule. */
export type ScarNetwork = (input: ScarNetworkInput) => Promise<Float32Array>;

export interface StudyNetworks {
  readonly la: LaNetwork;
  readonly scar: ScarNetwork;
  /**
   * The probability thresholds the networks were validated with (their manifests'
   * `thresholds.probability`): the default unless the method settings give one.
   */
  readonly thresholds?: { readonly la: number; readonly scar: number };
  /**
   * True when the LA network takes inputs of any height and width (a model exported with dynamic
   * spatial axes), so it may run on a crop around the atrium. Unset: whole canvas only.
   */
  readonly laCrops?: boolean;
}

/** The stages, in order, with what each does, for logs, reports and benchmarks. */
export const PIPELINE_STAGES = [
  {
    name: 'orient',
    description:
      'reorient to the standard orientation (LPS) by axis permutation and flips; masks mapped back exactly at the end',
  },
  {
    name: 'la-input',
    description:
      'z-score each slice, centre pad/crop to 640 x 640, 2 x 2 average to 320 x 320; with LA crop on, a window of that canvas around the atrium (a few whole-canvas probe slices find it)',
  },
  {
    name: 'la-network',
    description: 'MSWS-Net: LA cavity probability per 640 x 640 slice, or per window',
  },
  {
    name: 'la-restore',
    description:
      'map the predictions back to the slice grid, threshold p > t (model manifest); a slice whose cropped LA touches the window edge runs again on the whole canvas',
  },
  {
    name: 'la-postprocess',
    description: 'keep the largest 3D connected component of the LA cavity (configurable)',
  },
  {
    name: 'scar-plan',
    description: 'per slice: LA boundary contours, patch centres, boundary band, histogram channel',
  },
  { name: 'scar-input', description: 'cut 3-channel 64 x 64 patches along the boundary' },
  { name: 'scar-network', description: 'Boundary2Patches: scar probability per 64 x 64 patch' },
  {
    name: 'scar-paste',
    description:
      'average overlapping patch predictions in the band, threshold p > t (model manifest)',
  },
  {
    name: 'scar-cca',
    description:
      "drop 4-connected scar components per slice outside 3.90625..175.78125 mm^2 (the paper's 10..450 pixels at 0.625 mm)",
  },
  {
    name: 'quantify',
    description:
      'LA and scar volumes, 3 mm wall shell centred on the cavity surface, scar burden, Utah and DECAAF stages',
  },
  {
    name: 'quality-control',
    description:
      'flag for review: no LA, LA volume outside 20-300 mL, LA under 25 mm in the slice direction, > 5 % of scar over 10 mm from the wall (configurable)',
  },
] as const;

export type StageName = (typeof PIPELINE_STAGES)[number]['name'];

export interface StageEvent {
  readonly stage: StageName;
  /** Milliseconds this piece of the stage took (stages run in several batches emit several events). */
  readonly ms: number;
  /** LA stages: the slices this piece covered (batches differ in size when cropping). */
  readonly slices?: number;
}

export interface SegmentStudyOptions {
  /** Slices per LA network call (default 4: 4 x 1.6 MB input + 6.5 MB output). */
  readonly laBatchSlices?: number;
  /** Patches per scar network call (default 256: 12.6 MB input). */
  readonly scarBatchPatches?: number;
  /**
   * The method's settings (method-settings.ts); unset ones take the paper's values, the
   * threshold the networks' own.
   */
  readonly method?: Partial<MethodSettings>;
  /** Patch spacing along the boundary (the band comes from `method.boundaryBandMm`). */
  readonly patches?: Pick<ScarPatchOptions, 'stepPx'>;
  /** Called after each piece of work (for progress and benchmarks). */
  readonly onStage?: (event: StageEvent) => void;
}

/** How the study was rearranged for the networks (recorded with results). */
export interface StudyOrientation {
  /** The orientation the networks saw. */
  readonly standard: string;
  /** For each standard axis (i, j, k), the stored axis it came from, and whether reversed. */
  readonly axes: readonly [Axis, Axis, Axis];
  readonly flips: readonly [boolean, boolean, boolean];
  /** False when the study was stored in the standard orientation already. */
  readonly reoriented: boolean;
}

export interface StudySegmentation {
  /** LA cavity, 0/1 on the image's own grid. */
  readonly la: Mask;
  /** Scar, 0/1 on the image's own grid. */
  readonly scar: Mask;
  readonly quantification: ScarQuantification;
  /** Whether a person should look at this result before trusting it, and why. */
  readonly qc: QualityControl;
  /** The method settings this result was made with. */
  readonly settings: AppliedMethodSettings;
  readonly orientation: StudyOrientation;
  /** Patches sent to the scar network. */
  readonly patchCount: number;
  /** Whether the LA network ran on a crop around the atrium, where, and why (la-crop.ts). */
  readonly laCrop: LaCropReport;
  /** Total milliseconds per stage, networks included under their own names. */
  readonly stageMs: Readonly<Record<StageName, number>>;
}

export class NetworkOutputError extends Error {
  override name = 'NetworkOutputError';
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Runs the whole chain on one study. The networks see the study in the standard orientation
 * (orientation.ts); the masks come back on the image's own grid, voxel for voxel. A stack whose
 * slices are not axial is refused with an UnsupportedOrientationError (a data problem: retrying
 * cannot help).
 */
export async function segmentStudy(
  source: Volume<VoxelArray>,
  networks: StudyNetworks,
  options: SegmentStudyOptions = {},
): Promise<StudySegmentation> {
  const sourceCount = source.geometry.dims[0] * source.geometry.dims[1] * source.geometry.dims[2];
  if (source.data.length !== sourceCount) {
    throw new RangeError(
      `image has ${source.data.length} voxels but its grid ${source.geometry.dims.join(' x ')} needs ${sourceCount}`,
    );
  }
  const orientationProblem = sliceOrientationProblem(source.geometry);
  if (orientationProblem) throw new UnsupportedOrientationError(orientationProblem);
  const laBatch = positiveInteger('LA batch size', options.laBatchSlices ?? 4);
  const scarBatch = positiveInteger('scar batch size', options.scarBatchPatches ?? 256);
  const method = checkMethodSettings(options.method);

  const stageMs = Object.fromEntries(PIPELINE_STAGES.map((s) => [s.name, 0])) as Record<
    StageName,
    number
  >;
  let clock = performance.now();
  const lap = (stage: StageName, slices?: number): void => {
    const now = performance.now();
    const ms = now - clock;
    clock = now;
    stageMs[stage] += ms;
    options.onStage?.(slices === undefined ? { stage, ms } : { stage, ms, slices });
  };

  const { volume: image, transform } = toStandardOrientation(source);
  const { geometry } = image;
  const [nx, ny, nz] = geometry.dims;
  const n = nx * ny * nz;
  const settings = applySettings(method, networks, geometry.spacing);
  lap('orient');

  // LA: batches of slices (or of windows around the atrium) -> network -> thresholded straight
  // onto the slice grid.
  const laCropOn = settings.laCrop && networks.laCrops === true;
  let laRaw = new Uint8Array(n);
  const { statistics, crop: laCrop } = await predictLaSlices(
    image,
    async (input) => {
      const out = await networks.la(input);
      if (
        !(out instanceof Float32Array) ||
        out.length !== input.count * input.width * input.height
      ) {
        throw new NetworkOutputError(
          `LA network returned ${describe(out)} for slices ${input.firstSlice}..${input.firstSlice + input.count - 1}; expected ${input.count} x 1 x ${input.height} x ${input.width} float32`,
        );
      }
      return out;
    },
    {
      batchSlices: laBatch,
      threshold: settings.laProbabilityThreshold,
      crop: laCropOn,
      ...(laCropOn
        ? {}
        : {
            cropOffReason: settings.laCrop
              ? 'off: the LA model takes only 640 x 640 inputs (fixed axes); every slice on the whole canvas'
              : 'off by the method setting: every slice on the whole canvas',
          }),
      lap,
    },
    laRaw,
  );
  const la = postprocessLaMask(laRaw, geometry.dims, {
    largestComponent: settings.laComponents,
  });
  laRaw = new Uint8Array(0); // let the unfiltered mask go: memory stays a few masks, not more
  lap('la-postprocess');

  // Scar: patches of several slices share a batch; a slice is finished once all its patches
  // have come back, so at most one batch's worth of slices is held.
  const patchValues = SCAR_PATCH_CHANNELS * SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  const patchPixels = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  const batch = new Float32Array(scarBatch * patchValues);
  let scarRaw = new Uint8Array(n);
  const scarThreshold = settings.scarProbabilityThreshold;
  const patchOptions: ScarPatchOptions = {
    ...options.patches,
    bandMm: settings.boundaryBandMm,
  };
  let slots = 0;
  let patchCount = 0;
  let pieces: Array<{ acc: ScarSliceAccumulator; first: number; count: number; slot: number }> = [];
  const remaining = new Map<ScarSliceAccumulator, number>();

  const flush = async (): Promise<void> => {
    if (slots === 0) return;
    lap('scar-input');
    const out = await networks.scar({
      count: slots,
      patches: batch.subarray(0, slots * patchValues),
    });
    lap('scar-network');
    if (!(out instanceof Float32Array) || out.length !== slots * patchPixels) {
      throw new NetworkOutputError(
        `scar network returned ${describe(out)} for ${slots} patches; expected ${slots} x 1 x ${SCAR_PATCH_SIZE} x ${SCAR_PATCH_SIZE} float32`,
      );
    }
    for (const piece of pieces) {
      pasteScarPredictions(piece.acc, out, piece.slot, piece.first, piece.count);
      const left = remaining.get(piece.acc)! - piece.count;
      if (left === 0) {
        finishScarSlice(piece.acc, scarRaw, scarThreshold);
        remaining.delete(piece.acc);
      } else {
        remaining.set(piece.acc, left);
      }
    }
    pieces = [];
    slots = 0;
    lap('scar-paste');
  };

  for (let k = 0; k < nz; k++) {
    const plan = planScarSlice(image, la, k, patchOptions, statistics[k]);
    lap('scar-plan');
    if (!plan) continue;
    const acc = createScarAccumulator(plan);
    remaining.set(acc, plan.patchCount);
    patchCount += plan.patchCount;
    for (let first = 0; first < plan.patchCount;) {
      const count = Math.min(scarBatch - slots, plan.patchCount - first);
      writeScarPatches(image, plan, first, count, batch, slots);
      pieces.push({ acc, first, count, slot: slots });
      slots += count;
      first += count;
      if (slots === scarBatch) await flush();
    }
    lap('scar-input');
  }
  await flush();

  const scar = filterComponentsPerSlice(scarRaw, geometry.dims, {
    minPixels: settings.scarMinPixels,
    maxPixels: settings.scarMaxPixels,
  });
  scarRaw = new Uint8Array(0);
  lap('scar-cca');
  const laMask: Mask = { geometry, data: la };
  const scarMask: Mask = { geometry, data: scar };
  // Quantified in the standard orientation: the same numbers however the file stores the voxels.
  const quantification = quantifyStudy(laMask, scarMask, { wallMm: settings.wallThicknessMm });
  lap('quantify');
  const qc = qualityControl(laMask, scarMask, settings, quantification);
  lap('quality-control');
  const result = {
    la: fromStandardOrientation(laMask, transform),
    scar: fromStandardOrientation(scarMask, transform),
    quantification,
    qc,
    settings,
    orientation: {
      standard: STANDARD_ORIENTATION,
      axes: transform.axes,
      flips: transform.flips,
      reoriented: !transform.identity,
    },
    patchCount,
    laCrop,
    stageMs,
  };
  lap('orient');
  return result;
}

/** The settings for one study: thresholds resolved, scar area limits in this grid's pixels. */
function applySettings(
  method: MethodSettings,
  networks: StudyNetworks,
  spacing: readonly number[],
): AppliedMethodSettings {
  const { probabilityThreshold, ...rest } = method;
  const la = probabilityThreshold ?? networks.thresholds?.la ?? DEFAULT_PROBABILITY_THRESHOLD;
  const scar = probabilityThreshold ?? networks.thresholds?.scar ?? DEFAULT_PROBABILITY_THRESHOLD;
  const { minPixels, maxPixels } = scarPixelLimits(method, spacing[0]!, spacing[1]!);
  return {
    ...rest,
    laProbabilityThreshold: la,
    scarProbabilityThreshold: scar,
    thresholdSource:
      probabilityThreshold !== undefined
        ? 'setting'
        : networks.thresholds
          ? 'model manifest'
          : 'default',
    scarMinPixels: minPixels,
    scarMaxPixels: maxPixels,
  };
}

function describe(v: unknown): string {
  if (v instanceof Float32Array) return `${v.length} float32 values`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v;
}
