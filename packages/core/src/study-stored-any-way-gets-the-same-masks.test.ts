// A study stored with flipped rows or columns, transposed rows and columns, or its slices in the
// other order is the same anatomy: the shipped networks (models/*.onnx, run by onnxruntime-node on
// the CPU) must give the same LA and scar masks on it, voxel for voxel up to that rearrangement,
// and the same numbers. Checked on a phantom in all 8 in-plane arrangements x both slice orders,
// as volumes and through DICOM (MR writer -> readDicomSeries), with Dice against the phantom truth.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDicomSeries } from './dicom/series.js';
import { writeMrSeries } from './dicom/mr-writer.js';
import { dice } from './metrics.js';
import { openNetworksFromDirectory } from './onnx-models-dir.js';
import type { LoadedNetworks } from './onnx-networks.js';
import {
  applyAxisTransform,
  axisTransform,
  fromStandardOrientation,
  toStandardOrientation,
  type Axis,
  type OrientationTransform,
} from './orientation.js';
import { generatePhantom, phantomDicomDescription, type PhantomCase } from './phantom/index.js';
import { segmentStudy, type StudySegmentation } from './stages.js';
import { gridMismatch, type Mask } from './volume.js';

const MODELS = fileURLToPath(new URL('../../../models', import.meta.url));
// Full in-plane size (the networks work on 0.6-1.3 mm pixels), few thick slices: quick on a CPU.
const PHANTOM = { seed: 70011, options: { matrix: 480, slices: 16 } } as const;

let networks: LoadedNetworks;
let phantom: PhantomCase;
let reference: StudySegmentation;

beforeAll(async () => {
  networks = await openNetworksFromDirectory(MODELS, 'cpu');
  phantom = generatePhantom(PHANTOM.seed, PHANTOM.options);
  reference = await segmentStudy(phantom.image, networks.networks);
}, 300_000);

afterAll(async () => {
  await networks?.release();
});

/** The 8 in-plane arrangements (transposed or not, rows and columns flipped or not) x slice order. */
const VARIANTS = [false, true].flatMap((reversed) =>
  [false, true].flatMap((transposed) =>
    [0, 1, 2, 3].map((f) => ({
      axes: (transposed ? [1, 0, 2] : [0, 1, 2]) as [Axis, Axis, Axis],
      flips: [Boolean(f & 1), Boolean(f & 2), reversed] as [boolean, boolean, boolean],
    })),
  ),
);

function describeVariant(v: (typeof VARIANTS)[number]): string {
  const parts = [
    v.axes[0] === 1 ? 'transposed' : 'as acquired',
    v.flips[0] ? 'columns flipped' : '',
    v.flips[1] ? 'rows flipped' : '',
    v.flips[2] ? 'slices reversed' : '',
  ];
  return parts.filter(Boolean).join(', ');
}

/** A mask made on a variant's grid, put back onto the phantom's grid by the inverse rearrangement. */
function onPhantomGrid(mask: Mask, t: OrientationTransform): Mask {
  return fromStandardOrientation(mask, t);
}

function expectSameResult(result: StudySegmentation, t: OrientationTransform): void {
  const la = onPhantomGrid(result.la, t);
  const scar = onPhantomGrid(result.scar, t);
  expect(gridMismatch(la.geometry, phantom.image.geometry)).toBeUndefined();
  expect(Buffer.from(la.data).equals(Buffer.from(reference.la.data))).toBe(true);
  expect(Buffer.from(scar.data).equals(Buffer.from(reference.scar.data))).toBe(true);
  // Volumes are physical: the numbers cannot depend on how the file stores the voxels.
  expect(result.quantification).toEqual(reference.quantification);
  expect(result.patchCount).toBe(reference.patchCount);
}

describe('a study stored any way gets the same masks (shipped models, CPU)', () => {
  it('finds the LA and the scar of the phantom as stored (Dice against the truth)', () => {
    expect(dice(reference.la, phantom.la)).toBeGreaterThan(0.85);
    expect(dice(reference.scar, phantom.scar)).toBeGreaterThan(0.5);
    expect(reference.quantification.scarBurdenPercent).toBeGreaterThan(0);
  });

  it.each(VARIANTS.map((v) => [describeVariant(v), v] as const))(
    'volume stored %s: same masks up to that rearrangement, same numbers',
    async (_, v) => {
      const t = axisTransform(phantom.image.geometry, v.axes, v.flips);
      const stored = applyAxisTransform(phantom.image, t);
      const result = await segmentStudy(stored, networks.networks);
      expect(gridMismatch(result.la.geometry, stored.geometry)).toBeUndefined();
      expect(gridMismatch(result.scar.geometry, stored.geometry)).toBeUndefined();
      expectSameResult(result, t);
      // The truth, rearranged the same way, scores the same Dice.
      const truth = applyAxisTransform(phantom.la, t);
      expect(dice(result.la, truth)).toBeCloseTo(dice(reference.la, phantom.la), 12);
    },
    300_000,
  );

  // Through DICOM: the writer records the rearranged geometry truthfully (ImageOrientationPatient,
  // ImagePositionPatient per slice), the reader orders slices along row x column cosines.
  it.each([
    ['transposed', [1, 0, 2], [false, false, false]],
    ['rows flipped, slices reversed', [0, 1, 2], [false, true, true]],
    ['transposed, columns and rows flipped, slices reversed', [1, 0, 2], [true, true, true]],
  ] as const)(
    'DICOM series stored %s: read back, same masks and numbers',
    async (_, axes, flips) => {
      const t = axisTransform(phantom.image.geometry, [...axes], [...flips]);
      const stored = applyAxisTransform(phantom.image, t);
      const { identity, acquisition } = phantomDicomDescription(phantom.truth, 'orientation');
      const series = readDicomSeries(writeMrSeries(stored, identity, acquisition));
      // The reader's volume is the same anatomy: the same standard volume as the phantom's.
      const standard = toStandardOrientation(series.volume).volume;
      expect(gridMismatch(standard.geometry, phantom.image.geometry)).toBeUndefined();
      expect(Array.from(standard.data)).toEqual(Array.from(phantom.image.data));
      const result = await segmentStudy(series.volume, networks.networks);
      expect(gridMismatch(result.la.geometry, series.volume.geometry)).toBeUndefined();
      const back = (m: Mask): Mask => toStandardOrientation(m).volume;
      expect(Buffer.from(back(result.la).data).equals(Buffer.from(reference.la.data))).toBe(true);
      expect(Buffer.from(back(result.scar).data).equals(Buffer.from(reference.scar.data))).toBe(
        true,
      );
      // Voxel counts, burden and stages exactly; volumes to rounding, since the spacing read back
      // from DICOM's decimal strings differs from the phantom's in the last bits.
      const { quantification: q } = result;
      const r = reference.quantification;
      expect([
        q.laVoxels,
        q.scarVoxels,
        q.wallVoxels,
        q.scarInWallVoxels,
        q.scarInCavityVoxels,
      ]).toEqual([
        r.laVoxels,
        r.scarVoxels,
        r.wallVoxels,
        r.scarInWallVoxels,
        r.scarInCavityVoxels,
      ]);
      expect(q.scarBurdenPercent).toBe(r.scarBurdenPercent);
      expect(q.stages).toEqual(r.stages);
      expect(q.laVolumeMl).toBeCloseTo(r.laVolumeMl, 9);
      expect(q.scarVolumeMl).toBeCloseTo(r.scarVolumeMl, 9);
    },
    300_000,
  );
});
