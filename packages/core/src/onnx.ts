// The `@lascar/core/onnx` entry: everything that loads onnxruntime-node's native library.
export * from './onnx-runtime.js';
export * from './onnx-networks.js';
export * from './onnx-models-dir.js';
