// DICOM series to volume: group files by series, order slices along the slice normal, check the
// grid is regular, decode and rescale the pixels. Single-frame series and Enhanced multi-frame
// (per-frame functional groups) alike. Pure: bytes in, a Volume plus the source identity out.
import { makeGeometry, type Geometry, type Vec3, type Volume } from '../volume.js';
import {
  item,
  items,
  optionalNumber,
  optionalString,
  parsePart10,
  requireNumber,
  requireNumbers,
  requireString,
  type DicomFile,
  type NaturalDataset,
  type ParsedFile,
} from './dataset.js';
import { DicomError } from './errors.js';
import {
  BUILT_IN_DECODERS,
  transferSyntax,
  unsupportedTransferSyntax,
  type FrameDecoders,
  type PixelFormat,
} from './transfer-syntax.js';

export type { DicomFile } from './dataset.js';

/** Patient and study identity, copied into every object we derive from a study. */
export interface StudyIdentity {
  readonly patientName?: string;
  readonly patientId?: string;
  readonly patientBirthDate?: string;
  readonly patientSex?: string;
  readonly studyInstanceUid: string;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly studyId?: string;
  readonly accessionNumber?: string;
  readonly referringPhysicianName?: string;
  readonly studyDescription?: string;
  readonly specificCharacterSet?: string;
}

/** One slice of the volume and the source frame it came from. */
export interface SourceSlice {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** 1-based frame number inside a multi-frame instance; undefined for single-frame instances. */
  readonly frameNumber?: number;
  /** ImagePositionPatient of this slice as stored (LPS mm). */
  readonly position: Vec3;
  /** The file it was read from. */
  readonly file: string;
}

/** What a derived object (a SEG) needs to know about the series it was computed on. */
export interface SourceSeries {
  readonly identity: StudyIdentity;
  readonly seriesInstanceUid: string;
  readonly seriesNumber?: number;
  readonly seriesDescription?: string;
  readonly modality: string;
  readonly frameOfReferenceUid?: string;
  readonly positionReferenceIndicator?: string;
  /** ImageOrientationPatient as stored (row cosines, then column cosines). */
  readonly imageOrientation: readonly [number, number, number, number, number, number];
  /** PixelSpacing as stored: [between rows, between columns] in mm. */
  readonly pixelSpacing: readonly [number, number];
  readonly sliceThickness?: number;
  /** What the LGE selection rules look at (selection.ts), from the first instance. */
  readonly acquisition?: SeriesAcquisition;
  /** Slices in volume order (k = 0 .. nz - 1). */
  readonly slices: readonly SourceSlice[];
  readonly geometry: Geometry;
}

/** Acquisition attributes of a series, as the LGE selection rules read them. */
export interface SeriesAcquisition {
  readonly protocolName?: string;
  readonly sequenceName?: string;
  readonly imageType?: readonly string[];
  readonly inversionTimeMs?: number;
  readonly manufacturer?: string;
  readonly softwareVersions?: string;
}

function acquisitionOf(ds: Record<string, unknown>): SeriesAcquisition {
  const list = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split('\\') : undefined;
  const software = list(ds.SoftwareVersions);
  // Enhanced MR keeps the sequence name under PulseSequenceName.
  return definedFields({
    protocolName: optionalString(ds, 'ProtocolName'),
    sequenceName: optionalString(ds, 'SequenceName') ?? optionalString(ds, 'PulseSequenceName'),
    imageType: list(ds.ImageType),
    inversionTimeMs: optionalNumber(ds, 'InversionTime'),
    manufacturer: optionalString(ds, 'Manufacturer'),
    softwareVersions: software?.join('\\'),
  });
}

export interface DicomSeries {
  /** Rescaled values (RescaleSlope * stored + RescaleIntercept). */
  readonly volume: Volume<Float32Array>;
  readonly source: SourceSeries;
  /** Files that were not part of an image series (DICOMDIR, SR, SEG, non-DICOM) and why. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

export interface ReadSeriesOptions {
  /** Pick this series when the files hold several. */
  readonly seriesInstanceUid?: string;
  /** Decoders for compressed transfer syntaxes beyond the built-in RLE (see createCodecDecoders). */
  readonly decoders?: FrameDecoders;
}

/** A series found among the files, for listing when the choice is ambiguous. */
export interface SeriesSummary {
  readonly seriesInstanceUid: string;
  readonly modality?: string;
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  readonly instances: number;
}

/**
 * How far a slice may sit from its place on a regular grid: 5 % of the slice spacing, at least
 * 0.02 mm. Real scanners round ImagePositionPatient to 0.1 mm or so; a missing slice moves the
 * grid by half a spacing or more.
 */
export const SLICE_POSITION_TOLERANCE = { fraction: 0.05, minimumMm: 0.02 } as const;
/** Cosines of ImageOrientationPatient must agree to this between slices. */
export const ORIENTATION_TOLERANCE = 1e-3;
/** PixelSpacing must agree to this (mm) between slices. */
export const PIXEL_SPACING_TOLERANCE_MM = 1e-3;
/** Two slices closer than this along the normal are the same position. */
export const DUPLICATE_POSITION_MM = 1e-3;

const NON_IMAGE_SOP_CLASS_PREFIXES = [
  '1.2.840.10008.1.3.10', // Media Storage Directory (DICOMDIR)
  '1.2.840.10008.5.1.4.1.1.66', // Raw data, registration, fiducials, segmentation
  '1.2.840.10008.5.1.4.1.1.88', // Structured reports, key objects
  '1.2.840.10008.5.1.4.1.1.11', // Presentation states
  '1.2.840.10008.5.1.4.1.1.481', // Radiotherapy objects
  '1.2.840.10008.5.1.4.1.1.104', // Encapsulated documents
  '1.2.840.10008.5.1.4.1.1.9', // Waveforms
];
const NON_IMAGE_MODALITIES = new Set([
  'SEG',
  'SR',
  'PR',
  'KO',
  'RTSTRUCT',
  'RTPLAN',
  'RTDOSE',
  'DOC',
  'REG',
]);

interface Instance {
  readonly parsed: ParsedFile;
  readonly seriesInstanceUid: string;
}

/** Why a parsed file is not an image we can stack, or undefined when it is one. */
function nonImageReason(p: ParsedFile): string | undefined {
  const ds = p.dataset;
  const sopClass =
    optionalString(ds, 'SOPClassUID') ?? optionalString(ds, 'MediaStorageSOPClassUID');
  if (ds.DirectoryRecordSequence !== undefined || sopClass === '1.2.840.10008.1.3.10')
    return 'a DICOMDIR';
  if (sopClass && NON_IMAGE_SOP_CLASS_PREFIXES.some((prefix) => sopClass.startsWith(prefix))) {
    return `not an image (SOP class ${sopClass})`;
  }
  const modality = optionalString(ds, 'Modality');
  if (modality && NON_IMAGE_MODALITIES.has(modality)) return `not an image (modality ${modality})`;
  if (ds.PixelData === undefined || ds.PixelData === null) return 'no pixel data';
  return undefined;
}

function toFile(f: Uint8Array | DicomFile, n: number): DicomFile {
  return f instanceof Uint8Array ? { name: `file #${n + 1}`, bytes: f } : f;
}

interface Sorted {
  readonly images: Instance[];
  readonly skipped: { file: string; reason: string }[];
}

function parseAll(files: readonly (Uint8Array | DicomFile)[]): Sorted {
  const images: Instance[] = [];
  const skipped: { file: string; reason: string }[] = [];
  files.forEach((f, n) => {
    const file = toFile(f, n);
    let parsed: ParsedFile;
    try {
      parsed = parsePart10(file);
    } catch (error) {
      if (error instanceof DicomError && error.code === 'NOT_DICOM') {
        skipped.push({ file: file.name, reason: 'not a DICOM Part 10 file' });
        return;
      }
      // A damaged DICOMDIR beside the images does not matter: we never read it.
      if (error instanceof DicomError && isDicomdir(file.bytes)) {
        skipped.push({ file: file.name, reason: 'a DICOMDIR (unreadable)' });
        return;
      }
      throw error;
    }
    const reason = nonImageReason(parsed);
    if (reason) {
      skipped.push({ file: file.name, reason });
      return;
    }
    images.push({
      parsed,
      seriesInstanceUid: requireString(parsed.dataset, 'SeriesInstanceUID', file.name),
    });
  });
  return { images, skipped };
}

const DICOMDIR_CLASS = new TextEncoder().encode('1.2.840.10008.1.3.10');

/** Whether the file meta header names the Media Storage Directory SOP class. */
function isDicomdir(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length - DICOMDIR_CLASS.length, 1024);
  outer: for (let p = 132; p < end; p++) {
    for (let c = 0; c < DICOMDIR_CLASS.length; c++)
      if (bytes[p + c] !== DICOMDIR_CLASS[c]) continue outer;
    const next = bytes[p + DICOMDIR_CLASS.length];
    if (next === undefined || next === 0x2e || (next >= 0x30 && next <= 0x39)) continue; // a longer UID
    return true;
  }
  return false;
}

/** The image series among the files (non-images are left out). */
export function listDicomSeries(files: readonly (Uint8Array | DicomFile)[]): SeriesSummary[] {
  return summarise(parseAll(files).images);
}

function summarise(images: readonly Instance[]): SeriesSummary[] {
  const bySeries = new Map<string, Instance[]>();
  for (const image of images) {
    const list = bySeries.get(image.seriesInstanceUid) ?? [];
    list.push(image);
    bySeries.set(image.seriesInstanceUid, list);
  }
  return [...bySeries.entries()].map(([uid, list]) => {
    const ds = list[0]!.parsed.dataset;
    const summary: SeriesSummary = {
      seriesInstanceUid: uid,
      instances: list.length,
      ...definedFields({
        modality: optionalString(ds, 'Modality'),
        seriesDescription: optionalString(ds, 'SeriesDescription'),
        seriesNumber: optionalNumber(ds, 'SeriesNumber'),
      }),
    };
    return summary;
  });
}

function definedFields<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function describeSeries(s: SeriesSummary): string {
  const what = [
    s.modality,
    s.seriesNumber !== undefined ? `#${s.seriesNumber}` : undefined,
    s.seriesDescription,
  ]
    .filter(Boolean)
    .join(' ');
  return `${s.seriesInstanceUid} (${what || 'no description'}, ${s.instances} instance${s.instances === 1 ? '' : 's'})`;
}

/** One 2-D frame: where it lies, how its values are stored, where its bytes are. */
interface Frame {
  readonly file: string;
  readonly parsed: ParsedFile;
  readonly frameIndex: number;
  readonly numberOfFrames: number;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly rows: number;
  readonly columns: number;
  readonly position: Vec3;
  readonly orientation: readonly [number, number, number, number, number, number];
  readonly pixelSpacing: readonly [number, number];
  readonly sliceThickness: number | undefined;
  readonly slope: number;
  readonly intercept: number;
}

function framesOf(p: ParsedFile): Frame[] {
  const ds = p.dataset;
  const file = p.name;
  const sopClassUid = requireString(ds, 'SOPClassUID', file);
  const sopInstanceUid = requireString(ds, 'SOPInstanceUID', file);
  const rows = requireNumber(ds, 'Rows', file);
  const columns = requireNumber(ds, 'Columns', file);
  const numberOfFrames = optionalNumber(ds, 'NumberOfFrames') ?? 1;
  const base = { file, parsed: p, numberOfFrames, sopClassUid, sopInstanceUid, rows, columns };
  checkPixelDataLength(p, rows * columns * numberOfFrames);
  const perFrame = items(ds, 'PerFrameFunctionalGroupsSequence');
  if (perFrame.length === 0) {
    if (numberOfFrames !== 1) {
      throw new DicomError(
        'UNSUPPORTED_PIXEL_FORMAT',
        `${file}: ${numberOfFrames} frames without PerFrameFunctionalGroupsSequence (5200,9230): only single-frame and Enhanced multi-frame images are supported`,
        file,
      );
    }
    return [
      {
        ...base,
        frameIndex: 0,
        position: requireNumbers(ds, 'ImagePositionPatient', 3, file) as unknown as Vec3,
        orientation: requireNumbers(
          ds,
          'ImageOrientationPatient',
          6,
          file,
        ) as unknown as Frame['orientation'],
        pixelSpacing: requireNumbers(
          ds,
          'PixelSpacing',
          2,
          file,
        ) as unknown as Frame['pixelSpacing'],
        sliceThickness: optionalNumber(ds, 'SliceThickness'),
        slope: optionalNumber(ds, 'RescaleSlope') ?? 1,
        intercept: optionalNumber(ds, 'RescaleIntercept') ?? 0,
      },
    ];
  }
  if (perFrame.length !== numberOfFrames) {
    throw new DicomError(
      'INCONSISTENT_GRID',
      `${file}: NumberOfFrames is ${numberOfFrames} but PerFrameFunctionalGroupsSequence has ${perFrame.length} items`,
      file,
    );
  }
  const shared = item(ds, 'SharedFunctionalGroupsSequence');
  return perFrame.map((pf, f) => {
    // A functional group sits either in the frame's own item or in the shared one.
    const group = (name: string): NaturalDataset | undefined =>
      item(item(pf, name) ? pf : shared, name);
    const where = ` (frame ${f + 1})`;
    const plane = group('PlanePositionSequence');
    const orientation = group('PlaneOrientationSequence');
    const measures = group('PixelMeasuresSequence');
    const transform = group('PixelValueTransformationSequence');
    if (!plane) throw missingGroup(file, 'PlanePositionSequence (0020,9113)', f);
    if (!orientation) throw missingGroup(file, 'PlaneOrientationSequence (0020,9116)', f);
    if (!measures) throw missingGroup(file, 'PixelMeasuresSequence (0028,9110)', f);
    return {
      ...base,
      frameIndex: f,
      position: requireNumbers(plane, 'ImagePositionPatient', 3, file, where) as unknown as Vec3,
      orientation: requireNumbers(
        orientation,
        'ImageOrientationPatient',
        6,
        file,
        where,
      ) as unknown as Frame['orientation'],
      pixelSpacing: requireNumbers(
        measures,
        'PixelSpacing',
        2,
        file,
        where,
      ) as unknown as Frame['pixelSpacing'],
      sliceThickness: optionalNumber(measures, 'SliceThickness'),
      slope:
        (transform && optionalNumber(transform, 'RescaleSlope')) ??
        optionalNumber(ds, 'RescaleSlope') ??
        1,
      intercept:
        (transform && optionalNumber(transform, 'RescaleIntercept')) ??
        optionalNumber(ds, 'RescaleIntercept') ??
        0,
    };
  });
}

/** Catches truncated files before any geometry check can blame something else. */
function checkPixelDataLength(p: ParsedFile, pixels: number): void {
  const syntax = transferSyntax(p.transferSyntaxUid);
  if (!syntax || syntax.encapsulated) return;
  const bitsAllocated = optionalNumber(p.dataset, 'BitsAllocated') ?? 16;
  const need = (pixels * bitsAllocated) / 8;
  const pixelData = p.dataset.PixelData;
  const have = asBytes(Array.isArray(pixelData) ? pixelData[0] : pixelData).byteLength;
  if (have < need) {
    throw new DicomError(
      'TRUNCATED',
      `${p.name} is truncated: PixelData (7FE0,0010) has ${have} bytes, ${need} expected`,
      p.name,
    );
  }
}

function missingGroup(file: string, group: string, frame: number): DicomError {
  return new DicomError(
    'MISSING_TAG',
    `${file}: frame ${frame + 1} has no ${group} (neither per-frame nor shared)`,
    file,
  );
}

const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const unit = (a: Vec3): Vec3 => {
  const n = norm(a);
  return [a[0] / n, a[1] / n, a[2] / n];
};
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

function frameLabel(f: FrameSource): string {
  return f.numberOfFrames > 1 ? `${f.file} frame ${f.frameIndex + 1}` : f.file;
}

/** Slice normals further apart than this are different imaging planes, not a tilt (cos 45°). */
const OTHER_PLANE_COS = Math.SQRT1_2;

function sliceNormal(f: Frame): Vec3 {
  return unit(
    cross(
      unit(f.orientation.slice(0, 3) as unknown as Vec3),
      unit(f.orientation.slice(3, 6) as unknown as Vec3),
    ),
  );
}

/**
 * Leaves out the scouts some scanners file inside the LGE series, each noted in `skipped`: images
 * whose ImageType (0008,0008) says LOCALIZER, and, without that flag, single images in another
 * plane (slice normal over 45° from that of most of the stack). A tilted slice, a different
 * matrix in the same plane, or two stacks of equal size are left for the grid checks to refuse.
 */
function withoutScouts(
  frames: readonly Frame[],
  skipped: { file: string; reason: string }[],
): Frame[] {
  const isLocalizer = (f: Frame): boolean => {
    const imageType = f.parsed.dataset.ImageType;
    const values = Array.isArray(imageType)
      ? imageType.map(String)
      : typeof imageType === 'string'
        ? imageType.split('\\')
        : [];
    return values.some((v) => v.trim().toUpperCase() === 'LOCALIZER');
  };
  // A series of localizers only is read as it is.
  if (frames.every(isLocalizer)) return [...frames];
  let kept = frames.filter((f) => !isLocalizer(f));
  for (const f of frames.filter(isLocalizer)) {
    skipped.push({
      file: frameLabel(f),
      reason: 'a localizer (ImageType LOCALIZER), not part of the stack',
    });
  }
  if (kept.length < 3) return kept;
  const normals = kept.map(sliceNormal);
  const samePlane = (a: Vec3, b: Vec3): boolean => Math.abs(dot(a, b)) >= OTHER_PLANE_COS;
  // The plane most frames share.
  const counts = normals.map((n) => normals.filter((m) => samePlane(n, m)).length);
  const best = counts.indexOf(Math.max(...counts));
  const outside = kept.filter((_, k) => !samePlane(normals[k]!, normals[best]!));
  if (
    outside.length > 0 &&
    outside.length * 2 < kept.length &&
    outside.every((f) => f.numberOfFrames === 1)
  ) {
    for (const f of outside) {
      skipped.push({
        file: frameLabel(f),
        reason: 'an image in another plane than the stack (a scout?), not part of it',
      });
    }
    kept = kept.filter((f) => !outside.includes(f));
  }
  return kept;
}

/**
 * Reads one image series from Part-10 files into a volume. Non-image objects beside the series
 * (DICOMDIR, SR, SEG, stray non-DICOM files) are skipped and listed in `skipped`.
 */
export function readDicomSeries(
  files: readonly (Uint8Array | DicomFile)[],
  options: ReadSeriesOptions = {},
): DicomSeries {
  const parsedAll = parseAll(files);
  const { images } = parsedAll;
  let { skipped } = parsedAll;
  if (images.length === 0) {
    const why = skipped.length
      ? `: ${skipped.map((s) => `${s.file} (${s.reason})`).join(', ')}`
      : '';
    throw new DicomError('NO_IMAGES', `no DICOM image among ${files.length} file(s)${why}`);
  }
  const series = summarise(images);
  let chosen: string;
  if (options.seriesInstanceUid !== undefined) {
    if (!series.some((s) => s.seriesInstanceUid === options.seriesInstanceUid)) {
      throw new DicomError(
        'SERIES_NOT_FOUND',
        `series ${options.seriesInstanceUid} is not among the files; found ${series.map(describeSeries).join('; ')}`,
      );
    }
    chosen = options.seriesInstanceUid;
  } else if (series.length > 1) {
    throw new DicomError(
      'MIXED_SERIES',
      `the files hold ${series.length} series; pick one by SeriesInstanceUID: ${series.map(describeSeries).join('; ')}`,
    );
  } else {
    chosen = series[0]!.seriesInstanceUid;
  }
  const instances = images.filter((i) => i.seriesInstanceUid === chosen);
  skipped = [...skipped];
  const frames = withoutScouts(
    instances.flatMap((i) => framesOf(i.parsed)),
    skipped,
  );
  if (frames.length < 2) {
    throw new DicomError(
      'SINGLE_SLICE',
      `series ${chosen} has a single slice (${frames[0]!.file}); a volume needs at least two`,
      frames[0]!.file,
    );
  }

  // Every frame must share the first one's grid.
  const first = frames[0]!;
  for (const f of frames) {
    if (f.rows !== first.rows || f.columns !== first.columns) {
      throw new DicomError(
        'INCONSISTENT_GRID',
        `${frameLabel(f)} is ${f.rows} rows x ${f.columns} columns but ${frameLabel(first)} is ${first.rows} x ${first.columns}`,
        f.file,
      );
    }
    if (f.orientation.some((c, n) => Math.abs(c - first.orientation[n]!) > ORIENTATION_TOLERANCE)) {
      throw new DicomError(
        'INCONSISTENT_GRID',
        `${frameLabel(f)} has ImageOrientationPatient (0020,0037) ${f.orientation.join('\\')} but ${frameLabel(first)} has ${first.orientation.join('\\')}`,
        f.file,
      );
    }
    if (
      f.pixelSpacing.some(
        (s, n) => Math.abs(s - first.pixelSpacing[n]!) > PIXEL_SPACING_TOLERANCE_MM,
      )
    ) {
      throw new DicomError(
        'INCONSISTENT_GRID',
        `${frameLabel(f)} has PixelSpacing (0028,0030) ${f.pixelSpacing.join('\\')} but ${frameLabel(first)} has ${first.pixelSpacing.join('\\')}`,
        f.file,
      );
    }
  }

  const rowCosines = unit(first.orientation.slice(0, 3) as unknown as Vec3);
  const columnCosines = unit(first.orientation.slice(3, 6) as unknown as Vec3);
  const normal = cross(rowCosines, columnCosines);
  const ordered = frames
    .map((f) => ({ f, along: dot(f.position, normal) }))
    .sort((a, b) => a.along - b.along)
    .map(({ f }) => f);
  for (let k = 1; k < ordered.length; k++) {
    const a = ordered[k - 1]!;
    const b = ordered[k]!;
    if (dot(sub(b.position, a.position), normal) < DUPLICATE_POSITION_MM) {
      throw new DicomError(
        'DUPLICATE_POSITION',
        `${frameLabel(a)} and ${frameLabel(b)} lie at the same slice position ${fmtVec(a.position)} (several acquisitions, echoes or phases in one series?)`,
        b.file,
      );
    }
  }
  const start = ordered[0]!.position;
  const end = ordered[ordered.length - 1]!.position;
  const span = sub(end, start);
  const sliceSpacing = norm(span) / (ordered.length - 1);
  const sliceDirection = unit(span);
  const tolerance = Math.max(
    SLICE_POSITION_TOLERANCE.minimumMm,
    SLICE_POSITION_TOLERANCE.fraction * sliceSpacing,
  );
  ordered.forEach((f, k) => {
    const expected: Vec3 = [
      start[0] + k * sliceSpacing * sliceDirection[0],
      start[1] + k * sliceSpacing * sliceDirection[1],
      start[2] + k * sliceSpacing * sliceDirection[2],
    ];
    const off = norm(sub(f.position, expected));
    if (off > tolerance) {
      const gaps = ordered
        .slice(1)
        .map((g, n) => dot(sub(g.position, ordered[n]!.position), normal).toFixed(3));
      throw new DicomError(
        'IRREGULAR_SPACING',
        `slice positions are not evenly spaced: ${frameLabel(f)} lies ${off.toFixed(3)} mm from its place on a regular ${sliceSpacing.toFixed(3)} mm grid (tolerance ${tolerance.toFixed(3)} mm); gaps along the normal: ${gaps.join(', ')} mm`,
        f.file,
      );
    }
  });

  const geometry = makeGeometry({
    dims: [first.columns, first.rows, ordered.length],
    spacing: [first.pixelSpacing[1], first.pixelSpacing[0], sliceSpacing],
    origin: start,
    direction: [rowCosines, columnCosines, sliceDirection],
  });
  const data = decodeVolume(ordered, options.decoders);
  const ds = first.parsed.dataset;
  const source: SourceSeries = {
    identity: identityOf(ds, first.file),
    seriesInstanceUid: chosen,
    modality: optionalString(ds, 'Modality') ?? 'OT',
    imageOrientation: first.orientation,
    pixelSpacing: first.pixelSpacing,
    slices: ordered.map((f) => ({
      sopClassUid: f.sopClassUid,
      sopInstanceUid: f.sopInstanceUid,
      position: f.position,
      file: f.file,
      ...(f.numberOfFrames > 1 || f.parsed.dataset.PerFrameFunctionalGroupsSequence !== undefined
        ? { frameNumber: f.frameIndex + 1 }
        : {}),
    })),
    geometry,
    acquisition: acquisitionOf(ds),
    ...definedFields({
      seriesNumber: optionalNumber(ds, 'SeriesNumber'),
      seriesDescription: optionalString(ds, 'SeriesDescription'),
      frameOfReferenceUid: optionalString(ds, 'FrameOfReferenceUID'),
      positionReferenceIndicator: optionalString(ds, 'PositionReferenceIndicator'),
      sliceThickness: first.sliceThickness,
    }),
  };
  return { volume: { geometry, data }, source, skipped };
}

/** The pixels of one file, without any geometry: every frame, rescaled, frame after frame. */
export function decodeDicomFrames(
  file: Uint8Array | DicomFile,
  decoders?: FrameDecoders,
): { rows: number; columns: number; frames: number; data: Float32Array } {
  const parsed = parsePart10(toFile(file, 0));
  const ds = parsed.dataset;
  const format = pixelFormatOf(parsed);
  const frames = optionalNumber(ds, 'NumberOfFrames') ?? 1;
  const perFrame = items(ds, 'PerFrameFunctionalGroupsSequence');
  const shared = item(ds, 'SharedFunctionalGroupsSequence');
  const all = { ...BUILT_IN_DECODERS, ...decoders };
  const count = format.rows * format.columns;
  const data = new Float32Array(count * frames);
  for (let f = 0; f < frames; f++) {
    const pf = perFrame[f];
    const transform = item(
      pf && item(pf, 'PixelValueTransformationSequence') ? pf : shared,
      'PixelValueTransformationSequence',
    );
    const slope =
      (transform && optionalNumber(transform, 'RescaleSlope')) ??
      optionalNumber(ds, 'RescaleSlope') ??
      1;
    const intercept =
      (transform && optionalNumber(transform, 'RescaleIntercept')) ??
      optionalNumber(ds, 'RescaleIntercept') ??
      0;
    const bytes = frameBytes(
      { file: parsed.name, parsed, frameIndex: f, numberOfFrames: frames },
      format,
      all,
    );
    storedToFloat(bytes, format, slope, intercept, data, f * count, count);
  }
  return { rows: format.rows, columns: format.columns, frames, data };
}

function identityOf(ds: NaturalDataset, file: string): StudyIdentity {
  return {
    studyInstanceUid: requireString(ds, 'StudyInstanceUID', file),
    ...definedFields({
      patientName: optionalString(ds, 'PatientName'),
      patientId: optionalString(ds, 'PatientID'),
      patientBirthDate: optionalString(ds, 'PatientBirthDate'),
      patientSex: optionalString(ds, 'PatientSex'),
      studyDate: optionalString(ds, 'StudyDate'),
      studyTime: optionalString(ds, 'StudyTime'),
      studyId: optionalString(ds, 'StudyID'),
      accessionNumber: optionalString(ds, 'AccessionNumber'),
      referringPhysicianName: optionalString(ds, 'ReferringPhysicianName'),
      studyDescription: optionalString(ds, 'StudyDescription'),
      specificCharacterSet: Array.isArray(ds.SpecificCharacterSet)
        ? (ds.SpecificCharacterSet as unknown[]).join('\\')
        : optionalString(ds, 'SpecificCharacterSet'),
    }),
  };
}

function fmtVec(v: Vec3): string {
  return `(${v.map((x) => Number(x.toFixed(3))).join(', ')})`;
}

function pixelFormatOf(p: ParsedFile): PixelFormat {
  const ds = p.dataset;
  const file = p.name;
  const samples = optionalNumber(ds, 'SamplesPerPixel') ?? 1;
  if (samples !== 1) {
    throw new DicomError(
      'UNSUPPORTED_PIXEL_FORMAT',
      `${file}: SamplesPerPixel is ${samples}; only grey-scale images are supported`,
      file,
    );
  }
  const bitsAllocated = requireNumber(ds, 'BitsAllocated', file);
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new DicomError(
      'UNSUPPORTED_PIXEL_FORMAT',
      `${file}: BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`,
      file,
    );
  }
  return {
    rows: requireNumber(ds, 'Rows', file),
    columns: requireNumber(ds, 'Columns', file),
    bitsAllocated,
    bitsStored: optionalNumber(ds, 'BitsStored') ?? bitsAllocated,
    signed: (optionalNumber(ds, 'PixelRepresentation') ?? 0) === 1,
  };
}

type FrameSource = Pick<Frame, 'file' | 'parsed' | 'frameIndex' | 'numberOfFrames'>;

/** The stored bytes of one frame, little-endian, uncompressed. */
function frameBytes(f: FrameSource, format: PixelFormat, decoders: FrameDecoders): Uint8Array {
  const { parsed } = f;
  const ts = parsed.transferSyntaxUid;
  const syntax = transferSyntax(ts);
  if (!syntax) throw unsupportedTransferSyntax(ts || '(none)', f.file);
  const length = format.rows * format.columns * (format.bitsAllocated / 8);
  const pixelData = parsed.dataset.PixelData;
  const chunks = (Array.isArray(pixelData) ? pixelData : [pixelData]).map(asBytes);
  if (!syntax.encapsulated) {
    const all = chunks[0] ?? new Uint8Array(0);
    const need = length * f.numberOfFrames;
    if (all.byteLength < need) {
      throw new DicomError(
        'TRUNCATED',
        `${f.file} is truncated: PixelData (7FE0,0010) has ${all.byteLength} bytes, ${need} expected`,
        f.file,
      );
    }
    const bytes = all.subarray(f.frameIndex * length, (f.frameIndex + 1) * length);
    return syntax.bigEndian && format.bitsAllocated > 8
      ? swapBytes(bytes, format.bitsAllocated / 8)
      : bytes;
  }
  const decoder = decoders[ts];
  if (!decoder) throw unsupportedTransferSyntax(ts, f.file);
  let fragment: Uint8Array;
  if (chunks.length === f.numberOfFrames) {
    fragment = chunks[f.frameIndex]!;
  } else if (f.numberOfFrames === 1) {
    fragment = concat(chunks);
  } else {
    throw new DicomError(
      'UNSUPPORTED_PIXEL_FORMAT',
      `${f.file}: ${chunks.length} pixel data fragments for ${f.numberOfFrames} frames`,
      f.file,
    );
  }
  let decoded: Uint8Array;
  try {
    decoded = decoder(fragment, format);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    // A decoder that refuses the format says why (its own code); anything else is bad data.
    throw new DicomError(
      error instanceof DicomError ? error.code : 'TRUNCATED',
      `${frameLabel(f)}: cannot decode its ${syntax.name} pixel data: ${why}`,
      f.file,
    );
  }
  if (decoded.length < length) {
    throw new DicomError(
      'TRUNCATED',
      `${frameLabel(f)}: decoded ${decoded.length} bytes, ${length} expected`,
      f.file,
    );
  }
  return decoded;
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk))
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return new Uint8Array(0);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let b = 0; b < width; b++) out[i + b] = bytes[i + width - 1 - b]!;
  }
  return out;
}

function decodeVolume(ordered: readonly Frame[], extra: FrameDecoders | undefined): Float32Array {
  const decoders = { ...BUILT_IN_DECODERS, ...extra };
  const first = ordered[0]!;
  const perSlice = first.rows * first.columns;
  const out = new Float32Array(perSlice * ordered.length);
  const formats = new Map<ParsedFile, PixelFormat>();
  ordered.forEach((f, k) => {
    let format = formats.get(f.parsed);
    if (!format) {
      format = pixelFormatOf(f.parsed);
      formats.set(f.parsed, format);
    }
    const bytes = frameBytes(f, format, decoders);
    storedToFloat(bytes, format, f.slope, f.intercept, out, k * perSlice, perSlice);
  });
  return out;
}

/** Stored values (little-endian bytes) to rescaled floats, honouring BitsStored and sign. */
function storedToFloat(
  bytes: Uint8Array,
  format: PixelFormat,
  slope: number,
  intercept: number,
  out: Float32Array,
  offset: number,
  count: number,
): void {
  const width = format.bitsAllocated / 8;
  const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  const bits = format.bitsStored;
  const raw =
    width === 1
      ? format.signed
        ? new Int8Array(aligned.buffer, aligned.byteOffset, count)
        : aligned.subarray(0, count)
      : width === 2
        ? format.signed
          ? new Int16Array(aligned.buffer, aligned.byteOffset, count)
          : new Uint16Array(aligned.buffer, aligned.byteOffset, count)
        : format.signed
          ? new Int32Array(aligned.buffer, aligned.byteOffset, count)
          : new Uint32Array(aligned.buffer, aligned.byteOffset, count);
  if (bits >= format.bitsAllocated) {
    if (slope === 1 && intercept === 0) out.set(raw, offset);
    else for (let i = 0; i < count; i++) out[offset + i] = raw[i]! * slope + intercept;
    return;
  }
  // Bits above BitsStored are not part of the value (old overlays live there): mask them off,
  // and sign-extend from the high bit for signed pixels. Kept as separate tight loops: this runs
  // over every voxel of the series.
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  if (!format.signed) {
    for (let i = 0; i < count; i++) out[offset + i] = (raw[i]! & mask) * slope + intercept;
    return;
  }
  const shift = 32 - bits; // sign-extend by shifting the stored high bit into bit 31 and back
  for (let i = 0; i < count; i++)
    out[offset + i] = ((raw[i]! << shift) >> shift) * slope + intercept;
}
