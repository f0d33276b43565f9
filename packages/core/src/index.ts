// Public surface of @lascar/core: the pipeline's stages, in the order a study flows through them.
export * from './volume.js';
