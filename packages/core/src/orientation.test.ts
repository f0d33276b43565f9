import { describe, expect, it } from 'vitest';
import {
  applyAxisTransform,
  axisTransform,
  fromStandardOrientation,
  orientationTransform,
  sliceOrientationProblem,
  sliceTiltDeg,
  toStandardOrientation,
  type Axis,
} from './orientation.js';
import { makeGeometry, makeVolume, voxelToPatient, type Vec3, type Volume } from './volume.js';

const PERMUTATIONS: [Axis, Axis, Axis][] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];
const FLIPS: [boolean, boolean, boolean][] = [0, 1, 2, 3, 4, 5, 6, 7].map(
  (b) => [Boolean(b & 1), Boolean(b & 2), Boolean(b & 4)] as [boolean, boolean, boolean],
);

/** A small standard-orientation (LPS) study, tilted 10 degrees, with distinct voxel values. */
function study(): Volume<Int16Array> {
  const t = (10 * Math.PI) / 180;
  const geometry = makeGeometry({
    dims: [5, 4, 3],
    spacing: [0.7, 0.8, 2.5],
    origin: [-40, 12.5, 80],
    direction: [
      [1, 0, 0],
      [0, Math.cos(t), -Math.sin(t)],
      [0, Math.sin(t), Math.cos(t)],
    ],
  });
  return makeVolume(
    geometry,
    Int16Array.from({ length: 60 }, (_, n) => 7 * n - 100),
  );
}

function allPositions(v: Volume<Int16Array>): Map<number, Vec3> {
  // Values are distinct, so each value names one voxel: value -> its patient position.
  const [nx, ny, nz] = v.geometry.dims;
  const out = new Map<number, Vec3>();
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        out.set(v.data[i + nx * (j + ny * k)]!, voxelToPatient(v.geometry, i, j, k));
  return out;
}

describe('standard orientation', () => {
  const base = study();
  const basePositions = allPositions(base);

  it('leaves a study already in the standard orientation untouched (no copy)', () => {
    const { volume, transform } = toStandardOrientation(base);
    expect(transform.identity).toBe(true);
    expect(volume).toBe(base);
  });

  for (const axes of PERMUTATIONS) {
    for (const flips of FLIPS) {
      it(`brings the study stored with axes ${axes.join('')} flips ${flips.map(Number).join('')} back to the same standard volume, and back again exactly`, () => {
        // The same anatomy, stored another way: every voxel keeps its patient position.
        const stored = applyAxisTransform(base, axisTransform(base.geometry, axes, flips));
        const storedPositions = allPositions(stored);
        for (const [value, p] of basePositions) {
          const q = storedPositions.get(value)!;
          for (let c = 0; c < 3; c++) expect(q[c]).toBeCloseTo(p[c]!, 9);
        }
        const { volume, transform } = toStandardOrientation(stored);
        expect(Array.from(volume.data)).toEqual(Array.from(base.data));
        expect(volume.geometry.dims).toEqual(base.geometry.dims);
        expect(volume.geometry.spacing).toEqual(base.geometry.spacing);
        for (let c = 0; c < 3; c++) {
          expect(volume.geometry.origin[c]).toBeCloseTo(base.geometry.origin[c]!, 9);
          for (let a = 0; a < 3; a++)
            expect(volume.geometry.direction[a]![c]).toBeCloseTo(
              base.geometry.direction[a]![c]!,
              12,
            );
        }
        const back = fromStandardOrientation(volume, transform);
        expect(back.geometry).toBe(stored.geometry);
        expect(Array.from(back.data)).toEqual(Array.from(stored.data));
        expect(back.data).toBeInstanceOf(Int16Array);
      });
    }
  }

  it('maps an oblique grid to the nearest standard arrangement', () => {
    // Rows run mostly towards anterior (-P) and columns towards left: transposed, flipped rows.
    const a = 0.2;
    const g = makeGeometry({
      dims: [3, 4, 5],
      spacing: [1, 1, 2],
      direction: [
        [Math.sin(a), -Math.cos(a), 0],
        [Math.cos(a), Math.sin(a), 0],
        [0, 0, 1],
      ],
    });
    const t = orientationTransform(g);
    expect(t.axes).toEqual([1, 0, 2]);
    expect(t.flips).toEqual([false, true, false]);
    expect(t.standard.dims).toEqual([4, 3, 5]);
  });

  it('refuses to map a mask that is not on the standard grid', () => {
    const stored = applyAxisTransform(
      base,
      axisTransform(base.geometry, [1, 0, 2], [true, false, false]),
    );
    const { transform } = toStandardOrientation(stored);
    expect(() => fromStandardOrientation(stored, transform)).toThrow(
      /not on the standard grid of this study: grid shapes differ/,
    );
  });
});

describe('slice orientation rule', () => {
  const axial = makeGeometry({ dims: [4, 4, 4], spacing: [1, 1, 1] });
  const tilted = (deg: number): ReturnType<typeof makeGeometry> => {
    const t = (deg * Math.PI) / 180;
    return makeGeometry({
      dims: [4, 4, 4],
      spacing: [1, 1, 1],
      direction: [
        [1, 0, 0],
        [0, Math.cos(t), -Math.sin(t)],
        [0, Math.sin(t), Math.cos(t)],
      ],
    });
  };

  it('accepts axial stacks tilted up to 45 degrees, whatever the flips', () => {
    expect(sliceOrientationProblem(axial)).toBeUndefined();
    expect(sliceOrientationProblem(tilted(15))).toBeUndefined();
    expect(sliceOrientationProblem(tilted(44))).toBeUndefined();
    const flipped = makeGeometry({
      dims: [4, 4, 4],
      spacing: [1, 1, 1],
      direction: [
        [0, -1, 0],
        [-1, 0, 0],
        [0, 0, -1],
      ],
    });
    expect(sliceOrientationProblem(flipped)).toBeUndefined();
  });

  it('refuses coronal and sagittal stacks, saying how far from axial they are', () => {
    expect(sliceTiltDeg([1, 0, 0], [0, 0, -1])).toBeCloseTo(90, 9);
    const coronal = makeGeometry({
      dims: [4, 4, 4],
      spacing: [1, 1, 1],
      direction: [
        [1, 0, 0],
        [0, 0, -1],
        [0, 1, 0],
      ],
    });
    expect(sliceOrientationProblem(coronal)).toBe(
      'slice normal 90\u00b0 from axial (coronal slices): only axial LGE stacks, tilted at most 45\u00b0, are supported',
    );
    const sagittal = makeGeometry({
      dims: [4, 4, 4],
      spacing: [1, 1, 1],
      direction: [
        [0, 1, 0],
        [0, 0, -1],
        [-1, 0, 0],
      ],
    });
    expect(sliceOrientationProblem(sagittal)).toMatch(/^slice normal 90° from axial \(sagittal/);
    expect(sliceOrientationProblem(tilted(80))).toMatch(/^slice normal 80° from axial \(coronal/);
    expect(sliceOrientationProblem(tilted(50))).toMatch(/^slice normal 50° from axial/);
  });
});
