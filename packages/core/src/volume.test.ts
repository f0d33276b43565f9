import { describe, expect, it } from 'vitest';
import {
  gridMismatch,
  makeGeometry,
  makeVolume,
  patientToVoxel,
  voxelToPatient,
} from './volume.js';

describe('volume geometry', () => {
  const oblique = makeGeometry({
    dims: [4, 5, 6],
    spacing: [0.625, 0.7, 1.25],
    origin: [-120.5, 33, 12],
    direction: [
      [Math.cos(0.3), Math.sin(0.3), 0],
      [-Math.sin(0.3) * Math.cos(0.2), Math.cos(0.3) * Math.cos(0.2), Math.sin(0.2)],
      [Math.sin(0.3) * Math.sin(0.2), -Math.cos(0.3) * Math.sin(0.2), Math.cos(0.2)],
    ],
  });

  it('maps voxel (0,0,0) to the origin and steps by spacing along each direction', () => {
    expect(voxelToPatient(oblique, 0, 0, 0)).toEqual([-120.5, 33, 12]);
    const p = voxelToPatient(oblique, 0, 0, 2);
    expect(Math.hypot(p[0] + 120.5, p[1] - 33, p[2] - 12)).toBeCloseTo(2.5, 10);
  });

  it('patientToVoxel inverts voxelToPatient on oblique grids', () => {
    for (const [i, j, k] of [
      [0, 0, 0],
      [3, 4, 5],
      [1.5, 2.25, 0.75],
    ] as const) {
      const back = patientToVoxel(oblique, voxelToPatient(oblique, i, j, k));
      expect(back[0]).toBeCloseTo(i, 9);
      expect(back[1]).toBeCloseTo(j, 9);
      expect(back[2]).toBeCloseTo(k, 9);
    }
  });

  it('names the first difference between two grids', () => {
    const g = makeGeometry({ dims: [4, 5, 6], spacing: [1, 1, 2] });
    expect(gridMismatch(g, g)).toBeUndefined();
    expect(gridMismatch(g, makeGeometry({ dims: [4, 5, 7], spacing: [1, 1, 2] }))).toMatch(
      /shapes differ/,
    );
    expect(gridMismatch(g, makeGeometry({ dims: [4, 5, 6], spacing: [1, 1, 2.5] }))).toMatch(
      /spacings differ/,
    );
    expect(
      gridMismatch(g, makeGeometry({ dims: [4, 5, 6], spacing: [1, 1, 2], origin: [0, 1, 0] })),
    ).toMatch(/origins differ/);
  });

  it('rejects unusable geometry and data of the wrong length', () => {
    expect(() => makeGeometry({ dims: [0, 5, 6], spacing: [1, 1, 1] })).toThrow(
      /positive integers/,
    );
    expect(() => makeGeometry({ dims: [1, 1, 1], spacing: [1, -1, 1] })).toThrow(/spacing/);
    const g = makeGeometry({ dims: [2, 2, 2], spacing: [1, 1, 1] });
    expect(() => makeVolume(g, new Float32Array(7))).toThrow(/needs 8/);
  });
});
