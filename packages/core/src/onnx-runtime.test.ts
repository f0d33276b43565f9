import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ExecutionProviderError, openOnnxModel } from './onnx-runtime.js';

// A 2-node ONNX graph, probability = sigmoid(2 x), made with onnx.helper (opset 17, dynamic batch).
const MODEL = fileURLToPath(new URL('../test-data/sigmoid-of-2x.onnx', import.meta.url));

describe('openOnnxModel', () => {
  it('runs a real ONNX graph on the CPU provider', async () => {
    const model = await openOnnxModel(MODEL, { executionProvider: 'cpu' });
    expect(model.executionProvider).toBe('cpu');
    expect(model.inputNames).toEqual(['x']);
    const x = Float32Array.from({ length: 2 * 16 }, (_, n) => (n - 16) / 8);
    const y = await model.run({ x: { data: x, dims: [2, 1, 4, 4] } });
    expect(y).toHaveLength(32);
    y.forEach((value, n) => expect(value).toBeCloseTo(1 / (1 + Math.exp(-2 * x[n]!)), 6));
    await model.release();
  });

  it('auto falls back to a provider that works and says why it skipped the others', async () => {
    const model = await openOnnxModel(MODEL, { executionProvider: 'auto' });
    expect(['cuda', 'webgpu', 'cpu']).toContain(model.executionProvider);
    if (model.executionProvider === 'cpu') expect(model.providerFallbacks.length).toBe(2);
    expect(model.providerSummary).toMatch(
      new RegExp(`^execution provider: ${model.executionProvider} \\(.+\\)$`),
    );
    await model.release();
  });

  it('a provider asked for explicitly and missing is a clear error', async () => {
    // This CI machine has no CUDA provider libraries (ONNXRUNTIME_NODE_INSTALL=skip).
    await expect(openOnnxModel(MODEL, { executionProvider: 'cuda' })).rejects.toThrow(
      ExecutionProviderError,
    );
    await expect(openOnnxModel(MODEL, { executionProvider: 'cuda' })).rejects.toThrow(
      /'cuda' was requested/,
    );
  });

  it('names a missing input', async () => {
    const model = await openOnnxModel(MODEL, { executionProvider: 'cpu' });
    await expect(model.run({})).rejects.toThrow(/missing model input 'x'/);
    await model.release();
  });
});
