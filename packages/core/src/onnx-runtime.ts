/**
 * ONNX models run by onnxruntime-node, with the execution provider chosen by configuration.
 *
 * onnxruntime-node THROWS when a listed provider fails to load, even in ['cuda', 'cpu'], so a
 * fallback chain must try each provider in its own session. Sessions are expensive (weights are
 * copied to the device): create them once per process and reuse them.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

import {
  describeExecutionProvider,
  planExecutionProviders,
  type ExecutionProvider,
  type ExecutionProviderChoice,
  type ProviderProbes,
} from './execution-provider.js';

export * from './execution-provider.js';

export class ExecutionProviderError extends Error {
  override name = 'ExecutionProviderError';
}

export interface TensorInput {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface OnnxModel {
  /** The provider this model's session actually runs on. */
  readonly executionProvider: ExecutionProvider;
  /** Why `auto` skipped faster providers (empty when one was asked for explicitly). */
  readonly providerFallbacks: readonly string[];
  /** One plain line: the provider and why, e.g. `execution provider: cpu (no GPU found)`. */
  readonly providerSummary: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model and returns its first output as float32. */
  run(inputs: Readonly<Record<string, TensorInput>>): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface OpenModelOptions {
  readonly executionProvider?: ExecutionProviderChoice;
  /** CPU threads for one inference; default: onnxruntime's (all cores). */
  readonly intraOpNumThreads?: number;
}

/** Opens an ONNX model (file path or bytes) on the requested execution provider. */
export async function openOnnxModel(
  model: string | Uint8Array,
  options: OpenModelOptions = {},
): Promise<OnnxModel> {
  const choice = options.executionProvider ?? 'auto';
  const plan = planExecutionProviders(choice, probeExecutionProviders());
  const fallbacks = [...plan.skipped];
  for (const provider of plan.candidates) {
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      };
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
      const skipped = choice === 'auto' ? fallbacks : [];
      return wrapSession(
        session,
        provider,
        skipped,
        describeExecutionProvider(provider, choice, skipped),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      fallbacks.push(`${provider}: ${reason}`);
    }
  }
  if (choice === 'auto') {
    throw new ExecutionProviderError(
      `no execution provider could run the model (${fallbacks.join('; ')})`,
    );
  }
  throw new ExecutionProviderError(
    `execution provider '${choice}' was requested but is unavailable: ${fallbacks.join('; ')}`,
  );
}

const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
];
const VULKAN_ICD_DIRS = [
  '/usr/share/vulkan/icd.d',
  '/etc/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
];

const hasEntries = (dir: string, pattern: RegExp): boolean => {
  try {
    return readdirSync(dir).some((f) => pattern.test(f));
  } catch {
    return false;
  }
};

let probed: ProviderProbes | undefined;

/**
 * Looks at this machine (files only, nothing is loaded) for what each provider needs. Cached:
 * the answer does not change while the process runs.
 */
export function probeExecutionProviders(): ProviderProbes {
  if (probed) return probed;
  // onnxruntime-node loads its binding and the provider libraries from bin/napi-v6/<os>/<arch>.
  const bindingDir = path.join(
    path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  const linux = process.platform === 'linux';
  const nvidiaGpu = linux
    ? ['/dev/nvidiactl', '/proc/driver/nvidia/version', '/dev/dxg'].some((f) => existsSync(f))
    : process.platform === 'win32';
  const libraryDirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...LIBRARY_DIRS,
  ];
  probed = {
    builtIn: ort.listSupportedBackends().map((b) => b.name),
    cudaProviderLibrary: [
      'libonnxruntime_providers_cuda.so',
      'onnxruntime_providers_cuda.dll',
    ].some((f) => existsSync(path.join(bindingDir, f))),
    nvidiaGpu,
    // Elsewhere than Linux, WebGPU runs on Metal or Direct3D, which every machine has.
    gpuDevice: linux ? nvidiaGpu || hasEntries('/dev/dri', /^renderD\d+$/) : true,
    webgpuDriver: linux
      ? libraryDirs.some((d) => existsSync(path.join(d, 'libvulkan.so.1'))) &&
        (Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) ||
          VULKAN_ICD_DIRS.some((d) => hasEntries(d, /\.json$/)))
      : true,
  };
  return probed;
}

function wrapSession(
  session: ort.InferenceSession,
  provider: ExecutionProvider,
  fallbacks: string[],
  providerSummary: string,
): OnnxModel {
  const outputName = session.outputNames[0];
  if (!outputName) throw new Error('the ONNX model has no outputs');
  return {
    executionProvider: provider,
    providerFallbacks: fallbacks,
    providerSummary,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(inputs) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        const input = inputs[name];
        if (!input)
          throw new Error(
            `missing model input '${name}' (the model expects ${session.inputNames.join(', ')})`,
          );
        feeds[name] = new ort.Tensor('float32', input.data, input.dims);
      }
      const results = await session.run(feeds, [outputName]);
      const output = results[outputName];
      if (!output || output.type !== 'float32')
        throw new Error(`model output '${outputName}' is not float32`);
      const data = output.data as Float32Array;
      output.dispose();
      return data;
    },
    release: () => session.release(),
  };
}
