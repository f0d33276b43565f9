/**
 * The two trained networks as the pipeline's injected functions (stages.ts), run by
 * onnxruntime-node. Each ONNX file comes with the manifest `python3 -m training export` writes
 * beside it; the manifest is checked against what this build of the product feeds the network,
 * so a model trained on another preprocessing recipe is refused rather than silently wrong.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PREPROCESSING_VERSION } from './dataset.js';
import {
  openOnnxModel,
  type ExecutionProvider,
  type OnnxModel,
  type OpenModelOptions,
} from './onnx-runtime.js';
import { LA_HALF_INPUT_SIZE, LA_INPUT_SIZE } from './preprocess.js';
import { SCAR_PATCH_CHANNELS, SCAR_PATCH_SIZE } from './patches.js';
import type { StudyNetworks } from './stages.js';

export type ModelKind = 'la' | 'scar';

/** The fields of a model manifest the product relies on (training/export.py writes more). */
export interface ModelManifest {
  readonly model: ModelKind;
  readonly architecture: string;
  readonly file: string;
  readonly sha256: string;
  readonly width: number;
  readonly parameters: number;
  readonly inputs: readonly {
    readonly name: string;
    readonly shape: readonly (number | string)[];
  }[];
  readonly thresholds: { readonly probability: number };
  readonly preprocessing: string;
  readonly training_data: { readonly synthetic?: boolean; readonly summary: string };
  readonly validation?: Record<string, unknown>;
  readonly exported: string;
}

export class ModelManifestError extends Error {
  override name = 'ModelManifestError';
}

/** The lowercase hex SHA-256 of a model's bytes, as training/export.py writes it in the manifest. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads a model's bytes and checks them against its manifest's `sha256`. The bytes that were
 * hashed are the bytes onnxruntime gets, so the model version (built from the manifests' hashes)
 * names exactly the weights that run: a swapped .onnx file cannot keep the old version and the
 * old SEG UIDs.
 */
export async function verifiedModelBytes(
  files: NetworkFiles,
  kind: ModelKind,
): Promise<Uint8Array> {
  const where = typeof files.model === 'string' ? files.model : `the ${kind} model bytes`;
  let bytes: Uint8Array;
  try {
    bytes = typeof files.model === 'string' ? await readFile(files.model) : files.model;
  } catch (error) {
    throw new ModelManifestError(`${where}: cannot be read (${(error as Error).message})`);
  }
  const actual = sha256Hex(bytes);
  if (actual !== files.manifest.sha256.toLowerCase()) {
    throw new ModelManifestError(
      `${where}: its SHA-256 is ${actual} but the ${kind} manifest says ${files.manifest.sha256}; ` +
        'the model file was changed or belongs to another export (re-export the model, or put back the file the manifest describes)',
    );
  }
  return bytes;
}

const EXPECTED_INPUTS: Record<ModelKind, Record<string, readonly number[]>> = {
  la: {
    image_full: [1, LA_INPUT_SIZE, LA_INPUT_SIZE],
    image_half: [1, LA_HALF_INPUT_SIZE, LA_HALF_INPUT_SIZE],
  },
  scar: { patches: [SCAR_PATCH_CHANNELS, SCAR_PATCH_SIZE, SCAR_PATCH_SIZE] },
};

/** Validates a parsed manifest JSON for the given kind; errors name the field. */
export function parseModelManifest(
  json: unknown,
  kind: ModelKind,
  source = `${kind}.json`,
): ModelManifest {
  const fail = (why: string): never => {
    throw new ModelManifestError(`${source}: ${why}`);
  };
  if (typeof json !== 'object' || json === null) return fail('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.model !== kind) fail(`'model' is ${JSON.stringify(m.model)}, expected '${kind}'`);
  for (const field of ['architecture', 'file', 'sha256', 'preprocessing', 'exported'] as const) {
    if (typeof m[field] !== 'string') fail(`'${field}' must be a string`);
  }
  if (!/^[0-9a-f]{64}$/i.test(m.sha256 as string))
    fail("'sha256' must be the model file's SHA-256 (64 hexadecimal digits)");
  for (const field of ['width', 'parameters'] as const) {
    if (typeof m[field] !== 'number') fail(`'${field}' must be a number`);
  }
  const thresholds = m.thresholds as Record<string, unknown> | undefined;
  const p = thresholds?.probability;
  if (typeof p !== 'number' || !(p > 0 && p < 1))
    fail(`'thresholds.probability' must be a number between 0 and 1, got ${JSON.stringify(p)}`);
  const data = m.training_data as Record<string, unknown> | undefined;
  if (typeof data?.summary !== 'string') fail("'training_data.summary' must be a string");
  if (!Array.isArray(m.inputs)) fail("'inputs' must be a list");
  const manifest = m as unknown as ModelManifest;
  if (manifest.preprocessing !== PREPROCESSING_VERSION) {
    fail(
      `the model was trained on preprocessing '${manifest.preprocessing}' but this product computes '${PREPROCESSING_VERSION}'; retrain or use a matching release`,
    );
  }
  const symbolic: boolean[] = [];
  for (const [name, shape] of Object.entries(EXPECTED_INPUTS[kind])) {
    const input = manifest.inputs.find((i) => i.name === name);
    if (!input) fail(`input '${name}' is missing`);
    const perSample = input!.shape.slice(1);
    // The LA network may also take any height and width (a model exported with dynamic
    // spatial axes): then its manifest names them instead of giving 640 / 320.
    const free = (d: number | string, axis: number): boolean =>
      kind === 'la' && axis > 0 && typeof d === 'string' && d.length > 0;
    if (
      perSample.length !== shape.length ||
      perSample.some((d, axis) => d !== shape[axis] && !free(d, axis))
    ) {
      fail(
        `input '${name}' has shape [batch, ${perSample.join(', ')}], expected [batch, ${shape.join(', ')}]` +
          (kind === 'la' ? ' (or named height and width axes)' : ''),
      );
    }
    symbolic.push(...perSample.slice(1).map((d, axis) => free(d, axis + 1)));
  }
  if (symbolic.some((v) => v !== symbolic[0])) {
    fail(
      'the LA inputs mix fixed and named height/width axes: either all are the fixed 640 / 320 or all are named',
    );
  }
  return manifest;
}

/**
 * Whether the LA model takes inputs of any height and width (exported with dynamic spatial
 * axes), so the pipeline may run it on a crop around the atrium (la-crop.ts). Models exported
 * for a fixed 640 x 640 canvas say no: onnxruntime would refuse a crop.
 */
export function laAcceptsCrops(manifest: ModelManifest): boolean {
  const full = manifest.inputs.find((i) => i.name === 'image_full');
  return full !== undefined && full.shape.slice(2).every((d) => typeof d === 'string');
}

export interface NetworkFiles {
  /** Path of the .onnx file, or its bytes. */
  readonly model: string | Uint8Array;
  readonly manifest: ModelManifest;
}

export interface LoadedNetworks {
  readonly networks: StudyNetworks;
  readonly executionProvider: ExecutionProvider;
  readonly providerFallbacks: readonly string[];
  /** One plain line: the provider and why (onnx-runtime.ts). */
  readonly providerSummary: string;
  readonly manifests: { readonly la: ModelManifest; readonly scar: ModelManifest };
  /** True when either model was trained on synthetic data only (must be shown wherever results are). */
  readonly synthetic: boolean;
  release(): Promise<void>;
}

/**
 * Opens both networks once (per worker process) on the configured execution provider. With
 * `auto`, the scar model is opened on whatever the LA model got, so a study never mixes devices.
 */
export async function openStudyNetworks(
  files: { readonly la: NetworkFiles; readonly scar: NetworkFiles },
  options: OpenModelOptions = {},
): Promise<LoadedNetworks> {
  const laBytes = await verifiedModelBytes(files.la, 'la');
  const scarBytes = await verifiedModelBytes(files.scar, 'scar');
  const laModel = await openOnnxModel(laBytes, options);
  let scarModel: OnnxModel;
  try {
    scarModel = await openOnnxModel(scarBytes, {
      ...options,
      executionProvider: laModel.executionProvider,
    });
  } catch (error) {
    await laModel.release();
    throw error;
  }
  const networks: StudyNetworks = {
    la: (input) =>
      laModel.run({
        image_full: { data: input.full, dims: [input.count, 1, input.height, input.width] },
        image_half: {
          data: input.half,
          dims: [input.count, 1, input.height / 2, input.width / 2],
        },
      }),
    laCrops: laAcceptsCrops(files.la.manifest),
    scar: (input) =>
      scarModel.run({
        patches: {
          data: input.patches,
          dims: [input.count, SCAR_PATCH_CHANNELS, SCAR_PATCH_SIZE, SCAR_PATCH_SIZE],
        },
      }),
    // Each network is thresholded as its manifest says it was validated.
    thresholds: {
      la: files.la.manifest.thresholds.probability,
      scar: files.scar.manifest.thresholds.probability,
    },
  };
  return {
    networks,
    executionProvider: laModel.executionProvider,
    providerFallbacks: laModel.providerFallbacks,
    providerSummary: laModel.providerSummary,
    manifests: { la: files.la.manifest, scar: files.scar.manifest },
    synthetic: Boolean(
      files.la.manifest.training_data.synthetic || files.scar.manifest.training_data.synthetic,
    ),
    async release() {
      await Promise.all([laModel.release(), scarModel.release()]);
    },
  };
}
