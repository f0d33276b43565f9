import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NiftiError,
  rasAffineFromGeometry,
  readNifti,
  readNiftiAsFloat32,
  writeNifti,
  type NiftiVolume,
} from './nifti.js';
import { makeGeometry, type Geometry, type Vec3, type VoxelArray } from './volume.js';

const PYTHON = '/usr/bin/python3';

function rotation(qa: number, qb: number, qc: number, qd: number): [Vec3, Vec3, Vec3] {
  const n = Math.hypot(qa, qb, qc, qd);
  const [a, b, c, d] = [qa / n, qb / n, qc / n, qd / n];
  // Columns of the rotation matrix are the axis directions.
  const m = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const col = (j: number): Vec3 => [m[0]![j]!, m[1]![j]!, m[2]![j]!];
  return [col(0), col(1), col(2)];
}

const OBLIQUE: Geometry = makeGeometry({
  dims: [5, 4, 3],
  spacing: [0.625, 0.7, 1.25],
  origin: [-101.25, 37.5, 12.125],
  direction: rotation(0.9, 0.2, -0.3, 0.25),
});

/** A left-handed grid (k flipped): NIfTI stores it with qfac = -1. */
const FLIPPED: Geometry = makeGeometry({
  dims: [4, 3, 6],
  spacing: [1.25, 1.25, 2.5],
  origin: [10, -20, 30],
  direction: (() => {
    const [i, j, k] = rotation(0.5, -0.4, 0.6, 0.1);
    return [i, j, [-k[0], -k[1], -k[2]]] as [Vec3, Vec3, Vec3];
  })(),
});

/** A 180-degree rotation about x (a = 0 in the quaternion), the usual DICOM axial grid seen in RAS. */
const AXIAL: Geometry = makeGeometry({
  dims: [6, 5, 2],
  spacing: [0.625, 0.625, 1.25],
  origin: [-200, -180, -50],
});

/** A gantry-tilted (sheared) grid: no qform can hold it. */
const SHEARED: Geometry = makeGeometry({
  dims: [3, 4, 5],
  spacing: [1, 1, 2],
  origin: [1, 2, 3],
  direction: [
    [1, 0, 0],
    [0, Math.cos(0.2), Math.sin(0.2)],
    [0, 0, 1],
  ],
});

function expectGeometryClose(actual: Geometry, expected: Geometry, tol = 1e-4): void {
  expect(actual.dims).toEqual(expected.dims);
  for (let a = 0; a < 3; a++) {
    expect(Math.abs(actual.spacing[a]! - expected.spacing[a]!)).toBeLessThan(tol);
    expect(Math.abs(actual.origin[a]! - expected.origin[a]!)).toBeLessThan(tol);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(actual.direction[a]![c]! - expected.direction[a]![c]!)).toBeLessThan(tol);
    }
  }
}

const ARRAY_TYPES: [string, (n: number) => VoxelArray, (v: number) => number][] = [
  ['uint8', (n) => new Uint8Array(n), (v) => (v * 37) % 256],
  ['int8', (n) => new Int8Array(n), (v) => ((v * 37) % 256) - 128],
  ['int16', (n) => new Int16Array(n), (v) => v * 1031 - 30000],
  ['uint16', (n) => new Uint16Array(n), (v) => (v * 1031) % 65536],
  ['int32', (n) => new Int32Array(n), (v) => v * 33554393 - 2 ** 31],
  ['uint32', (n) => new Uint32Array(n), (v) => (v * 66554393) % 2 ** 32],
  ['float32', (n) => new Float32Array(n), (v) => Math.fround(v * 0.37 - 5.5)],
  ['float64', (n) => new Float64Array(n), (v) => v * Math.PI - 1e10],
];

function filled(
  make: (n: number) => VoxelArray,
  value: (v: number) => number,
  n: number,
): VoxelArray {
  const data = make(n);
  for (let v = 0; v < n; v++) data[v] = value(v);
  return data;
}

/** Patches a little-endian header field of an uncompressed file (returns a copy). */
function patch(file: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = file.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

/** Byte-swaps an uncompressed little-endian NIfTI-1 file written by writeNifti into big endian. */
function toBigEndian(file: Uint8Array, bytesPerVoxel: number): Uint8Array {
  const out = file.slice();
  const swap = (at: number, size: number, count = 1): void => {
    for (let e = 0; e < count; e++) out.subarray(at + e * size, at + (e + 1) * size).reverse();
  };
  swap(0, 4); // sizeof_hdr
  swap(32, 4); // extents
  swap(36, 2); // session_error
  swap(40, 2, 8); // dim
  swap(56, 4, 3); // intent_p1..3
  swap(68, 2, 4); // intent_code, datatype, bitpix, slice_start
  swap(76, 4, 11); // pixdim, vox_offset, scl_slope, scl_inter
  swap(120, 2); // slice_end
  swap(124, 4, 6); // cal_max, cal_min, slice_duration, toffset, glmax, glmin
  swap(252, 2, 2); // qform_code, sform_code
  swap(256, 4, 18); // quatern_*, qoffset_*, srow_*
  if (bytesPerVoxel > 1) swap(352, bytesPerVoxel, (out.length - 352) / bytesPerVoxel);
  return out;
}

describe('writeNifti / readNifti round trip', () => {
  for (const [name, make, value] of ARRAY_TYPES) {
    for (const gzip of [false, true]) {
      it(`keeps ${name} data and an oblique geometry (${gzip ? '.nii.gz' : '.nii'})`, () => {
        const data = filled(make, value, 60);
        const bytes = writeNifti({ geometry: OBLIQUE, data }, { gzip, description: 'round trip' });
        const back = readNifti(bytes);
        expect(back.data.constructor).toBe(data.constructor);
        expect(Array.from(back.data)).toEqual(Array.from(data));
        expectGeometryClose(back.geometry, OBLIQUE);
        expect(back.transform).toBe('sform');
        expect(back.description).toBe('round trip');
        expect(back.scaleSlope).toBe(1);
        expect(back.scaleIntercept).toBe(0);
      });
    }
  }

  it('writes a Node Buffer as uint8', () => {
    const data = Buffer.from(Array.from({ length: 60 }, (_, v) => v));
    const back = readNifti(writeNifti({ geometry: OBLIQUE, data }, { gzip: false }));
    expect(back.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('writes a 352-byte header with vox_offset 352, gzip only when asked', () => {
    const data = new Uint8Array(60);
    const plain = writeNifti({ geometry: OBLIQUE, data }, { gzip: false });
    expect(plain.length).toBe(352 + 60);
    const view = new DataView(plain.buffer);
    expect(view.getInt32(0, true)).toBe(348);
    expect(view.getFloat32(108, true)).toBe(352);
    expect(String.fromCharCode(...plain.subarray(344, 348))).toBe('n+1\0');
    const gz = writeNifti({ geometry: OBLIQUE, data }, { gzip: true });
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(gz)).toEqual(plain);
  });

  for (const [label, geometry] of [
    ['oblique', OBLIQUE],
    ['left-handed (qfac -1)', FLIPPED],
    ['axial (180-degree quaternion)', AXIAL],
  ] as const) {
    it(`reads the same ${label} geometry from the qform alone`, () => {
      const n = geometry.dims[0] * geometry.dims[1] * geometry.dims[2];
      const file = writeNifti({ geometry, data: new Int16Array(n) }, { gzip: false });
      const qformOnly = patch(file, (v) => v.setInt16(254, 0, true));
      const back = readNifti(qformOnly);
      expect(back.transform).toBe('qform');
      expectGeometryClose(back.geometry, geometry);
      expectGeometryClose(readNifti(file).geometry, geometry);
    });
  }

  it('keeps a sheared geometry in the sform and leaves the qform unset', () => {
    const file = writeNifti({ geometry: SHEARED, data: new Float32Array(60) }, { gzip: false });
    const view = new DataView(file.buffer);
    expect(view.getInt16(252, true)).toBe(0);
    expect(view.getInt16(254, true)).toBe(1);
    expectGeometryClose(readNifti(file).geometry, SHEARED);
  });

  it('falls back to pixdim when neither qform nor sform is set (RAS axes, origin 0)', () => {
    const file = writeNifti({ geometry: OBLIQUE, data: new Uint8Array(60) }, { gzip: false });
    const bare = patch(file, (v) => {
      v.setInt16(252, 0, true);
      v.setInt16(254, 0, true);
    });
    const back = readNifti(bare);
    expect(back.transform).toBe('pixdim');
    expectGeometryClose(
      back.geometry,
      makeGeometry({
        dims: OBLIQUE.dims,
        spacing: OBLIQUE.spacing,
        origin: [0, 0, 0],
        direction: [
          [-1, 0, 0],
          [0, -1, 0],
          [0, 0, 1],
        ],
      }),
    );
  });

  it('converts spatial units of metres to mm', () => {
    const file = writeNifti({ geometry: AXIAL, data: new Uint8Array(60) }, { gzip: false });
    const metres = patch(file, (v) => {
      v.setUint8(123, 1);
      for (let p = 280; p < 328; p += 4) v.setFloat32(p, v.getFloat32(p, true) / 1000, true);
    });
    expectGeometryClose(readNifti(metres).geometry, AXIAL, 1e-3);
  });

  for (const [name, make, value] of ARRAY_TYPES) {
    it(`reads big-endian ${name}`, () => {
      const data = filled(make, value, 60);
      const file = writeNifti({ geometry: OBLIQUE, data }, { gzip: false });
      const back = readNifti(toBigEndian(file, data.BYTES_PER_ELEMENT));
      expect(Array.from(back.data)).toEqual(Array.from(data));
      expectGeometryClose(back.geometry, OBLIQUE);
    });
  }

  it('applies scl_slope and scl_inter in readNiftiAsFloat32 only', () => {
    const data = new Int16Array(60).map((_, v) => v - 10);
    const file = writeNifti({ geometry: OBLIQUE, data }, { gzip: false });
    const scaled = patch(file, (v) => {
      v.setFloat32(112, 0.5, true);
      v.setFloat32(116, -3, true);
    });
    const raw = readNifti(scaled);
    expect(Array.from(raw.data)).toEqual(Array.from(data));
    expect([raw.scaleSlope, raw.scaleIntercept]).toEqual([0.5, -3]);
    const real = readNiftiAsFloat32(scaled);
    expect(real.data[0]).toBe(-10 * 0.5 - 3);
    expect(real.data[59]).toBe(49 * 0.5 - 3);
    // scl_slope 0 means "no scaling", whatever scl_inter says.
    const off = patch(file, (v) => {
      v.setFloat32(112, 0, true);
      v.setFloat32(116, 7, true);
    });
    expect(readNiftiAsFloat32(off).data[0]).toBe(-10);
  });
});

describe('readNifti errors', () => {
  const file = writeNifti({ geometry: OBLIQUE, data: new Int16Array(60) }, { gzip: false });
  const expectError = (bytes: Uint8Array, pattern: RegExp): void => {
    let error: unknown;
    try {
      readNifti(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NiftiError);
    expect((error as Error).message).toMatch(pattern);
  };

  it('names a truncated header, truncated data and a truncated gzip stream', () => {
    expectError(file.subarray(0, 200), /truncated.*200 bytes/);
    expectError(
      file.subarray(0, 400),
      /truncated: the image needs 120 bytes from offset 352.*the file has 48/,
    );
    const gz = writeNifti({ geometry: OBLIQUE, data: new Int16Array(60) }, { gzip: true });
    expectError(gz.subarray(0, gz.length - 20), /gzip/);
  });

  it('rejects files that are not NIfTI-1', () => {
    expectError(new TextEncoder().encode('%PDF-1.4'.padEnd(400, ' ')), /not a NIfTI-1 file/);
    expectError(
      patch(file, (v) => v.setUint8(344, 'x'.charCodeAt(0))),
      /bad magic/,
    );
    expectError(
      patch(file, (v) => v.setUint8(345, 'i'.charCodeAt(0))),
      /\.hdr\/\.img pair/,
    );
    expectError(
      patch(file, (v) => v.setInt32(0, 540, true)),
      /NIfTI-2/,
    );
  });

  it('rejects 4-D data with more than one volume but accepts a single one', () => {
    const fourD = patch(file, (v) => {
      v.setInt16(40, 4, true);
      v.setInt16(48, 2, true);
    });
    expectError(fourD, /4-D image with 2 volumes/);
    const single = patch(file, (v) => {
      v.setInt16(40, 4, true);
      v.setInt16(48, 1, true);
    });
    expect(readNifti(single).geometry.dims).toEqual([5, 4, 3]);
  });

  it('names an unsupported datatype', () => {
    expectError(
      patch(file, (v) => v.setInt16(70, 128, true)),
      /unsupported NIfTI datatype 128 \(RGB24\)/,
    );
    expectError(
      patch(file, (v) => v.setInt16(70, 1024, true)),
      /int64/,
    );
  });
});

describe('nibabel cross-check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-nifti-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('nibabel reads our files: same RAS affine and data', () => {
    const cases: [string, Geometry, VoxelArray][] = [
      [
        'oblique.nii.gz',
        OBLIQUE,
        filled(
          (n) => new Int16Array(n),
          (v) => v * 7 - 100,
          60,
        ),
      ],
      [
        'flipped.nii',
        FLIPPED,
        filled(
          (n) => new Float32Array(n),
          (v) => v * 0.25,
          72,
        ),
      ],
      [
        'sheared.nii.gz',
        SHEARED,
        filled(
          (n) => new Uint8Array(n),
          (v) => v % 3,
          60,
        ),
      ],
    ];
    for (const [name, geometry, data] of cases) {
      writeFileSync(
        join(dir, name),
        writeNifti({ geometry, data }, { gzip: name.endsWith('.gz') }),
      );
    }
    const script = `
import json, sys, nibabel as nib, numpy as np
out = {}
for name in sys.argv[2:]:
    img = nib.load(sys.argv[1] + '/' + name)
    data = np.asarray(img.dataobj)
    out[name] = {
        'affine': img.affine[:3].tolist(),
        'shape': list(data.shape),
        'dtype': str(data.dtype),
        # Fortran order is NIfTI's memory order (i fastest).
        'data': data.ravel(order='F').astype(float).tolist(),
        'qform_code': int(img.header['qform_code']),
        'qform': img.get_qform()[:3].tolist(),
    }
print(json.dumps(out))
`;
    const result = JSON.parse(
      execFileSync(PYTHON, ['-c', script, dir, ...cases.map((c) => c[0])], { encoding: 'utf8' }),
    ) as Record<
      string,
      {
        affine: number[][];
        shape: number[];
        dtype: string;
        data: number[];
        qform_code: number;
        qform: number[][];
      }
    >;
    for (const [name, geometry, data] of cases) {
      const r = result[name]!;
      expect(r.shape).toEqual([...geometry.dims]);
      expect(r.data).toEqual(Array.from(data));
      const expected = rasAffineFromGeometry(geometry);
      for (let row = 0; row < 3; row++) {
        for (let col = 0; col < 4; col++) {
          expect(Math.abs(r.affine[row]![col]! - expected[row]![col]!)).toBeLessThan(1e-4);
          if (r.qform_code > 0)
            expect(Math.abs(r.qform[row]![col]! - expected[row]![col]!)).toBeLessThan(1e-4);
        }
      }
    }
    expect(result['oblique.nii.gz']!.dtype).toBe('int16');
    expect(result['flipped.nii']!.qform_code).toBe(1);
    expect(result['sheared.nii.gz']!.qform_code).toBe(0);
  });

  it('we read nibabel files: big endian, scaling, qform only, sform preferred', () => {
    const script = `
import json, sys, nibabel as nib, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
out = {}
def save(name, img):
    nib.save(img, d + '/' + name)
    back = nib.load(d + '/' + name)  # what nibabel itself reads back (scaling applied)
    out[name] = {'affine': back.affine[:3].tolist(), 'data': back.get_fdata().ravel(order='F').tolist(),
                 'slope': [float(back.dataobj.slope), float(back.dataobj.inter)]}

# Big-endian float64 with an oblique sform.
aff = np.array([[0.6, 0.1, 0.0, -90.0], [-0.1, 0.6, 0.2, 110.5], [0.0, -0.15, 1.2, -30.25], [0, 0, 0, 1]])
data = rng.normal(size=(4, 5, 3))
hdr = nib.Nifti1Header(endianness='>')
be = nib.Nifti1Image(data, aff, header=hdr)
be.set_data_dtype(np.dtype('>f8'))
save('be-float64.nii', be)

# Float data stored as int16: nibabel picks scl_slope / scl_inter itself.
img = nib.Nifti1Image(rng.normal(size=(3, 4, 2)) * 1e5 + 3e5, np.diag([0.625, 0.625, 1.25, 1]))
img.set_data_dtype(np.int16)
save('scaled-int16.nii.gz', img)

# qform only (sform_code 0), rotated and left-handed.
q = nib.Nifti1Image(rng.integers(0, 3, size=(5, 3, 4)).astype(np.uint8), None)
rot = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float) @ np.diag([0.8, 0.9, -1.5])
qa = np.eye(4); qa[:3, :3] = rot; qa[:3, 3] = [12.5, -7.25, 40.0]
q.set_qform(qa, code=1)
q.set_sform(None, code=0)
save('qform-only.nii', q)

# sform and qform disagree: the sform wins (as in nibabel).
s = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint16), None)
s.set_qform(np.diag([1, 1, 1, 1.0]), code=1)
sa = np.diag([2.0, 3.0, 4.0, 1]); sa[:3, 3] = [5, 6, 7]
s.set_sform(sa, code=2)
save('sform-wins.nii', s)
print(json.dumps(out))
`;
    const result = JSON.parse(
      execFileSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' }),
    ) as Record<string, { affine: number[][]; data: number[]; slope: number[] }>;
    const types: Record<string, { ctor: unknown; transform: NiftiVolume['transform'] }> = {
      'be-float64.nii': { ctor: Float64Array, transform: 'sform' },
      'scaled-int16.nii.gz': { ctor: Int16Array, transform: 'sform' },
      'qform-only.nii': { ctor: Uint8Array, transform: 'qform' },
      'sform-wins.nii': { ctor: Uint16Array, transform: 'sform' },
    };
    for (const [name, expected] of Object.entries(result)) {
      const bytes = new Uint8Array(readFileSync(join(dir, name)));
      const raw = readNifti(bytes);
      if (name.startsWith('be-')) expect(new DataView(bytes.buffer).getInt32(0, false)).toBe(348);
      expect(raw.data.constructor).toBe(types[name]!.ctor);
      expect(raw.transform).toBe(types[name]!.transform);
      if (name.startsWith('scaled-')) {
        expect(expected.slope[0]).not.toBe(1);
        expect(raw.scaleSlope).toBeCloseTo(expected.slope[0]!, 6);
        expect(raw.scaleIntercept).toBeCloseTo(expected.slope[1]!, 6);
      }
      const affine = rasAffineFromGeometry(raw.geometry);
      for (let row = 0; row < 3; row++) {
        for (let col = 0; col < 4; col++) {
          expect(Math.abs(affine[row]![col]! - expected.affine[row]![col]!)).toBeLessThan(1e-4);
        }
      }
      const real = readNiftiAsFloat32(bytes).data;
      expect(real.length).toBe(expected.data.length);
      expected.data.forEach((x, v) =>
        expect(Math.abs(real[v]! - x)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x))),
      );
    }
  });
});
