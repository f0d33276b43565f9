// A volume as an MR Image Storage series: one single-frame instance per slice, 16-bit, Explicit
// VR Little Endian, with the geometry written exactly and LGE acquisition identification. Used
// for synthetic LGE studies (phantoms) and tests; the reader (series.ts) inverts it.
import { voxelToPatient, type Vec3, type Volume, type VoxelArray } from '../volume.js';
import { DicomError } from './errors.js';
import {
  PRODUCT,
  clipText,
  dicomDate,
  dicomTime,
  formatDs,
  formatIs,
  personName,
  writePart10,
} from './part10.js';
import type { StudyIdentity } from './series.js';
import { deterministicUid } from './uids.js';

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** How the series was (or claims to have been) acquired. Defaults describe a 3-D LGE scan. */
export interface MrAcquisition {
  readonly seriesInstanceUid?: string;
  readonly frameOfReferenceUid?: string;
  readonly seriesNumber?: number;
  readonly seriesDescription?: string;
  readonly protocolName?: string;
  readonly sequenceName?: string;
  readonly inversionTimeMs?: number;
  readonly repetitionTimeMs?: number;
  readonly echoTimeMs?: number;
  readonly flipAngleDeg?: number;
  readonly magneticFieldStrengthT?: number;
  readonly triggerTimeMs?: number;
  /** Slice thickness (mm); defaults to the slice spacing. */
  readonly sliceThicknessMm?: number;
  readonly manufacturer?: string;
  readonly manufacturerModelName?: string;
  readonly institutionName?: string;
  /** Series date and time; defaults to the study's. */
  readonly seriesDate?: string;
  readonly seriesTime?: string;
}

export const LGE_ACQUISITION_DEFAULTS = {
  seriesNumber: 10,
  seriesDescription: 'LGE 3D PSIR-free IR navigator',
  protocolName: 'LGE_3D_LA',
  sequenceName: '*tfl3d1_ns',
  inversionTimeMs: 300,
  repetitionTimeMs: 3.5,
  echoTimeMs: 1.5,
  flipAngleDeg: 20,
  magneticFieldStrengthT: 1.5,
  triggerTimeMs: 400,
} as const;

/** How stored 16-bit values map to the volume's values. */
interface Encoding {
  readonly signed: boolean;
  readonly bitsStored: number;
  readonly slope: number;
  readonly intercept: number;
}

/**
 * Integers that fit 16 bits are stored as they are (the round trip is exact); anything else is
 * scaled linearly onto 0..65535 with RescaleSlope/Intercept (exact to the slope's resolution).
 */
function chooseEncoding(data: VoxelArray): Encoding {
  let min = Infinity;
  let max = -Infinity;
  let fraction = 0; // sum of fractional parts: 0 for integers, NaN once a value is not finite
  for (let n = 0; n < data.length; n++) {
    const v = data[n]!;
    if (v < min) min = v;
    if (v > max) max = v;
    fraction += v - Math.floor(v);
  }
  if (Number.isNaN(fraction) || !Number.isFinite(min) || !Number.isFinite(max)) {
    const bad = data.findIndex((v) => !Number.isFinite(v));
    throw new DicomError(
      'INVALID_INPUT',
      `voxel ${bad} is ${data[bad]}; MR images need finite values`,
    );
  }
  const integral = fraction === 0;
  if (integral && min >= 0 && max <= 65535) {
    const bitsStored = max < 4096 ? 12 : 16;
    return { signed: false, bitsStored, slope: 1, intercept: 0 };
  }
  if (integral && min >= -32768 && max <= 32767)
    return { signed: true, bitsStored: 16, slope: 1, intercept: 0 };
  // Round the slope and intercept to what DS can hold first, then quantise with those numbers.
  const intercept = Number(formatDs(min));
  const slope = Number(formatDs(max > min ? (max - intercept) / 65535 : 1)) || 1;
  return { signed: false, bitsStored: 16, slope, intercept };
}

function encodeSlice(data: VoxelArray, offset: number, count: number, e: Encoding): ArrayBuffer {
  const out = e.signed ? new Int16Array(count) : new Uint16Array(count);
  if (e.slope === 1 && e.intercept === 0) {
    // Integers already known to fit: a typed-array copy converts them exactly.
    out.set(data.subarray(offset, offset + count));
    return out.buffer;
  }
  const top = e.signed ? 32767 : 65535;
  const bottom = e.signed ? -32768 : 0;
  for (let n = 0; n < count; n++) {
    const stored = Math.round((data[offset + n]! - e.intercept) / e.slope);
    out[n] = Math.min(top, Math.max(bottom, stored));
  }
  return out.buffer;
}

const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** One MR Image Storage instance per slice of `volume`, in slice order. */
export function writeMrSeries(
  volume: Volume<VoxelArray>,
  identity: StudyIdentity,
  acquisition: MrAcquisition = {},
): Uint8Array[] {
  const a = { ...LGE_ACQUISITION_DEFAULTS, ...acquisition };
  const g = volume.geometry;
  const [nx, ny, nz] = g.dims;
  if (volume.data.length !== nx * ny * nz) {
    throw new DicomError(
      'INVALID_INPUT',
      `volume has ${volume.data.length} voxels, its grid needs ${nx * ny * nz}`,
    );
  }
  if (nx > 65535 || ny > 65535)
    throw new DicomError(
      'INVALID_INPUT',
      `slices of ${nx} x ${ny} exceed DICOM's 65535 rows/columns`,
    );
  const studyUid = identity.studyInstanceUid;
  const seriesUid =
    a.seriesInstanceUid ?? deterministicUid(studyUid, 'mr series', String(a.seriesNumber));
  const frameOfReferenceUid =
    a.frameOfReferenceUid ?? deterministicUid(studyUid, 'frame of reference');
  const encoding = chooseEncoding(volume.data);
  const normal = cross(g.direction[0], g.direction[1]);
  const sliceThickness = a.sliceThicknessMm ?? g.spacing[2];
  const studyDate = identity.studyDate ?? '';
  const studyTime = identity.studyTime ?? '';
  const seriesDate = a.seriesDate ?? (identity.studyDate || dicomDate(new Date(0)));
  const seriesTime = a.seriesTime ?? (identity.studyTime || dicomTime(new Date(0)));
  const bitsStored = encoding.bitsStored;

  const common: Record<string, unknown> = {
    ...(identity.specificCharacterSet
      ? { SpecificCharacterSet: identity.specificCharacterSet }
      : {}),
    ImageType: ['ORIGINAL', 'PRIMARY', 'OTHER'],
    SOPClassUID: MR_IMAGE_STORAGE,
    StudyDate: studyDate,
    SeriesDate: seriesDate,
    AcquisitionDate: seriesDate,
    ContentDate: seriesDate,
    StudyTime: studyTime,
    SeriesTime: seriesTime,
    AcquisitionTime: seriesTime,
    ContentTime: seriesTime,
    AccessionNumber: identity.accessionNumber ?? '',
    Modality: 'MR',
    Manufacturer: a.manufacturer ?? PRODUCT.manufacturer,
    ...(a.institutionName ? { InstitutionName: clipText(a.institutionName) } : {}),
    ReferringPhysicianName: personName(identity.referringPhysicianName),
    ...(identity.studyDescription ? { StudyDescription: identity.studyDescription } : {}),
    SeriesDescription: clipText(a.seriesDescription),
    ManufacturerModelName: a.manufacturerModelName ?? PRODUCT.manufacturerModelName,
    PatientName: personName(identity.patientName),
    PatientID: identity.patientId ?? '',
    PatientBirthDate: identity.patientBirthDate ?? '',
    PatientSex: identity.patientSex ?? '',
    BodyPartExamined: 'HEART',
    ScanningSequence: ['GR', 'IR'],
    SequenceVariant: ['SP', 'MP'],
    ScanOptions: 'CG', // ECG-gated, so TriggerTime belongs
    MRAcquisitionType: '3D',
    SequenceName: clipText(a.sequenceName, 'SH'),
    AngioFlag: 'N',
    SliceThickness: formatDs(sliceThickness),
    RepetitionTime: formatDs(a.repetitionTimeMs),
    EchoTime: formatDs(a.echoTimeMs),
    InversionTime: formatDs(a.inversionTimeMs),
    NumberOfAverages: '1',
    ImagingFrequency: formatDs(42.577478 * a.magneticFieldStrengthT),
    ImagedNucleus: '1H',
    EchoNumbers: '1',
    MagneticFieldStrength: formatDs(a.magneticFieldStrengthT),
    SpacingBetweenSlices: formatDs(g.spacing[2]),
    EchoTrainLength: '1',
    ProtocolName: clipText(a.protocolName),
    TriggerTime: formatDs(a.triggerTimeMs),
    FlipAngle: formatDs(a.flipAngleDeg),
    PatientPosition: 'HFS',
    StudyInstanceUID: studyUid,
    SeriesInstanceUID: seriesUid,
    StudyID: identity.studyId ?? '',
    SeriesNumber: formatIs(a.seriesNumber),
    AcquisitionNumber: '1',
    ImageOrientationPatient: [...g.direction[0], ...g.direction[1]].map(formatDs),
    FrameOfReferenceUID: frameOfReferenceUid,
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    PixelSpacing: [formatDs(g.spacing[1]), formatDs(g.spacing[0])],
    BitsAllocated: 16,
    BitsStored: bitsStored,
    HighBit: bitsStored - 1,
    PixelRepresentation: encoding.signed ? 1 : 0,
    ...(encoding.slope !== 1 || encoding.intercept !== 0
      ? {
          RescaleIntercept: formatDs(encoding.intercept),
          RescaleSlope: formatDs(encoding.slope),
          RescaleType: 'US',
        }
      : {}),
  };

  const files: Uint8Array[] = [];
  for (let k = 0; k < nz; k++) {
    const sopInstanceUid = deterministicUid(seriesUid, 'mr instance', String(k + 1));
    const position = voxelToPatient(g, 0, 0, k);
    const dataset: Record<string, unknown> = {
      ...common,
      SOPInstanceUID: sopInstanceUid,
      InstanceNumber: formatIs(k + 1),
      ImagePositionPatient: position.map(formatDs),
      SliceLocation: formatDs(dot(position, normal)),
    };
    const pixels = new Uint8Array(encodeSlice(volume.data, k * nx * ny, nx * ny, encoding));
    files.push(writePart10(dataset, MR_IMAGE_STORAGE, sopInstanceUid, { vr: 'OW', bytes: pixels }));
  }
  return files;
}
