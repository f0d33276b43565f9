// Writing Part-10 files with dcmjs from a naturalized dataset, and value formatting that keeps
// within DICOM's VR limits (dcmjs would otherwise truncate a long DS silently).
import dcmjs from 'dcmjs';
import { EXPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax.js';
import type { StudyIdentity } from './series.js';
import { deterministicUid } from './uids.js';

/** This product's identity in every object it writes. */
export const PRODUCT = {
  manufacturer: 'LA Scar',
  manufacturerModelName: 'LA Scar MSWS-Net Boundary2Patches',
  deviceSerialNumber: 'LASCAR-0001',
  softwareVersions: '0.1.0',
  /** DICOM implementation identity (file meta information). */
  implementationClassUid: deterministicUid('LA Scar', 'implementation class'),
  implementationVersionName: 'LASCAR_0_1',
} as const;

/** A decimal string (DS) of at most 16 characters, as precise as that allows. */
export function formatDs(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as a DICOM decimal string`);
  if (Object.is(value, -0) || value === 0) return '0';
  for (let digits = 16; digits >= 1; digits--) {
    const s = String(Number(value.toPrecision(digits)));
    if (s.length <= 16) return s;
  }
  throw new Error(`cannot write ${value} in 16 characters`);
}

/** Clips free text to a VR's maximum length (LO 64, SH 16, LT 10240): better cut than invalid. */
export function clipText(value: string, vr: 'LO' | 'SH' | 'LT' = 'LO'): string {
  const max = vr === 'SH' ? 16 : vr === 'LO' ? 64 : 10240;
  return value.length <= max ? value : value.slice(0, max);
}

/** An integer string (IS). */
export function formatIs(value: number): string {
  if (!Number.isInteger(value)) throw new Error(`IS value must be an integer, got ${value}`);
  return String(value);
}

/** DICOM date (DA) and time (TM) of a JavaScript date, in UTC. */
export function dicomDate(d: Date): string {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
export function dicomTime(d: Date): string {
  return `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}`;
}

/** DICOM date-time (DT) of a JavaScript date in UTC with its offset; six fraction digits keep
 * the length even, so no padding space is read back. */
export function dicomDateTime(d: Date): string {
  return `${dicomDate(d)}${dicomTime(d)}.${String(d.getUTCMilliseconds() * 1000).padStart(6, '0')}+0000`;
}

/** A person name (PN) in dcmjs's model. */
export function personName(name: string | undefined): { Alphabetic: string }[] | string {
  return name ? [{ Alphabetic: name }] : '';
}

/**
 * Writes a naturalized dataset as a Part-10 file in Explicit VR Little Endian. Pixel data, when
 * given, is appended as the last element by hand: dcmjs's growing write buffer would copy a large
 * value several times.
 */
export function writePart10(
  dataset: Record<string, unknown>,
  sopClassUid: string,
  sopInstanceUid: string,
  pixelData?: { readonly vr: 'OB' | 'OW'; readonly bytes: Uint8Array },
): Uint8Array {
  const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: PRODUCT.implementationClassUid,
    ImplementationVersionName: PRODUCT.implementationVersionName,
    _vrMap: {},
  });
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  const head = new Uint8Array(dict.write());
  if (!pixelData) return head;
  const { bytes, vr } = pixelData;
  const padded = bytes.length % 2; // values have even length
  const out = new Uint8Array(head.length + 12 + bytes.length + padded);
  out.set(head);
  const view = new DataView(out.buffer, head.length, 12);
  view.setUint16(0, 0x7fe0, true);
  view.setUint16(2, 0x0010, true);
  view.setUint8(4, vr.charCodeAt(0));
  view.setUint8(5, vr.charCodeAt(1));
  view.setUint16(6, 0, true);
  view.setUint32(8, bytes.length + padded, true);
  out.set(bytes, head.length + 12);
  return out;
}

/**
 * What a derived object (our SEG, our SR) carries over from its source study and says about
 * itself: the Patient, General Study, General Series, General Equipment and SOP Common modules'
 * attributes that both writers share. Each writer adds its own IOD's modules.
 */
export function derivedObjectModules(o: {
  readonly identity: StudyIdentity;
  readonly specificCharacterSet: string | undefined;
  readonly sopClassUid: string;
  readonly uids: { readonly seriesInstanceUid: string; readonly sopInstanceUid: string };
  readonly modality: 'SEG' | 'SR';
  readonly createdAt: Date;
  readonly seriesDescription: string;
  readonly seriesNumber: number;
  readonly modelVersion: string;
}): Record<string, unknown> {
  const id = o.identity;
  const date = dicomDate(o.createdAt);
  const time = dicomTime(o.createdAt);
  return {
    ...(o.specificCharacterSet ? { SpecificCharacterSet: o.specificCharacterSet } : {}),
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    SOPClassUID: o.sopClassUid,
    SOPInstanceUID: o.uids.sopInstanceUid,
    StudyDate: id.studyDate ?? '',
    SeriesDate: date,
    ContentDate: date,
    StudyTime: id.studyTime ?? '',
    SeriesTime: time,
    ContentTime: time,
    AccessionNumber: id.accessionNumber ?? '',
    Modality: o.modality,
    Manufacturer: PRODUCT.manufacturer,
    ReferringPhysicianName: personName(id.referringPhysicianName),
    ...(id.studyDescription ? { StudyDescription: id.studyDescription } : {}),
    SeriesDescription: clipText(o.seriesDescription),
    ManufacturerModelName: PRODUCT.manufacturerModelName,
    PatientName: personName(id.patientName),
    PatientID: id.patientId ?? '',
    PatientBirthDate: id.patientBirthDate ?? '',
    PatientSex: id.patientSex ?? '',
    DeviceSerialNumber: PRODUCT.deviceSerialNumber,
    SoftwareVersions: [PRODUCT.softwareVersions, clipText(o.modelVersion)],
    StudyInstanceUID: id.studyInstanceUid,
    SeriesInstanceUID: o.uids.seriesInstanceUid,
    StudyID: id.studyId ?? '',
    SeriesNumber: formatIs(o.seriesNumber),
    InstanceNumber: '1',
  };
}
