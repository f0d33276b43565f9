/**
 * NIfTI-1 read and write (.nii and .nii.gz), bytes in and bytes out.
 *
 * NIfTI world space is RAS+; ours is DICOM LPS+ (see volume.ts). The conversion is a sign flip
 * of x and y applied to the voxel-to-world affine, so voxel order and data stay untouched: a
 * mask read from NIfTI lies on the same voxels as the DICOM series it was made from.
 *
 * Reading picks the affine as nibabel does: the sform when sform_code > 0, else the qform when
 * qform_code > 0, else pixdim only (NIfTI "method 1": x = pixdim[1] i, y = pixdim[2] j,
 * z = pixdim[3] k, in RAS). Spatial units of metres or microns are converted to mm.
 */

import { gunzipSync, gzipSync } from 'fflate';
import { NIFTI1 } from 'nifti-reader-js';
import {
  makeGeometry,
  voxelCount,
  type Geometry,
  type Vec3,
  type Volume,
  type VoxelArray,
} from './volume.js';

/** A file that is not readable as a single-volume NIfTI-1 image, with the reason. */
export class NiftiError extends Error {
  override name = 'NiftiError';
}

/** A volume read from NIfTI, with the stored values (scaling not applied) and the scaling. */
export interface NiftiVolume extends Volume<VoxelArray> {
  /** scl_slope; 1 when the file says 0 or gives none (NIfTI: 0 means "no scaling"). */
  readonly scaleSlope: number;
  /** scl_inter; 0 when scaling is off. Real value = stored * scaleSlope + scaleIntercept. */
  readonly scaleIntercept: number;
  /** The header's `descrip` text. */
  readonly description: string;
  /** Which transform gave the geometry. */
  readonly transform: 'sform' | 'qform' | 'pixdim';
}

export interface WriteNiftiOptions {
  /** gzip the file (.nii.gz). */
  readonly gzip: boolean;
  /** Up to 79 ASCII characters for the header's `descrip`. */
  readonly description?: string;
  /** gzip level 0-9 (default 6). */
  readonly level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

const HEADER_SIZE = 348;
const VOX_OFFSET = 352; // header + the 4-byte extension flag (no extensions)

interface DatatypeInfo {
  readonly code: number;
  readonly name: string;
  readonly bytes: number;
  readonly make: (buffer: ArrayBuffer) => VoxelArray;
  /** instanceof, so a Node Buffer (a Uint8Array) counts as uint8. */
  readonly is: (data: VoxelArray) => boolean;
}

const DATATYPES: readonly DatatypeInfo[] = [
  {
    code: 2,
    name: 'uint8',
    bytes: 1,
    make: (b) => new Uint8Array(b),
    is: (d) => d instanceof Uint8Array,
  },
  {
    code: 256,
    name: 'int8',
    bytes: 1,
    make: (b) => new Int8Array(b),
    is: (d) => d instanceof Int8Array,
  },
  {
    code: 4,
    name: 'int16',
    bytes: 2,
    make: (b) => new Int16Array(b),
    is: (d) => d instanceof Int16Array,
  },
  {
    code: 512,
    name: 'uint16',
    bytes: 2,
    make: (b) => new Uint16Array(b),
    is: (d) => d instanceof Uint16Array,
  },
  {
    code: 8,
    name: 'int32',
    bytes: 4,
    make: (b) => new Int32Array(b),
    is: (d) => d instanceof Int32Array,
  },
  {
    code: 768,
    name: 'uint32',
    bytes: 4,
    make: (b) => new Uint32Array(b),
    is: (d) => d instanceof Uint32Array,
  },
  {
    code: 16,
    name: 'float32',
    bytes: 4,
    make: (b) => new Float32Array(b),
    is: (d) => d instanceof Float32Array,
  },
  {
    code: 64,
    name: 'float64',
    bytes: 8,
    make: (b) => new Float64Array(b),
    is: (d) => d instanceof Float64Array,
  },
];

const UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a NIfTI-1 file (gzipped or not) into a volume of its stored datatype. */
export function readNifti(bytes: Uint8Array): NiftiVolume {
  const raw = isGzip(bytes) ? gunzip(bytes) : bytes;
  // nifti-reader-js wants an ArrayBuffer holding exactly the file.
  const buffer =
    raw.byteOffset === 0 &&
    raw.byteLength === raw.buffer.byteLength &&
    raw.buffer instanceof ArrayBuffer
      ? raw.buffer
      : raw.slice().buffer;
  if (buffer.byteLength < HEADER_SIZE) {
    throw new NiftiError(
      `not a NIfTI-1 file or truncated: ${buffer.byteLength} bytes, a NIfTI-1 header alone is ${HEADER_SIZE}`,
    );
  }
  const view = new DataView(buffer);
  const sizeLE = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  if (sizeLE === 540 || sizeBE === 540)
    throw new NiftiError('NIfTI-2 files are not supported; convert to NIfTI-1');
  if (sizeLE !== HEADER_SIZE && sizeBE !== HEADER_SIZE) {
    throw new NiftiError('not a NIfTI-1 file (the header size field is not 348)');
  }
  const magic = String.fromCharCode(view.getUint8(344), view.getUint8(345), view.getUint8(346));
  if (magic === 'ni1') {
    throw new NiftiError(
      'this is the header of a .hdr/.img pair; give a single-file .nii or .nii.gz',
    );
  }
  if (magic !== 'n+1' || view.getUint8(347) !== 0)
    throw new NiftiError('not a NIfTI-1 file (bad magic string)');

  const header = new NIFTI1();
  header.readHeader(buffer);
  const little = header.littleEndian;

  // Dimensions: up to 3 spatial ones; anything beyond must be a single volume.
  const ndim = header.dims[0] ?? 0;
  if (ndim < 1 || ndim > 7) throw new NiftiError(`invalid dim[0] = ${ndim} (must be 1-7)`);
  const dim = (a: number): number => (a <= ndim ? (header.dims[a] ?? 0) : 1);
  const dims: Vec3 = [dim(1), dim(2), dim(3)];
  if (dims.some((n) => n < 1)) throw new NiftiError(`invalid dimensions ${dims.join(' x ')}`);
  let extra = 1;
  for (let a = 4; a <= ndim; a++) extra *= Math.max(1, dim(a));
  if (extra > 1) {
    throw new NiftiError(
      `${ndim}-D image with ${extra} volumes (dim ${header.dims.slice(1, ndim + 1).join(' x ')}); only single 3-D volumes are supported`,
    );
  }

  const type = DATATYPES.find((t) => t.code === header.datatypeCode);
  if (!type) {
    const name = UNSUPPORTED_DATATYPES[header.datatypeCode] ?? 'unknown';
    throw new NiftiError(
      `unsupported NIfTI datatype ${header.datatypeCode} (${name}); supported: ${DATATYPES.map((t) => t.name).join(', ')}`,
    );
  }

  const count = dims[0] * dims[1] * dims[2];
  const offset = Math.round(header.vox_offset);
  if (!(offset >= HEADER_SIZE)) throw new NiftiError(`invalid vox_offset ${header.vox_offset}`);
  const byteLength = count * type.bytes;
  if (offset + byteLength > buffer.byteLength) {
    throw new NiftiError(
      `truncated: the image needs ${byteLength} bytes from offset ${offset} (${dims.join(' x ')} ${type.name}), the file has ${buffer.byteLength - offset}`,
    );
  }
  // Copy so the array is aligned and owns its memory, then swap to host order if needed.
  const data = type.make(buffer.slice(offset, offset + byteLength));
  if (type.bytes > 1 && little !== HOST_LITTLE_ENDIAN)
    swapBytes(new Uint8Array(data.buffer), type.bytes);

  const { matrix, transform } = pickAffine(header, view, little);
  const unit = spatialUnitMm(header.xyzt_units & 7);
  const geometry = geometryFromRasAffine(matrix, dims, unit);

  const slope = header.scl_slope;
  const useScaling = Number.isFinite(slope) && slope !== 0;
  return {
    geometry,
    data,
    scaleSlope: useScaling ? slope : 1,
    scaleIntercept: useScaling && Number.isFinite(header.scl_inter) ? header.scl_inter : 0,
    description: header.description,
    transform,
  };
}

/** Reads a NIfTI-1 file and applies scl_slope / scl_inter, as float32 (the real-world values). */
export function readNiftiAsFloat32(bytes: Uint8Array): Volume<Float32Array> {
  return niftiToFloat32(readNifti(bytes));
}

/** The real-world values of a volume read by readNifti, as float32. */
export function niftiToFloat32(volume: NiftiVolume): Volume<Float32Array> {
  const { data, scaleSlope: m, scaleIntercept: b } = volume;
  const out =
    data instanceof Float32Array && m === 1 && b === 0 ? data : new Float32Array(data.length);
  if (out !== data) for (let v = 0; v < data.length; v++) out[v] = data[v]! * m + b;
  return { geometry: volume.geometry, data: out };
}

/**
 * Writes a NIfTI-1 single file (.nii, or .nii.gz with gzip: true): 348-byte header, an empty
 * extension flag, data from byte 352, little endian. The datatype follows the typed array.
 * sform (code 1, scanner) holds the exact affine; the qform (code 1) holds the same one when the
 * axes are orthogonal. A sheared grid (gantry tilt) cannot be a qform, so its qform_code is 0.
 */
export function writeNifti(volume: Volume<VoxelArray>, options: WriteNiftiOptions): Uint8Array {
  const { geometry, data } = volume;
  if (data.length !== voxelCount(geometry)) {
    throw new NiftiError(
      `voxel data has ${data.length} values but the grid ${geometry.dims.join(' x ')} needs ${voxelCount(geometry)}`,
    );
  }
  for (const n of geometry.dims) {
    if (n > 32767) throw new NiftiError(`dimension ${n} exceeds NIfTI-1's limit of 32767`);
  }
  const type = DATATYPES.find((t) => t.is(data));
  if (!type) throw new NiftiError('unsupported voxel array type');

  const out = new Uint8Array(VOX_OFFSET + data.byteLength);
  const h = new DataView(out.buffer);
  const le = true;
  h.setInt32(0, HEADER_SIZE, le);
  out[38] = 'r'.charCodeAt(0);
  h.setInt16(40, 3, le);
  for (let a = 0; a < 3; a++) h.setInt16(42 + 2 * a, geometry.dims[a]!, le);
  for (let a = 3; a < 7; a++) h.setInt16(42 + 2 * a, 1, le);
  h.setInt16(70, type.code, le);
  h.setInt16(72, type.bytes * 8, le);

  const ras = rasAffineFromGeometry(geometry);
  const q = qformFromAffine(ras, geometry.spacing);
  h.setFloat32(76, q?.qfac ?? 1, le);
  for (let a = 0; a < 3; a++) h.setFloat32(80 + 4 * a, geometry.spacing[a]!, le);
  for (let a = 3; a < 7; a++) h.setFloat32(80 + 4 * a, 1, le);
  h.setFloat32(108, VOX_OFFSET, le);
  h.setFloat32(112, 1, le); // scl_slope: values are stored as they are
  h.setFloat32(116, 0, le);
  out[123] = 2; // xyzt_units: mm
  writeAscii(out, 148, 80, options.description ?? '');
  h.setInt16(252, q ? 1 : 0, le);
  h.setInt16(254, 1, le);
  if (q) {
    h.setFloat32(256, q.b, le);
    h.setFloat32(260, q.c, le);
    h.setFloat32(264, q.d, le);
  }
  for (let r = 0; r < 3; r++) {
    h.setFloat32(268 + 4 * r, ras[r]![3]!, le); // qoffset
    for (let c = 0; c < 4; c++) h.setFloat32(280 + 16 * r + 4 * c, ras[r]![c]!, le); // srow
  }
  writeAscii(out, 344, 4, 'n+1');

  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(body, VOX_OFFSET);
  if (type.bytes > 1 && !HOST_LITTLE_ENDIAN) swapBytes(out.subarray(VOX_OFFSET), type.bytes);
  return options.gzip ? gzipSync(out, { level: options.level ?? 6 }) : out;
}

/** The 3 x 4 voxel-to-RAS affine (rows x, y, z; columns i, j, k, offset) of a geometry. */
export function rasAffineFromGeometry(g: Geometry): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const sign = r < 2 ? -1 : 1; // LPS -> RAS
    rows.push([
      sign * g.direction[0][r]! * g.spacing[0],
      sign * g.direction[1][r]! * g.spacing[1],
      sign * g.direction[2][r]! * g.spacing[2],
      sign * g.origin[r]!,
    ]);
  }
  return rows;
}

/** The LPS geometry of a 3 x 4 voxel-to-RAS affine in `unitMm` units per affine unit. */
export function geometryFromRasAffine(
  ras: readonly (readonly number[])[],
  dims: Vec3,
  unitMm = 1,
): Geometry {
  const column = (c: number): Vec3 => {
    const v = [0, 1, 2].map((r) => (r < 2 ? -1 : 1) * ras[r]![c]! * unitMm);
    return [v[0]!, v[1]!, v[2]!];
  };
  const spacing: number[] = [];
  const direction: Vec3[] = [];
  for (let c = 0; c < 3; c++) {
    const v = column(c);
    const norm = Math.hypot(v[0], v[1], v[2]);
    if (!(norm > 0) || !Number.isFinite(norm)) {
      throw new NiftiError(
        `the voxel-to-world transform has a zero or invalid column for axis ${'ijk'[c]}`,
      );
    }
    spacing.push(norm);
    direction.push([v[0] / norm, v[1] / norm, v[2] / norm]);
  }
  try {
    return makeGeometry({
      dims,
      spacing: [spacing[0]!, spacing[1]!, spacing[2]!],
      origin: column(3),
      direction: [direction[0]!, direction[1]!, direction[2]!],
    });
  } catch (error) {
    throw new NiftiError(`unusable geometry: ${(error as Error).message}`);
  }
}

function pickAffine(
  header: NIFTI1,
  view: DataView,
  little: boolean,
): { matrix: number[][]; transform: NiftiVolume['transform'] } {
  if (header.sform_code > 0) {
    const matrix = [0, 1, 2].map((r) =>
      [0, 1, 2, 3].map((c) => view.getFloat32(280 + 16 * r + 4 * c, little)),
    );
    return { matrix, transform: 'sform' };
  }
  const pix = [1, 2, 3].map((a) => header.pixDims[a] ?? 0);
  if (header.qform_code > 0) {
    const b = header.quatern_b;
    const c = header.quatern_c;
    const d = header.quatern_d;
    const R = quaternionToRotation(b, c, d);
    const qfac = (header.pixDims[0] ?? 1) < 0 ? -1 : 1;
    const scale = [pix[0]!, pix[1]!, qfac * pix[2]!];
    const offset = [header.qoffset_x, header.qoffset_y, header.qoffset_z];
    const matrix = [0, 1, 2].map((r) => [
      R[r]![0]! * scale[0]!,
      R[r]![1]! * scale[1]!,
      R[r]![2]! * scale[2]!,
      offset[r]!,
    ]);
    return { matrix, transform: 'qform' };
  }
  return {
    matrix: [
      [pix[0]!, 0, 0, 0],
      [0, pix[1]!, 0, 0],
      [0, 0, pix[2]!, 0],
    ],
    transform: 'pixdim',
  };
}

/** NIfTI's quaternion (a implied) to rotation matrix, as nifti1_io's nifti_quatern_to_mat44. */
function quaternionToRotation(b: number, c: number, d: number): number[][] {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // a 180-degree rotation: a = 0, renormalise (b, c, d)
    const n = Math.sqrt(b * b + c * c + d * d);
    b /= n;
    c /= n;
    d /= n;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
}

/** qform parameters of an affine, or undefined when its axes are not orthogonal. */
function qformFromAffine(
  ras: number[][],
  spacing: Vec3,
): { b: number; c: number; d: number; qfac: number } | undefined {
  const R = [0, 1, 2].map((r) => [0, 1, 2].map((c) => ras[r]![c]! / spacing[c]!));
  const col = (c: number): number[] => [R[0]![c]!, R[1]![c]!, R[2]![c]!];
  const dot = (u: number[], v: number[]): number => u[0]! * v[0]! + u[1]! * v[1]! + u[2]! * v[2]!;
  if (
    Math.abs(dot(col(0), col(1))) > 1e-5 ||
    Math.abs(dot(col(0), col(2))) > 1e-5 ||
    Math.abs(dot(col(1), col(2))) > 1e-5
  ) {
    return undefined;
  }
  const det =
    R[0]![0]! * (R[1]![1]! * R[2]![2]! - R[1]![2]! * R[2]![1]!) -
    R[0]![1]! * (R[1]![0]! * R[2]![2]! - R[1]![2]! * R[2]![0]!) +
    R[0]![2]! * (R[1]![0]! * R[2]![1]! - R[1]![1]! * R[2]![0]!);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) for (let r = 0; r < 3; r++) R[r]![2] = -R[r]![2]!;
  const r = (i: number, j: number): number => R[i - 1]![j - 1]!;
  let a = r(1, 1) + r(2, 2) + r(3, 3) + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r(3, 2) - r(2, 3))) / a;
    c = (0.25 * (r(1, 3) - r(3, 1))) / a;
    d = (0.25 * (r(2, 1) - r(1, 2))) / a;
  } else {
    const xd = 1 + r(1, 1) - (r(2, 2) + r(3, 3));
    const yd = 1 + r(2, 2) - (r(1, 1) + r(3, 3));
    const zd = 1 + r(3, 3) - (r(1, 1) + r(2, 2));
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r(1, 2) + r(2, 1))) / b;
      d = (0.25 * (r(1, 3) + r(3, 1))) / b;
      a = (0.25 * (r(3, 2) - r(2, 3))) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r(1, 2) + r(2, 1))) / c;
      d = (0.25 * (r(2, 3) + r(3, 2))) / c;
      a = (0.25 * (r(1, 3) - r(3, 1))) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r(1, 3) + r(3, 1))) / d;
      c = (0.25 * (r(2, 3) + r(3, 2))) / d;
      a = (0.25 * (r(2, 1) - r(1, 2))) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

function spatialUnitMm(code: number): number {
  if (code === 1) return 1000; // metre
  if (code === 3) return 0.001; // micron
  return 1; // mm, or unknown (taken as mm, as every reader does)
}

function gunzip(bytes: Uint8Array): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new NiftiError(`truncated or corrupt gzip data: ${(error as Error).message}`);
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let p = 0; p + size <= bytes.length; p += size) {
    for (let x = 0, y = size - 1; x < y; x++, y--) {
      const t = bytes[p + x]!;
      bytes[p + x] = bytes[p + y]!;
      bytes[p + y] = t;
    }
  }
}

function writeAscii(out: Uint8Array, at: number, max: number, text: string): void {
  const n = Math.min(text.length, max - 1);
  for (let c = 0; c < n; c++) {
    const code = text.charCodeAt(c);
    out[at + c] = code < 128 ? code : 63; // '?' for anything outside ASCII
  }
}
