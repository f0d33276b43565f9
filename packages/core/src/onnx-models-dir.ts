/**
 * Opens the LA and scar networks from a models folder (la.onnx + la.json, scar.onnx + scar.json),
 * the layout the shipped weights use. Shared by the CLI and the worker.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionProviderChoice } from './execution-provider.js';
import {
  ModelManifestError,
  openStudyNetworks,
  parseModelManifest,
  type LoadedNetworks,
  type ModelKind,
  type NetworkFiles,
} from './onnx-networks.js';

async function networkFiles(modelsDir: string, kind: ModelKind): Promise<NetworkFiles> {
  const manifestPath = path.join(modelsDir, `${kind}.json`);
  const modelPath = path.join(modelsDir, `${kind}.onnx`);
  for (const p of [manifestPath, modelPath]) {
    if (!existsSync(p)) throw new ModelManifestError(`model file ${p} is missing`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new ModelManifestError(`${manifestPath}: not valid JSON (${(error as Error).message})`);
  }
  return { model: modelPath, manifest: parseModelManifest(json, kind, manifestPath) };
}

/** Opens both networks of a models folder on the chosen execution provider. */
export async function openNetworksFromDirectory(
  modelsDir: string,
  executionProvider: ExecutionProviderChoice,
): Promise<LoadedNetworks> {
  const la = await networkFiles(modelsDir, 'la');
  const scar = await networkFiles(modelsDir, 'scar');
  return openStudyNetworks({ la, scar }, { executionProvider });
}

// Pure, so it also lives in the main entry; re-exported here for the worker's existing imports.
export { modelVersionOf } from './model-version.js';
