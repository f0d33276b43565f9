// Reading one Part-10 file with dcmjs into a naturalized dataset, and typed accessors over it
// that name the missing or malformed tag in their errors.
import dcmjs from 'dcmjs';
import { DicomError } from './errors.js';

// dcmjs logs VR oddities of real-world files through its own logger; those are not ours to print.
dcmjs.log.setLevel('error');
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');

export type NaturalDataset = Record<string, unknown>;

export interface ParsedFile {
  readonly name: string;
  readonly transferSyntaxUid: string;
  readonly dataset: NaturalDataset;
}

/** One file as given by the caller: bytes, optionally with the name errors should use. */
export interface DicomFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export function isPart10(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** Parses a Part-10 file; a file that starts as DICOM but cannot be read through is TRUNCATED. */
export function parsePart10(file: DicomFile): ParsedFile {
  if (!isPart10(file.bytes)) {
    throw new DicomError(
      'NOT_DICOM',
      `${file.name} is not a DICOM Part 10 file (no "DICM" at byte 128)`,
      file.name,
    );
  }
  const { bytes } = file;
  const buffer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : (bytes.slice().buffer as ArrayBuffer);
  let dict;
  try {
    // Stop after the top-level PixelData: some scanners leave megabytes of padding after it.
    dict = dcmjs.data.DicomMessage.readFile(buffer, {
      noCopy: true,
      untilTag: '7FE00010',
      includeUntilTagValue: true,
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new DicomError('TRUNCATED', `${file.name} is truncated or corrupt: ${why}`, file.name);
  }
  const ts = dict.meta['00020010']?.Value?.[0];
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  return { name: file.name, transferSyntaxUid: typeof ts === 'string' ? ts.trim() : '', dataset };
}

const TAGS: Record<string, string> = {
  ImagePositionPatient: '(0020,0032)',
  ImageOrientationPatient: '(0020,0037)',
  PixelSpacing: '(0028,0030)',
  Rows: '(0028,0010)',
  Columns: '(0028,0011)',
  BitsAllocated: '(0028,0100)',
  BitsStored: '(0028,0101)',
  PixelRepresentation: '(0028,0103)',
  SeriesInstanceUID: '(0020,000E)',
  StudyInstanceUID: '(0020,000D)',
  SOPInstanceUID: '(0008,0018)',
  SOPClassUID: '(0008,0016)',
  PixelData: '(7FE0,0010)',
  NumberOfFrames: '(0028,0008)',
  PerFrameFunctionalGroupsSequence: '(5200,9230)',
  FrameOfReferenceUID: '(0020,0052)',
};

export function tagLabel(keyword: string): string {
  return `${keyword} ${TAGS[keyword] ?? ''}`.trim();
}

function missing(file: string, keyword: string, where = ''): DicomError {
  return new DicomError(
    'MISSING_TAG',
    `${file}: missing or empty ${tagLabel(keyword)}${where}`,
    file,
  );
}

function firstValue(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

export function optionalString(ds: NaturalDataset, keyword: string): string | undefined {
  const v = firstValue(ds[keyword]);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') {
    // Person names come as { Alphabetic: ... } in dcmjs's model.
    const alphabetic = (v as { Alphabetic?: unknown }).Alphabetic;
    return typeof alphabetic === 'string' ? alphabetic : undefined;
  }
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

export function requireString(
  ds: NaturalDataset,
  keyword: string,
  file: string,
  where = '',
): string {
  const s = optionalString(ds, keyword);
  if (s === undefined) throw missing(file, keyword, where);
  return s;
}

export function optionalNumber(ds: NaturalDataset, keyword: string): number | undefined {
  const v = firstValue(ds[keyword]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function requireNumber(
  ds: NaturalDataset,
  keyword: string,
  file: string,
  where = '',
): number {
  const n = optionalNumber(ds, keyword);
  if (n === undefined) throw missing(file, keyword, where);
  return n;
}

/** A multi-valued numeric tag with exactly `count` finite values. */
export function requireNumbers(
  ds: NaturalDataset,
  keyword: string,
  count: number,
  file: string,
  where = '',
): number[] {
  const v = ds[keyword];
  const values = (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map((x) =>
    typeof x === 'number' ? x : Number(x),
  );
  if (values.length === 0) throw missing(file, keyword, where);
  if (values.length !== count || !values.every(Number.isFinite)) {
    throw new DicomError(
      'MISSING_TAG',
      `${file}: ${tagLabel(keyword)}${where} must hold ${count} numbers, got "${values.join('\\')}"`,
      file,
    );
  }
  return values;
}

/** The first item of a sequence, or undefined. */
export function item(ds: NaturalDataset | undefined, keyword: string): NaturalDataset | undefined {
  if (!ds) return undefined;
  const v = ds[keyword];
  if (Array.isArray(v)) return v[0] as NaturalDataset | undefined;
  if (v && typeof v === 'object') return v as NaturalDataset;
  return undefined;
}

export function items(ds: NaturalDataset, keyword: string): NaturalDataset[] {
  const v = ds[keyword];
  if (Array.isArray(v)) return v as NaturalDataset[];
  return v && typeof v === 'object' ? [v as NaturalDataset] : [];
}
