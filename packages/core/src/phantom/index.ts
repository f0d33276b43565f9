// Synthetic LGE phantoms: the public surface.
export {
  type Acquisition,
  type AcquisitionOptions,
  type PhantomStyle,
  PHANTOM_STYLES,
  ACQUISITION_RANGES,
  SHIFT_BLUR,
} from './acquisition.js';
export { caseSeed, hashSeed, Rng } from './random.js';
export { MAX_STORED_VALUE } from './render.js';
export {
  type PhantomCase,
  type PhantomOptions,
  type PhantomTruth,
  WALL_SHELL_MM,
  PHANTOM_TRUTH_WALL,
  generatePhantom,
  phantomAcquisition,
  phantomTargetBurden,
} from './generate.js';
export { type PhantomDicomDescription, phantomDicomDescription } from './dicom-identity.js';
