/**
 * LA cavity post-processing: threshold the network's probabilities, then keep the largest 3D
 * connected component. The paper does not say what it does after the threshold; keeping the
 * largest component is the usual, safe choice (the LA blood pool is one connected body, and
 * stray islands elsewhere in the chest are false positives), and it is an option here.
 */

import { keepLargestComponent, type Connectivity3D } from './cca.js';
import { DEFAULT_PROBABILITY_THRESHOLD } from './preprocess.js';
import type { Vec3 } from './volume.js';

export interface LaPostprocessOptions {
  /** Foreground where probability > threshold (strictly). Default 0.5. */
  readonly threshold?: number;
  /**
   * Which components to keep: 26, 18 or 6 = the largest 3D component under that connectivity
   * (default 26: voxels touching by a face, edge or corner belong together, the most permissive
   * choice, so a thin vein joined at a corner is not cut off); 'all' = keep every component.
   */
  readonly largestComponent?: Connectivity3D | 'all';
}

/** Probabilities -> 0/1 mask, p > threshold. */
export function thresholdProbabilities(
  probabilities: ArrayLike<number>,
  threshold: number = DEFAULT_PROBABILITY_THRESHOLD,
): Uint8Array {
  const out = new Uint8Array(probabilities.length);
  for (let v = 0; v < out.length; v++) out[v] = probabilities[v]! > threshold ? 1 : 0;
  return out;
}

/**
 * Applies the component rule to an already thresholded LA mask (inference thresholds while it
 * maps predictions back to the source grid, see restoreCanvasSliceMask). Returns a new mask.
 */
export function postprocessLaMask(
  mask: Uint8Array,
  dims: Vec3,
  options: Pick<LaPostprocessOptions, 'largestComponent'> = {},
): Uint8Array {
  const rule = options.largestComponent ?? 26;
  if (rule === 'all') return Uint8Array.from(mask, (v) => (v !== 0 ? 1 : 0));
  return keepLargestComponent(mask, dims, rule);
}

/** Threshold then component rule, for a probability volume on the source grid. */
export function postprocessLaProbabilities(
  probabilities: ArrayLike<number>,
  dims: Vec3,
  options: LaPostprocessOptions = {},
): Uint8Array {
  return postprocessLaMask(thresholdProbabilities(probabilities, options.threshold), dims, options);
}
