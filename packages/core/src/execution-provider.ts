/**
 * Execution-provider names, kept apart from onnx-runtime.ts so that configuration can be parsed
 * and validated without loading onnxruntime-node's native library.
 */
export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type ExecutionProvider = Exclude<ExecutionProviderChoice, 'auto'>;

export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = [
  'auto',
  'cpu',
  'cuda',
  'webgpu',
];

export function isExecutionProviderChoice(value: string): value is ExecutionProviderChoice {
  return (EXECUTION_PROVIDER_CHOICES as readonly string[]).includes(value);
}

/**
 * What this machine offers each provider, looked up without loading it: onnxruntime prints an
 * alarming error (and Dawn a Vulkan warning) each time a provider fails to load, which a new
 * user on a machine without a GPU reads as a failure.
 */
export interface ProviderProbes {
  /** Providers compiled into this onnxruntime-node (ort.listSupportedBackends()). */
  readonly builtIn: readonly string[];
  /** The CUDA provider library beside onnxruntime-node's binding (installed on request only). */
  readonly cudaProviderLibrary: boolean;
  /** An NVIDIA driver with a device (/dev/nvidiactl, /proc/driver/nvidia, WSL's /dev/dxg). */
  readonly nvidiaGpu: boolean;
  /** A GPU device a WebGPU adapter could use (a DRM render node, an NVIDIA device). */
  readonly gpuDevice: boolean;
  /** What WebGPU needs on this platform besides a GPU (Linux: the Vulkan loader and a driver). */
  readonly webgpuDriver: boolean;
}

export interface ProviderPlan {
  /** Providers worth trying, fastest first; the last one is the answer when all succeed. */
  readonly candidates: readonly ExecutionProvider[];
  /** Why each faster provider is not tried, as `provider: reason`. */
  readonly skipped: readonly string[];
}

/** Why a provider cannot work here, or undefined when it is worth trying. */
function whyUnavailable(
  provider: ExecutionProvider,
  probes: ProviderProbes,
  explicit: boolean,
): string | undefined {
  if (!probes.builtIn.includes(provider)) return `not built into this onnxruntime-node`;
  if (provider === 'cuda') {
    if (!probes.cudaProviderLibrary)
      return 'no CUDA provider library installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)';
    // A device probe can miss an unusual setup: asked for by name, the provider is still tried.
    if (!explicit && !probes.nvidiaGpu) return 'no NVIDIA GPU found';
  }
  if (provider === 'webgpu' && !explicit) {
    if (!probes.gpuDevice) return 'no GPU found';
    if (!probes.webgpuDriver) return 'no Vulkan driver installed';
  }
  return undefined;
}

/** What `auto` tries, fastest first. */
const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

/**
 * Decides which providers to try for a choice, from what the machine offers. `auto` skips what
 * cannot work; an explicit choice is refused only when it certainly cannot load.
 */
export function planExecutionProviders(
  choice: ExecutionProviderChoice,
  probes: ProviderProbes,
): ProviderPlan {
  if (choice !== 'auto') {
    const why = whyUnavailable(choice, probes, true);
    return why
      ? { candidates: [], skipped: [`${choice}: ${why}`] }
      : { candidates: [choice], skipped: [] };
  }
  const candidates: ExecutionProvider[] = [];
  const skipped: string[] = [];
  for (const provider of AUTO_ORDER) {
    const why = provider === 'cpu' ? undefined : whyUnavailable(provider, probes, false);
    if (why) skipped.push(`${provider}: ${why}`);
    else candidates.push(provider);
  }
  return { candidates, skipped };
}

/**
 * The one line a person reads about the provider: which one runs and why, e.g.
 * `execution provider: cpu (no CUDA provider library installed; no GPU found)`.
 */
export function describeExecutionProvider(
  chosen: ExecutionProvider,
  choice: ExecutionProviderChoice,
  fallbacks: readonly string[],
): string {
  if (choice !== 'auto') return `execution provider: ${chosen} (requested)`;
  const plain = (entry: string): string => {
    const [provider, reason = ''] = entry.split(/: (.*)/s);
    if (reason.startsWith('no ')) return reason.replace(/ \(.*$/s, '');
    if (reason.startsWith('not built')) return `${provider} not built into onnxruntime-node`;
    return `${provider} failed to start`;
  };
  // "no GPU found" once, even when two providers were skipped for it.
  const reasons = [...new Set(fallbacks.map(plain))];
  return `execution provider: ${chosen} (${reasons.length ? reasons.join('; ') : 'the fastest available'})`;
}
