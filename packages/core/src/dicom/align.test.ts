import { describe, expect, it } from 'vitest';
import { makeGeometry, voxelToPatient, type Geometry, type Mask } from '../volume.js';
import { alignMaskToGrid } from './align.js';

const target = makeGeometry({
  dims: [4, 3, 5],
  spacing: [0.7, 0.8, 2],
  origin: [10, -5, 3],
  direction: [
    [0.6, 0.8, 0],
    [-0.8, 0.6, 0],
    [0, 0, 1],
  ],
});

/** The same voxels stored with axis `flip` reversed and axes permuted by `order`. */
function reindexed(
  source: Mask,
  order: [number, number, number],
  flip: [boolean, boolean, boolean],
): Mask {
  const g = source.geometry;
  const dims = order.map((a) => g.dims[a]!) as [number, number, number];
  const corner = [0, 1, 2].map((a) => (flip[a] ? g.dims[a]! - 1 : 0)) as [number, number, number];
  const direction = order.map((a, n) =>
    g.direction[a]!.map((c) => (flip[order[n]!] ? -c : c)),
  ) as unknown as Geometry['direction'];
  const geometry = makeGeometry({
    dims,
    spacing: order.map((a) => g.spacing[a]!) as [number, number, number],
    origin: voxelToPatient(g, ...corner),
    direction,
  });
  const data = new Uint8Array(source.data.length);
  const [sx, sy] = g.dims;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const idx = [0, 0, 0];
        [i, j, k].forEach((value, n) => {
          const a = order[n]!;
          idx[a] = flip[a] ? g.dims[a]! - 1 - value : value;
        });
        data[i + dims[0] * (j + dims[1] * k)] =
          source.data[idx[0]! + sx * (idx[1]! + sy * idx[2]!)]!;
      }
  return { geometry, data };
}

describe('alignMaskToGrid', () => {
  const source: Mask = {
    geometry: target,
    data: new Uint8Array(60).map((_, n) => ((n * 7) % 3 === 0 ? 1 : 0)),
  };
  it.each([
    [
      [0, 1, 2],
      [false, true, false],
    ],
    [
      [0, 1, 2],
      [true, true, true],
    ],
    [
      [1, 0, 2],
      [false, false, true],
    ],
    [
      [2, 0, 1],
      [true, false, false],
    ],
  ] as const)('re-indexes a mask with axes %j flipped %j back exactly', (order, flip) => {
    const moved = reindexed(source, [...order], [...flip]);
    const aligned = alignMaskToGrid(moved, target);
    expect(aligned.geometry).toBe(target);
    expect(Array.from(aligned.data)).toEqual(Array.from(source.data));
  });

  it('refuses a shifted or resampled grid, saying why', () => {
    const shifted = { ...source, geometry: makeGeometry({ ...target, origin: [10.35, -5, 3] }) };
    expect(() => alignMaskToGrid(shifted, target, 'scar mask')).toThrow(
      /scar mask is not on the source series' grid.*origins differ/,
    );
    const finer = {
      geometry: makeGeometry({ ...target, dims: [8, 3, 5], spacing: [0.35, 0.8, 2] }),
      data: new Uint8Array(120),
    };
    expect(() => alignMaskToGrid(finer, target)).toThrow(
      expect.objectContaining({ code: 'GRID_MISMATCH' }),
    );
  });
});
