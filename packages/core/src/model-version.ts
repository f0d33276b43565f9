import type { ModelManifest } from './onnx-networks.js';

/** The model version recorded with results and in SEG UIDs: both weights' hashes, shortened. */
export function modelVersionOf(manifests: {
  readonly la: Pick<ModelManifest, 'sha256'>;
  readonly scar: Pick<ModelManifest, 'sha256'>;
}): string {
  return `la-${manifests.la.sha256.slice(0, 12)}.scar-${manifests.scar.sha256.slice(0, 12)}`;
}
