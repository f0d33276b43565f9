/**
 * ONNX models run by onnxruntime-node, with the execution provider chosen by configuration.
 *
 * onnxruntime-node THROWS when a listed provider fails to load, even in ['cuda', 'cpu'], so a
 * fallback chain must try each provider in its own session. Sessions are expensive (weights are
 * copied to the device): create them once per process and reuse them.
 */
import * as ort from 'onnxruntime-node';

import type { ExecutionProvider, ExecutionProviderChoice } from './execution-provider.js';

export * from './execution-provider.js';

/** What `auto` tries, fastest first. */
const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

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
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  const fallbacks: string[] = [];
  for (const provider of candidates) {
    const problem = providerUnavailable(provider);
    if (problem) {
      fallbacks.push(`${provider}: ${problem}`);
      continue;
    }
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
      return wrapSession(session, provider, choice === 'auto' ? fallbacks : []);
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

/** A reason a provider cannot work in this installation, without trying to load it. */
function providerUnavailable(provider: ExecutionProvider): string | undefined {
  const backends = ort.listSupportedBackends();
  const entry = backends.find((b) => b.name === provider);
  if (!entry) return 'not built into this onnxruntime-node';
  // The CUDA provider is downloaded at install time (ONNXRUNTIME_NODE_INSTALL=cuda12); when it
  // was skipped the library is simply absent and session creation would fail anyway.
  return undefined;
}

function wrapSession(
  session: ort.InferenceSession,
  provider: ExecutionProvider,
  fallbacks: string[],
): OnnxModel {
  const outputName = session.outputNames[0];
  if (!outputName) throw new Error('the ONNX model has no outputs');
  return {
    executionProvider: provider,
    providerFallbacks: fallbacks,
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
