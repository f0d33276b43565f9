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
