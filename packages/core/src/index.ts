// Public surface of @lascar/core: the pipeline's stages, in the order a study flows through them.
export * from './volume.js';
export * from './onnx-runtime.js';
