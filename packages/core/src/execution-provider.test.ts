import { describe, expect, it } from 'vitest';
import {
  describeExecutionProvider,
  planExecutionProviders,
  type ProviderProbes,
} from './execution-provider.js';

const BUILT_IN = ['cpu', 'webgpu', 'cuda', 'tensorrt'];
/** A server without a GPU and with onnxruntime-node installed as npm does by default. */
const NO_GPU: ProviderProbes = {
  builtIn: BUILT_IN,
  cudaProviderLibrary: false,
  nvidiaGpu: false,
  gpuDevice: false,
  webgpuDriver: false,
};
/** A CUDA server: NVIDIA driver, the CUDA provider installed, Vulkan from the driver. */
const CUDA_SERVER: ProviderProbes = {
  builtIn: BUILT_IN,
  cudaProviderLibrary: true,
  nvidiaGpu: true,
  gpuDevice: true,
  webgpuDriver: true,
};

describe('planExecutionProviders', () => {
  it('auto on a machine without a GPU goes straight to the CPU without trying the others', () => {
    const plan = planExecutionProviders('auto', NO_GPU);
    expect(plan.candidates).toEqual(['cpu']);
    expect(plan.skipped).toEqual([
      'cuda: no CUDA provider library installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)',
      'webgpu: no GPU found',
    ]);
    expect(describeExecutionProvider('cpu', 'auto', plan.skipped)).toBe(
      'execution provider: cpu (no CUDA provider library installed; no GPU found)',
    );
  });

  it('auto tries CUDA first where the driver and the provider library are there', () => {
    const plan = planExecutionProviders('auto', CUDA_SERVER);
    expect(plan).toEqual({ candidates: ['cuda', 'webgpu', 'cpu'], skipped: [] });
    expect(describeExecutionProvider('cuda', 'auto', [])).toBe(
      'execution provider: cuda (the fastest available)',
    );
  });

  it('auto skips CUDA without an NVIDIA GPU even when the library is installed', () => {
    const plan = planExecutionProviders('auto', {
      ...NO_GPU,
      cudaProviderLibrary: true,
      gpuDevice: true,
      webgpuDriver: true,
    });
    expect(plan.candidates).toEqual(['webgpu', 'cpu']);
    expect(plan.skipped).toEqual(['cuda: no NVIDIA GPU found']);
  });

  it('auto skips WebGPU on a GPU without a Vulkan driver', () => {
    const plan = planExecutionProviders('auto', { ...NO_GPU, gpuDevice: true });
    expect(plan.candidates).toEqual(['cpu']);
    expect(describeExecutionProvider('cpu', 'auto', plan.skipped)).toBe(
      'execution provider: cpu (no CUDA provider library installed; no Vulkan driver installed)',
    );
  });

  it('names a provider that failed when tried, and one not built in', () => {
    const plan = planExecutionProviders('auto', { ...CUDA_SERVER, builtIn: ['cpu', 'cuda'] });
    expect(plan.candidates).toEqual(['cuda', 'cpu']);
    expect(
      describeExecutionProvider('cpu', 'auto', [
        'cuda: libcudnn.so.9: cannot open shared object file',
        ...plan.skipped,
      ]),
    ).toBe(
      'execution provider: cpu (cuda failed to start; webgpu not built into onnxruntime-node)',
    );
  });

  it('an explicit choice is refused only when it certainly cannot load', () => {
    expect(planExecutionProviders('cuda', NO_GPU)).toEqual({
      candidates: [],
      skipped: [
        'cuda: no CUDA provider library installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)',
      ],
    });
    // The device probes can miss an unusual setup: asked for by name, the provider is tried.
    expect(planExecutionProviders('cuda', { ...NO_GPU, cudaProviderLibrary: true })).toEqual({
      candidates: ['cuda'],
      skipped: [],
    });
    expect(planExecutionProviders('webgpu', NO_GPU).candidates).toEqual(['webgpu']);
    expect(planExecutionProviders('cpu', NO_GPU)).toEqual({ candidates: ['cpu'], skipped: [] });
    expect(describeExecutionProvider('cpu', 'cpu', [])).toBe('execution provider: cpu (requested)');
  });
});
