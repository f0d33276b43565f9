// Reading LAScarQS-format case folders (the challenge's layout; our phantoms use it too).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  gridMismatch,
  LASCARQS_FILES,
  maskFromLabels,
  NiftiError,
  niftiToFloat32,
  readNifti,
  type Mask,
  type Volume,
} from '@lascar/core';
import { UsageError } from './errors.js';

export interface LascarqsCaseFiles {
  readonly id: string;
  readonly dir: string;
  readonly image: string;
  readonly laCavity?: string;
  readonly scar?: string;
  readonly truth?: string;
}

export interface LascarqsCase {
  readonly id: string;
  readonly files: LascarqsCaseFiles;
  readonly image: Volume<Float32Array>;
  readonly la?: Mask;
  readonly scar?: Mask;
}

function firstExisting(dir: string, names: readonly string[]): string | undefined {
  return names.map((n) => path.join(dir, n)).find((p) => existsSync(p));
}

function caseFilesIn(dir: string, id: string): LascarqsCaseFiles | undefined {
  const image = firstExisting(dir, LASCARQS_FILES.imageAlternatives);
  if (!image) return undefined;
  const laCavity = firstExisting(dir, LASCARQS_FILES.laCavityAlternatives);
  const scar = firstExisting(dir, LASCARQS_FILES.scarAlternatives);
  const truth = firstExisting(dir, [LASCARQS_FILES.truth]);
  return {
    id,
    dir,
    image,
    ...(laCavity ? { laCavity } : {}),
    ...(scar ? { scar } : {}),
    ...(truth ? { truth } : {}),
  };
}

/**
 * Every case folder under `root` (the root itself when it is one case), sorted by id. Case ids are
 * folder paths relative to `root` (task1/train_data/case01 stays distinguishable from task2's).
 */
export async function findLascarqsCases(root: string): Promise<LascarqsCaseFiles[]> {
  if (!existsSync(root)) throw new UsageError(`${root}: no such folder`);
  const self = caseFilesIn(root, path.basename(path.resolve(root)));
  if (self) return [self];
  const found: LascarqsCaseFiles[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries
      .filter((e) => e.isDirectory())
      .sort((a, b) => a.name.localeCompare(b.name))) {
      const sub = path.join(dir, entry.name);
      const files = caseFilesIn(sub, path.relative(root, sub));
      if (files) found.push(files);
      else if (depth < 3) await walk(sub, depth + 1);
    }
  };
  await walk(root, 0);
  return found;
}

async function readVolume(file: string): Promise<Volume<Float32Array>> {
  try {
    return niftiToFloat32(readNifti(await readFile(file)));
  } catch (error) {
    if (error instanceof NiftiError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
}

async function readMask(file: string, image: Volume<Float32Array>): Promise<Mask> {
  const mask = maskFromLabels(await readVolume(file));
  const mismatch = gridMismatch(image.geometry, mask.geometry);
  if (mismatch) throw new UsageError(`${file} does not lie on its image's grid: ${mismatch}`);
  return mask;
}

/** Reads one case: the image (rescaled to float) and whichever label masks it has. */
export async function readLascarqsCase(files: LascarqsCaseFiles): Promise<LascarqsCase> {
  const image = await readVolume(files.image);
  const la = files.laCavity ? await readMask(files.laCavity, image) : undefined;
  const scar = files.scar ? await readMask(files.scar, image) : undefined;
  return { id: files.id, files, image, ...(la ? { la } : {}), ...(scar ? { scar } : {}) };
}
