import { describe, expect, it } from 'vitest';
import { dciodvfy } from '../../test-data/dciodvfy.js';
import { makeGeometry, type Geometry, type Vec3 } from '../volume.js';
import { writeMrSeries } from './mr-writer.js';
import { readDicomSeries } from './series.js';

const identity = {
  studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
  patientName: 'Phantom^Case001',
  patientId: 'PH001',
  patientBirthDate: '19600101',
  patientSex: 'O',
  studyDate: '20260101',
  studyTime: '101010',
  studyId: 'LGE1',
  accessionNumber: 'ACC1',
};

function rotation(axis: Vec3, degrees: number): [Vec3, Vec3, Vec3] {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((c) => c / n) as [number, number, number];
  const t = (degrees * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  // Columns of the rotation matrix are the images of the x, y, z axes.
  return [
    [c + x * x * C, y * x * C + z * s, z * x * C - y * s],
    [x * y * C - z * s, c + y * y * C, z * y * C + x * s],
    [x * z * C + y * s, y * z * C - x * s, c + z * z * C],
  ];
}

export const AXIAL: Geometry = makeGeometry({
  dims: [12, 10, 5],
  spacing: [0.625, 0.7, 1.25],
  origin: [-80.5, -120.25, 33.125],
});
export const OBLIQUE: Geometry = makeGeometry({
  dims: [12, 10, 5],
  spacing: [1.25, 1.25, 2.5],
  origin: [41.3, -97.77, 12.9],
  direction: rotation([0.3, -0.5, 0.8], 37),
});

function ramp(g: Geometry, f: (n: number) => number): Float32Array {
  return new Float32Array(g.dims[0] * g.dims[1] * g.dims[2]).map((_, n) => f(n));
}

function expectGeometryClose(a: Geometry, b: Geometry): void {
  expect(a.dims).toEqual(b.dims);
  for (let axis = 0; axis < 3; axis++) {
    expect(Math.abs(a.spacing[axis]! - b.spacing[axis]!)).toBeLessThan(1e-4);
    expect(Math.abs(a.origin[axis]! - b.origin[axis]!)).toBeLessThan(1e-4);
    for (let c = 0; c < 3; c++)
      expect(Math.abs(a.direction[axis]![c]! - b.direction[axis]![c]!)).toBeLessThan(1e-6);
  }
}

describe('writeMrSeries', () => {
  it.each([
    ['axial', AXIAL],
    ['oblique', OBLIQUE],
  ])(
    'round-trips a 12-bit %s volume exactly (voxels) and within 1e-4 mm (geometry)',
    (_, geometry) => {
      const data = ramp(geometry, (n) => (n * 37) % 4096);
      const files = writeMrSeries({ geometry, data }, identity);
      expect(files).toHaveLength(geometry.dims[2]);
      // Hand the reader the files shuffled: it must order them by position, not by arrival.
      const shuffled = files.map((bytes, k) => ({ name: `slice${k}.dcm`, bytes })).reverse();
      [shuffled[0], shuffled[2]] = [shuffled[2]!, shuffled[0]!];
      const back = readDicomSeries(shuffled);
      expectGeometryClose(back.volume.geometry, geometry);
      expect(Array.from(back.volume.data)).toEqual(Array.from(data));
      expect(back.source.identity.patientId).toBe('PH001');
      expect(back.source.slices.map((s) => s.file)).toEqual(files.map((_, k) => `slice${k}.dcm`));
    },
  );

  it('round-trips negative integers (signed) and non-integers (rescaled)', () => {
    const signed = ramp(AXIAL, (n) => n - 300);
    expect(
      Array.from(
        readDicomSeries(writeMrSeries({ geometry: AXIAL, data: signed }, identity)).volume.data,
      ),
    ).toEqual(Array.from(signed));
    const real = ramp(AXIAL, (n) => Math.sin(n) * 3.3);
    const back = readDicomSeries(writeMrSeries({ geometry: AXIAL, data: real }, identity)).volume
      .data;
    const step = 6.6 / 65535;
    back.forEach((v, n) => expect(Math.abs(v - real[n]!)).toBeLessThan(step));
  });

  it('writes deterministic UIDs and LGE identification', () => {
    const data = ramp(AXIAL, (n) => n % 4096);
    const a = writeMrSeries({ geometry: AXIAL, data }, identity, {
      inversionTimeMs: 280,
      seriesDescription: 'LGE 3D',
    });
    const b = writeMrSeries({ geometry: AXIAL, data }, identity, {
      inversionTimeMs: 280,
      seriesDescription: 'LGE 3D',
    });
    expect(a.map((f) => Buffer.from(f).toString('hex'))).toEqual(
      b.map((f) => Buffer.from(f).toString('hex')),
    );
    const text = Buffer.from(a[0]!).toString('latin1');
    for (const value of [
      'LGE 3D',
      'LGE_3D_LA',
      '*tfl3d1_ns',
      '280',
      'GR\\IR',
      'ORIGINAL\\PRIMARY\\OTHER',
    ]) {
      expect(text).toContain(value);
    }
  });

  it.each([
    ['axial', AXIAL],
    ['oblique', OBLIQUE],
  ])('passes dciodvfy with zero errors and zero warnings (%s)', (_, geometry) => {
    const files = writeMrSeries({ geometry, data: ramp(geometry, (n) => n % 4096) }, identity);
    for (const file of [files[0]!, files[files.length - 1]!]) {
      const result = dciodvfy(file);
      expect(result.errors, result.output).toEqual([]);
      expect(result.warnings, result.output).toEqual([]);
    }
  });
});

describe('writeMrSeries input checks', () => {
  it('refuses non-finite voxels, naming the voxel', () => {
    const data = new Float32Array(12 * 10 * 5);
    data[17] = Number.NaN;
    expect(() => writeMrSeries({ geometry: AXIAL, data }, identity)).toThrow(/voxel 17 is NaN/);
    data[17] = Number.POSITIVE_INFINITY;
    expect(() => writeMrSeries({ geometry: AXIAL, data }, identity)).toThrow(
      /voxel 17 is Infinity/,
    );
  });
});
