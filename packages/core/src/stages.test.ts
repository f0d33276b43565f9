import { describe, expect, it } from 'vitest';
import { boundaryBand, samplePatchCentres } from './boundary.js';
import { filterComponentsPerSlice, keepLargestComponent } from './cca.js';
import { SCAR_PATCH_SIZE } from './patches.js';
import { LA_HALF_INPUT_SIZE, LA_INPUT_SIZE, sliceStatistics } from './preprocess.js';
import {
  NetworkOutputError,
  PIPELINE_STAGES,
  segmentStudy,
  type LaNetwork,
  type ScarNetwork,
} from './stages.js';
import { UnsupportedOrientationError, applyAxisTransform, axisTransform } from './orientation.js';
import { makeGeometry, makeVolume, type Vec3, type Volume } from './volume.js';

const NX = 80;
const NY = 70;
const NZ = 7;
const Z_LOW = 1;
const Z_HIGH = 8;
const CDF_CUT = 0.97;

/**
 * A small study: background ~100 with texture, an ellipsoidal cavity ~400, a wall ring ~150 and a
 * very bright (1500) scar arc in the wall on a few slices.
 */
function syntheticStudy(): Volume<Int16Array> {
  const geometry = makeGeometry({
    dims: [NX, NY, NZ],
    spacing: [1, 1.1, 2.5],
    origin: [-20, 5, 30],
  });
  const data = new Int16Array(NX * NY * NZ);
  for (let k = 0; k < NZ; k++) {
    for (let j = 0; j < NY; j++) {
      for (let i = 0; i < NX; i++) {
        const r = Math.hypot((i - 36) / 11, (j - 32) / 9, (k - 3) / 3.2);
        const angle = Math.atan2(j - 32, i - 36);
        let v = 100 + ((i * 31 + j * 17 + k * 7) % 11) - 5;
        if (r <= 1) v = 400 + ((i * 13 + j * 7) % 9) - 4;
        else if (r <= 1.25) v = angle > 0.3 && angle < 1.5 && k >= 2 && k <= 4 ? 1500 : 150;
        data[i + NX * (j + NY * k)] = v;
      }
    }
  }
  return makeVolume(geometry, data);
}

/** Fake MSWS-Net: probability 0.9 where 1 < z < 8 on the full-scale canvas, else 0.1. */
const fakeLa: LaNetwork = async ({ full, half, count }) => {
  expect(full.length).toBe(count * LA_INPUT_SIZE * LA_INPUT_SIZE);
  expect(half.length).toBe(count * LA_HALF_INPUT_SIZE * LA_HALF_INPUT_SIZE);
  const out = new Float32Array(full.length);
  for (let v = 0; v < full.length; v++) out[v] = full[v]! > Z_LOW && full[v]! < Z_HIGH ? 0.9 : 0.1;
  return out;
};

/** Fake Boundary2Patches: 1 where the histogram channel (1) exceeds 0.97, else 0. */
const fakeScar: ScarNetwork = async ({ patches, count }) => {
  const p = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  expect(patches.length).toBe(count * 3 * p);
  const out = new Float32Array(count * p);
  for (let t = 0; t < count; t++)
    for (let q = 0; q < p; q++) out[t * p + q] = patches[t * 3 * p + p + q]! > CDF_CUT ? 1 : 0;
  return out;
};

/** What the fakes must produce, computed directly on the source grid (no canvas, no patches). */
function expectedMasks(image: Volume<Int16Array>): { la: Uint8Array; scar: Uint8Array } {
  const dims = image.geometry.dims;
  const nxy = NX * NY;
  const raw = new Uint8Array(image.data.length);
  for (let k = 0; k < NZ; k++) {
    const { mean, std } = sliceStatistics(image.data, dims, k);
    for (let p = 0; p < nxy; p++) {
      const z = (image.data[k * nxy + p]! - mean) / std;
      raw[k * nxy + p] = z > Z_LOW && z < Z_HIGH ? 1 : 0;
    }
  }
  const la = keepLargestComponent(raw, dims, 26);
  const scar = new Uint8Array(image.data.length);
  for (let k = 0; k < NZ; k++) {
    const slice = { data: la.subarray(k * nxy, (k + 1) * nxy), columns: NX, rows: NY };
    const centres = samplePatchCentres(slice);
    if (centres.length === 0) continue;
    const band = boundaryBand(slice, [1, 1.1], 5);
    const values: number[] = [];
    for (let p = 0; p < nxy; p++) if (band[p]) values.push(image.data[k * nxy + p]!);
    for (let p = 0; p < nxy; p++) {
      if (!band[p]) continue;
      const [x, y] = [p % NX, Math.floor(p / NX)];
      let covered = false;
      for (let c = 0; c < centres.length; c += 2) {
        if (
          x - centres[c]! >= -32 &&
          x - centres[c]! <= 31 &&
          y - centres[c + 1]! >= -32 &&
          y - centres[c + 1]! <= 31
        )
          covered = true;
      }
      const v = image.data[k * nxy + p]!;
      let below = 0;
      for (const b of values) if (b <= v) below++;
      const cdf = below / values.length;
      if (covered && cdf > CDF_CUT) scar[k * nxy + p] = 1;
    }
  }
  return { la, scar: filterComponentsPerSlice(scar, dims) };
}

/**
 * Voxels outside the cavity whose centre lies within `mm` (inclusive) of a cavity voxel centre,
 * by looking at every neighbour that close: slow, but nothing like the distance transform.
 */
/**
 * The wall shell centred on the cavity surface, by brute force: voxels within mm / 2 (centre to
 * centre, in mm) of a voxel on the other side of the surface.
 */
function centredWallShell(cavity: Uint8Array, spacing: readonly number[], mm: number): Uint8Array {
  const [sx, sy, sz] = spacing as [number, number, number];
  const half = mm / 2;
  const [rx, ry, rz] = [sx, sy, sz].map((s) => Math.floor(half / s));
  const shell = new Uint8Array(cavity.length);
  for (let k = 0; k < NZ; k++)
    for (let j = 0; j < NY; j++)
      for (let i = 0; i < NX; i++) {
        const inside = cavity[i + NX * (j + NY * k)];
        let near = false;
        for (let dk = -rz!; dk <= rz! && !near; dk++)
          for (let dj = -ry!; dj <= ry! && !near; dj++)
            for (let di = -rx!; di <= rx! && !near; di++) {
              const [x, y, z] = [i + di, j + dj, k + dk];
              if (x < 0 || y < 0 || z < 0 || x >= NX || y >= NY || z >= NZ) continue;
              const d2 = (di * sx) ** 2 + (dj * sy) ** 2 + (dk * sz) ** 2;
              if (d2 <= half * half + 1e-9 && cavity[x + NX * (y + NY * z)] !== inside) near = true;
            }
        if (near) shell[i + NX * (j + NY * k)] = 1;
      }
  return shell;
}

/** Number of voxels where two masks differ (vitest's deep equality is slow on big arrays). */
function differences(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let v = 0; v < a.length; v++) if (a[v] !== b[v]) n++;
  return n;
}

describe('segmentStudy', () => {
  it('chains the stages with fake networks: masks come out on the source grid', async () => {
    const image = syntheticStudy();
    const expected = expectedMasks(image);
    const events: string[] = [];
    // Odd batch sizes: a partial LA batch and scar batches that span slices.
    const result = await segmentStudy(
      image,
      { la: fakeLa, scar: fakeScar },
      { laBatchSlices: 3, scarBatchPatches: 5, onStage: (e) => events.push(e.stage) },
    );
    expect(result.la.geometry).toBe(image.geometry);
    expect(result.scar.geometry).toBe(image.geometry);
    expect(differences(result.la.data, expected.la)).toBe(0);
    expect(differences(result.scar.data, expected.scar)).toBe(0);
    // The synthetic study is built so that both are substantial.
    const la = expected.la.reduce((a, b) => a + b, 0);
    const scar = expected.scar.reduce((a, b) => a + b, 0);
    expect(la).toBeGreaterThan(1000);
    expect(scar).toBeGreaterThan(30);
    // The numbers, checked against counts made here on the expected masks (not against
    // quantifyStudy itself): volumes from voxel counts, the centred 3 mm wall by brute force.
    const q = result.quantification;
    const voxelMl = (1 * 1.1 * 2.5) / 1000;
    const shell = centredWallShell(expected.la, image.geometry.spacing, 3);
    const wall = shell.reduce((a, b) => a + b, 0);
    let scarInShell = 0;
    for (let v = 0; v < shell.length; v++) if (shell[v] && expected.scar[v]) scarInShell++;
    expect(q.laVoxels).toBe(la);
    expect(q.laVolumeMl).toBeCloseTo(la * voxelMl, 9);
    expect(q.scarVoxels).toBe(scar);
    expect(q.scarVolumeMl).toBeCloseTo(scar * voxelMl, 9);
    expect(q.wallVoxels).toBe(wall);
    expect(q.wallVolumeMl).toBeCloseTo(wall * voxelMl, 9);
    // The scar arc lies up to ~2.75 mm outside the cavity: its inner part is in the centred
    // shell (1.5 mm outside), the rest is reported beyond it.
    expect(q.scarInWallVoxels).toBe(scarInShell);
    expect(scarInShell).toBeGreaterThan(30);
    expect(q.scarInWallVoxels + q.scarOutsideWallVoxels).toBe(scar);
    expect(q.scarBurdenPercent).toBeCloseTo((100 * scarInShell) / wall, 9);
    expect(result.patchCount).toBeGreaterThan(10);
    // Every stage ran and was timed.
    for (const s of PIPELINE_STAGES) expect(events).toContain(s.name);
    expect(events.filter((e) => e === 'la-network')).toHaveLength(3); // 7 slices in batches of 3
    expect(Object.keys(result.stageMs)).toEqual(PIPELINE_STAGES.map((s) => s.name));
  });

  it('runs the LA network on a window around the atrium when it takes crops, same masks', async () => {
    const image = syntheticStudy();
    const sizes: string[] = [];
    // The same pointwise rule as fakeLa, for inputs of any size.
    const anySize: LaNetwork = async ({ full, half, count, width, height }) => {
      expect(full.length).toBe(count * width * height);
      expect(half.length).toBe((count * width * height) / 4);
      sizes.push(`${count}x${width}x${height}`);
      return full.map((z) => (z > Z_LOW && z < Z_HIGH ? 0.9 : 0.1));
    };
    const whole = await segmentStudy(image, { la: fakeLa, scar: fakeScar });
    expect(whole.settings.laCrop).toBe(true);
    expect(whole.laCrop).toMatchObject({ enabled: false, cropped: false });
    expect(whole.laCrop.reason).toMatch(/takes only 640 x 640 inputs/);
    let restored = 0;
    const cropped = await segmentStudy(
      image,
      { la: anySize, scar: fakeScar, laCrops: true },
      { onStage: (e) => (restored += e.stage === 'la-restore' ? (e.slices ?? 0) : 0) },
    );
    expect(restored).toBe(NZ); // the progress count: every slice once, whatever the batches
    expect(differences(cropped.la.data, whole.la.data)).toBe(0);
    expect(differences(cropped.scar.data, whole.scar.data)).toBe(0);
    expect(cropped.quantification).toEqual(whole.quantification);
    expect(cropped.laCrop).toMatchObject({
      enabled: true,
      cropped: true,
      probeSlices: [1, 2, 3, 4, 5],
      croppedSlices: 2,
    });
    // Probes 1..5 on the whole canvas (in batches of 4: consecutive), then slices 0 and 6 on a
    // 256 x 256 window.
    expect(sizes).toEqual(['4x640x640', '1x640x640', '1x256x256', '1x256x256']);
    // Switched off by the method setting (recorded with the result).
    sizes.length = 0;
    const off = await segmentStudy(
      image,
      { la: anySize, scar: fakeScar, laCrops: true },
      { method: { laCrop: false } },
    );
    expect(off.settings.laCrop).toBe(false);
    expect(off.laCrop.reason).toMatch(/off by the method setting/);
    expect(sizes.every((s) => s.endsWith('x640x640'))).toBe(true);
    expect(differences(off.la.data, whole.la.data)).toBe(0);
  });

  it('gives the same result for any batch sizes', async () => {
    const image = syntheticStudy();
    const a = await segmentStudy(
      image,
      { la: fakeLa, scar: fakeScar },
      { laBatchSlices: 1, scarBatchPatches: 1 },
    );
    const b = await segmentStudy(
      image,
      { la: fakeLa, scar: fakeScar },
      { laBatchSlices: 16, scarBatchPatches: 1000 },
    );
    expect(differences(a.la.data, b.la.data)).toBe(0);
    expect(differences(a.scar.data, b.scar.data)).toBe(0);
  });

  it('names a network that returns the wrong shape', async () => {
    const image = syntheticStudy();
    const short: LaNetwork = async ({ count }) => new Float32Array(count * 10);
    await expect(segmentStudy(image, { la: short, scar: fakeScar })).rejects.toThrow(
      NetworkOutputError,
    );
    await expect(segmentStudy(image, { la: short, scar: fakeScar })).rejects.toThrow(
      /LA network returned 40 float32 values for slices 0..3/,
    );
    const wrong: ScarNetwork = async () => new Float32Array(3);
    await expect(segmentStudy(image, { la: fakeLa, scar: wrong })).rejects.toThrow(
      /scar network returned 3 float32 values/,
    );
  });

  it('finds no scar and no burden when the LA network finds nothing', async () => {
    const image = syntheticStudy();
    const nothing: LaNetwork = async ({ count }) =>
      new Float32Array(count * LA_INPUT_SIZE * LA_INPUT_SIZE);
    let scarCalls = 0;
    const counting: ScarNetwork = async (input) => {
      scarCalls++;
      return fakeScar(input);
    };
    const result = await segmentStudy(image, { la: nothing, scar: counting });
    expect(result.la.data.every((v) => v === 0)).toBe(true);
    expect(result.scar.data.every((v) => v === 0)).toBe(true);
    expect(scarCalls).toBe(0);
    expect(result.quantification.scarBurdenPercent).toBeNull();
  });
});

/**
 * A disc-shaped cavity (400) with a bright scar arc (1500) of about 200 pixels in its wall ring on
 * each of 3 slices, on background 100: the same pixels whatever spacing the grid claims.
 */
function discStudy(pixelMm: number, direction?: [Vec3, Vec3, Vec3]): Volume<Int16Array> {
  const n = 96;
  const geometry = makeGeometry({
    dims: [n, n, 3],
    spacing: [pixelMm, pixelMm, 2],
    ...(direction ? { direction } : {}),
  });
  const data = new Int16Array(n * n * 3);
  for (let k = 0; k < 3; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const r = Math.hypot(i - 48, j - 48);
        const angle = Math.atan2(j - 48, i - 48);
        let v = 100 + ((i * 7 + j * 3) % 5);
        if (r <= 20) v = 400 + ((i + j) % 3);
        else if (r <= 23 && angle > -1 && angle < 1.2) v = 1500;
        data[i + n * (j + n * k)] = v;
      }
  return makeVolume(geometry, data);
}

/** LA: 0.9 where the z-scored canvas is cavity-bright (0.5 < z < 3), else 0.1. */
const discLa: LaNetwork = async ({ full }) => full.map((z) => (z > 0.5 && z < 3 ? 0.9 : 0.1));
/** Scar: 1 where the patch's z-scored image (channel 0) is scar-bright (z > 3). */
const discScar: ScarNetwork = async ({ patches, count }) => {
  const p = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  const out = new Float32Array(count * p);
  for (let t = 0; t < count; t++)
    for (let q = 0; q < p; q++) out[t * p + q] = patches[t * 3 * p + q]! > 3 ? 1 : 0;
  return out;
};

function countOnes(a: Uint8Array): number {
  let n = 0;
  for (const v of a) n += v;
  return n;
}

describe('segmentStudy method settings', () => {
  it('filters scar components by area in mm^2, converted per study from its pixel spacing', async () => {
    // The same pixels claimed at 0.625 mm and at 1.25 mm (band scaled so it covers the same
    // pixels): a ~200-pixel arc is 78 mm^2 at 0.625 mm (kept: the paper's 450 pixels there) but
    // 312 mm^2 at 1.25 mm, beyond the paper's 175.8 mm^2 (dropped).
    const fine = await segmentStudy(discStudy(0.625), { la: discLa, scar: discScar });
    const coarse = await segmentStudy(
      discStudy(1.25),
      { la: discLa, scar: discScar },
      { method: { boundaryBandMm: 10 } },
    );
    expect(fine.settings.scarMinPixels).toBe(10);
    expect(fine.settings.scarMaxPixels).toBe(450);
    expect(coarse.settings.scarMinPixels).toBe(3);
    expect(coarse.settings.scarMaxPixels).toBe(112);
    const arc = countOnes(fine.scar.data) / 3;
    expect(arc).toBeGreaterThan(112);
    expect(arc).toBeLessThan(450);
    expect(countOnes(coarse.scar.data)).toBe(0);
    // With the limits widened, the coarse study keeps the very same pixels.
    const wide = await segmentStudy(
      discStudy(1.25),
      { la: discLa, scar: discScar },
      { method: { boundaryBandMm: 10, scarMaxAreaMm2: 1000 } },
    );
    expect(Buffer.from(wide.scar.data).equals(Buffer.from(fine.scar.data))).toBe(true);
  });

  it("thresholds with the networks' manifest values unless a setting overrides them", async () => {
    const image = syntheticStudy();
    // fakeLa answers 0.9 in the cavity: found at p > 0.5, nothing at p > 0.95.
    const manifest = await segmentStudy(image, {
      la: fakeLa,
      scar: fakeScar,
      thresholds: { la: 0.95, scar: 0.5 },
    });
    expect(manifest.settings.laProbabilityThreshold).toBe(0.95);
    expect(manifest.settings.thresholdSource).toBe('model manifest');
    expect(countOnes(manifest.la.data)).toBe(0);
    const setting = await segmentStudy(
      image,
      { la: fakeLa, scar: fakeScar, thresholds: { la: 0.95, scar: 0.95 } },
      { method: { probabilityThreshold: 0.6 } },
    );
    expect(setting.settings.laProbabilityThreshold).toBe(0.6);
    expect(setting.settings.scarProbabilityThreshold).toBe(0.6);
    expect(setting.settings.thresholdSource).toBe('setting');
    expect(countOnes(setting.la.data)).toBeGreaterThan(1000);
  });

  it('applies the wall thickness, the LA component rule, and rejects bad settings', async () => {
    const image = syntheticStudy();
    const nets = { la: fakeLa, scar: fakeScar };
    const thin = await segmentStudy(image, nets, { method: { wallThicknessMm: 1.5 } });
    const thick = await segmentStudy(image, nets, { method: { wallThicknessMm: 4 } });
    expect(thin.quantification.wallMm).toBe(1.5);
    expect(thin.quantification.wallVoxels).toBeLessThan(thick.quantification.wallVoxels);
    const all = await segmentStudy(image, nets, { method: { laComponents: 'all' } });
    expect(all.settings.laComponents).toBe('all');
    expect(countOnes(all.la.data)).toBeGreaterThanOrEqual(countOnes(thin.la.data));
    await expect(segmentStudy(image, nets, { method: { wallThicknessMm: -1 } })).rejects.toThrow(
      'wallThicknessMm=-1 is outside 0 < value < 20 (a thickness in mm)',
    );
  });
});

describe('segmentStudy orientation', () => {
  it('refuses a coronal stack with an UnsupportedOrientationError that says why', async () => {
    const coronal = discStudy(0.625, [
      [1, 0, 0],
      [0, 0, -1],
      [0, 1, 0],
    ]);
    const run = segmentStudy(coronal, { la: discLa, scar: discScar });
    await expect(run).rejects.toThrow(UnsupportedOrientationError);
    await expect(run).rejects.toThrow(
      'slice normal 90° from axial (coronal slices): only axial LGE stacks, tilted at most 45°, are supported',
    );
  });

  it('gives the masks of a flipped, transposed, reversed study on its own grid', async () => {
    const image = discStudy(0.625);
    const direct = await segmentStudy(image, { la: discLa, scar: discScar });
    const t = axisTransform(image.geometry, [1, 0, 2], [true, false, true]);
    const stored = applyAxisTransform(image, t);
    const result = await segmentStudy(stored, { la: discLa, scar: discScar });
    expect(result.orientation.reoriented).toBe(true);
    expect(result.la.geometry).toBe(stored.geometry);
    expect(result.la.data).toEqual(applyAxisTransform(direct.la, t).data);
    expect(result.scar.data).toEqual(applyAxisTransform(direct.scar, t).data);
    expect(result.quantification).toEqual(direct.quantification);
  });
});
