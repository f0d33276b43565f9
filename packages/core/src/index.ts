// Public surface of @lascar/core: the pipeline's stages, in the order a study flows through them.
// onnxruntime-node (a native library) is reached through the separate entry `@lascar/core/onnx`,
// so that importing the pure stages never loads it.
export * from './volume.js';
export * from './distance.js';
export * from './preprocess.js';
export * from './cca.js';
export * from './la-postprocess.js';
export * from './la-crop.js';
export * from './nifti.js';
export * from './dicom/errors.js';
export * from './dicom/transfer-syntax.js';
export * from './dicom/uids.js';
export * from './dicom/part10.js';
export * from './dicom/series.js';
export * from './dicom/mr-writer.js';
export * from './boundary.js';
export * from './patches.js';
export * from './metrics.js';
export * from './quantify.js';
export * from './dicom/seg-writer.js';
export * from './dicom/sr-writer.js';
export * from './lascarqs.js';
export * from './dataset.js';
export * from './stages.js';
export * from './phantom/index.js';
export * from './preview.js';
export * from './dicom/align.js';
export * from './dicom/bench.js';
export * from './mask-scan.js';
export * from './dicom/codecs.js';
export * from './execution-provider.js';
export * from './selection.js';
export * from './model-version.js';
export * from './orientation.js';
export * from './method-settings.js';
export * from './quality-control.js';
