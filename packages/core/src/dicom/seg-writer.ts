// DICOM Segmentation (BINARY) of the LA cavity and LA scar on the native source grid: one frame
// per segment per source slice, empty frames kept, exact per-frame plane positions, every source
// instance referenced, deterministic UIDs. Built directly on dcmjs's data model (not its SEG
// derivation, whose normaliser reorders frames) so every attribute is under our control.
import { gridMismatch, type Mask } from '../volume.js';
import { DicomError } from './errors.js';
import {
  clipText,
  derivedObjectModules,
  formatDs,
  formatIs,
  personName,
  writePart10,
} from './part10.js';
import type { SourceSeries } from './series.js';
import { deterministicUid } from './uids.js';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegmentationModel {
  /** Algorithm name as shown in viewers, e.g. "MSWS-Net + Boundary2Patches". */
  readonly name: string;
  /** Model version; part of the UIDs, so a new model gives a new SEG. */
  readonly version: string;
}

export interface SegmentationMasks {
  readonly la: Mask;
  readonly scar: Mask;
}

export interface SegmentationOptions {
  readonly seriesNumber?: number;
  readonly seriesDescription?: string;
  /** When the SEG was made (ContentDate/Time, SeriesDate/Time); defaults to now. */
  readonly createdAt?: Date;
  /** The SEG's UIDs, e.g. derived from its content; default segmentationUids(source, model). */
  readonly uids?: ReturnType<typeof segmentationUids>;
}

/** A coded concept (PS3.3 Code Sequence Macro, basic form). */
export interface Code {
  readonly CodeValue: string;
  readonly CodingSchemeDesignator: string;
  readonly CodeMeaning: string;
}

const code = (value: string, scheme: string, meaning: string): Code => ({
  CodeValue: value,
  CodingSchemeDesignator: scheme,
  CodeMeaning: meaning,
});

export const SEGMENT_CODES = {
  anatomicalStructure: code('91723000', 'SCT', 'Anatomical Structure'),
  leftAtrium: code('82471001', 'SCT', 'Left atrium'),
  morphologicallyAbnormalStructure: code('49755003', 'SCT', 'Morphologically Abnormal Structure'),
  fibrosis: code('263756000', 'SCT', 'Fibrosis'),
  artificialIntelligence: code('123110', 'DCM', 'Artificial Intelligence'),
} as const;

/** sRGB (0-255) to DICOM's scaled CIELab (PS3.3 C.10.7.1.1), D65. */
export function rgbToDicomLab(r: number, g: number, b: number): [number, number, number] {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (841 / 108) * t + 4 / 29);
  const L = 116 * f(Y) - 16;
  const a = 500 * (f(X) - f(Y));
  const bb = 200 * (f(Y) - f(Z));
  return [
    Math.round((L * 65535) / 100),
    Math.round(((a + 128) * 65535) / 255),
    Math.round(((bb + 128) * 65535) / 255),
  ];
}

function segmentItem(
  number: number,
  label: string,
  category: Code,
  type: Code,
  rgb: [number, number, number],
  model: SegmentationModel,
  anatomicRegion?: Code,
): Record<string, unknown> {
  return {
    SegmentNumber: number,
    SegmentLabel: label,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: clipText(model.name),
    SegmentationAlgorithmIdentificationSequence: [
      {
        AlgorithmFamilyCodeSequence: [SEGMENT_CODES.artificialIntelligence],
        AlgorithmName: clipText(model.name),
        AlgorithmVersion: clipText(model.version),
      },
    ],
    SegmentedPropertyCategoryCodeSequence: [category],
    SegmentedPropertyTypeCodeSequence: [type],
    ...(anatomicRegion ? { AnatomicRegionSequence: [anatomicRegion] } : {}),
    RecommendedDisplayCIELabValue: rgbToDicomLab(...rgb),
  };
}

/** The UIDs a SEG of this source and model gets: the same every time (idempotent re-processing). */
export function segmentationUids(
  source: Pick<SourceSeries, 'seriesInstanceUid'>,
  model: SegmentationModel,
): { seriesInstanceUid: string; sopInstanceUid: string; dimensionOrganizationUid: string } {
  const base = [source.seriesInstanceUid, 'LA Scar SEG', model.name, model.version] as const;
  return {
    seriesInstanceUid: deterministicUid(...base, 'series'),
    sopInstanceUid: deterministicUid(...base, 'instance'),
    dimensionOrganizationUid: deterministicUid(...base, 'dimension organization'),
  };
}

/**
 * Packs frames of 0/1 voxels, 1 bit per pixel, least significant bit first, frames back to back
 * without padding between them (PS3.5 8.1.1), as BINARY SEG requires.
 */
export function packBits(frames: readonly Uint8Array[], pixelsPerFrame: number): Uint8Array {
  const totalBits = frames.length * pixelsPerFrame;
  const byteLength = Math.ceil(totalBits / 8);
  const out = new Uint8Array(byteLength + (byteLength % 2)); // even length
  let bit = 0;
  for (const frame of frames) {
    let p = 0;
    // Whole bytes at a time while the frame starts on a byte boundary (the usual case).
    if ((bit & 7) === 0) {
      let o = bit >> 3;
      for (; p + 8 <= pixelsPerFrame; p += 8, o++) {
        out[o] =
          (frame[p] ? 1 : 0) |
          (frame[p + 1] ? 2 : 0) |
          (frame[p + 2] ? 4 : 0) |
          (frame[p + 3] ? 8 : 0) |
          (frame[p + 4] ? 16 : 0) |
          (frame[p + 5] ? 32 : 0) |
          (frame[p + 6] ? 64 : 0) |
          (frame[p + 7] ? 128 : 0);
      }
      bit += p;
    }
    for (; p < pixelsPerFrame; p++, bit++) {
      if (frame[p]) out[bit >> 3]! |= 1 << (bit & 7);
    }
  }
  return out;
}

function checkMask(name: string, mask: Mask, source: SourceSeries): void {
  const mismatch = gridMismatch(mask.geometry, source.geometry);
  if (mismatch) {
    throw new DicomError(
      'GRID_MISMATCH',
      `the ${name} mask is not on the source series' grid (${source.seriesInstanceUid}): ${mismatch}`,
    );
  }
  if (
    mask.data.length !==
    source.geometry.dims[0] * source.geometry.dims[1] * source.geometry.dims[2]
  ) {
    throw new DicomError(
      'GRID_MISMATCH',
      `the ${name} mask has ${mask.data.length} voxels; its grid needs more`,
    );
  }
}

/**
 * Writes the LA cavity (segment 1) and LA scar (segment 2) as one BINARY Segmentation object
 * referencing the source series. Frames run segment by segment, each through every source slice
 * in volume order; empty frames are kept so that every frame maps to its source image.
 */
export function writeSegmentation(
  source: SourceSeries,
  masks: SegmentationMasks,
  model: SegmentationModel,
  options: SegmentationOptions = {},
): Uint8Array {
  checkMask('LA', masks.la, source);
  checkMask('scar', masks.scar, source);
  if (!source.frameOfReferenceUid) {
    throw new DicomError(
      'MISSING_TAG',
      `source series ${source.seriesInstanceUid} has no FrameOfReferenceUID (0020,0052); a SEG needs it`,
    );
  }
  if (source.slices.length !== source.geometry.dims[2]) {
    throw new DicomError(
      'INVALID_INPUT',
      `source lists ${source.slices.length} slices for ${source.geometry.dims[2]}`,
    );
  }
  const [columns, rows, slices] = source.geometry.dims;
  const perFrame = columns * rows;
  const uids = options.uids ?? segmentationUids(source, model);
  const createdAt = options.createdAt ?? new Date();
  const id = source.identity;

  const frames: Uint8Array[] = [];
  const perFrameGroups: Record<string, unknown>[] = [];
  let overlap = false;
  for (let k = 0; k < slices && !overlap; k++) {
    const la = masks.la.data.subarray(k * perFrame, (k + 1) * perFrame);
    const scar = masks.scar.data.subarray(k * perFrame, (k + 1) * perFrame);
    for (let p = 0; p < perFrame; p++) {
      if (la[p] && scar[p]) {
        overlap = true;
        break;
      }
    }
  }
  for (const [segment, mask] of [
    [1, masks.la],
    [2, masks.scar],
  ] as const) {
    for (let k = 0; k < slices; k++) {
      const slice = source.slices[k]!;
      frames.push(mask.data.subarray(k * perFrame, (k + 1) * perFrame));
      perFrameGroups.push({
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: slice.sopClassUid,
                ReferencedSOPInstanceUID: slice.sopInstanceUid,
                ...(slice.frameNumber !== undefined
                  ? { ReferencedFrameNumber: formatIs(slice.frameNumber) }
                  : {}),
                PurposeOfReferenceCodeSequence: [
                  code('121322', 'DCM', 'Source image for image processing operation'),
                ],
              },
            ],
            DerivationCodeSequence: [code('113076', 'DCM', 'Segmentation')],
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: [segment, k + 1] }],
        PlanePositionSequence: [{ ImagePositionPatient: slice.position.map(formatDs) }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segment }],
      });
    }
  }

  const referencedInstances = new Map<string, string>();
  for (const s of source.slices) referencedInstances.set(s.sopInstanceUid, s.sopClassUid);

  const dataset: Record<string, unknown> = {
    ...derivedObjectModules({
      identity: id,
      specificCharacterSet: id.specificCharacterSet,
      sopClassUid: SEGMENTATION_STORAGE,
      uids,
      modality: 'SEG',
      createdAt,
      seriesDescription:
        options.seriesDescription ?? `LA and scar (${model.name} ${model.version})`,
      seriesNumber: options.seriesNumber ?? 9901,
      modelVersion: model.version,
    }),
    ImageType: ['DERIVED', 'PRIMARY'],
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.seriesInstanceUid,
        ReferencedInstanceSequence: [...referencedInstances].map(([instance, sopClass]) => ({
          ReferencedSOPClassUID: sopClass,
          ReferencedSOPInstanceUID: instance,
        })),
      },
    ],
    FrameOfReferenceUID: source.frameOfReferenceUid,
    PositionReferenceIndicator: source.positionReferenceIndicator ?? '',
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: uids.dimensionOrganizationUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: uids.dimensionOrganizationUid,
        DimensionIndexPointer: 0x0062000b, // ReferencedSegmentNumber
        FunctionalGroupPointer: 0x0062000a, // SegmentIdentificationSequence
        DimensionDescriptionLabel: 'Segment',
      },
      {
        DimensionOrganizationUID: uids.dimensionOrganizationUid,
        DimensionIndexPointer: 0x00200032, // ImagePositionPatient
        FunctionalGroupPointer: 0x00209113, // PlanePositionSequence
        DimensionDescriptionLabel: 'Slice position',
      },
    ],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: formatIs(frames.length),
    Rows: rows,
    Columns: columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentsOverlap: overlap ? 'YES' : 'NO',
    ContentLabel: 'LA_SCAR',
    ContentDescription: clipText(
      `LA cavity and post-ablation LA scar, ${model.name} ${model.version}`,
    ),
    ContentCreatorName: personName(undefined),
    SegmentSequence: [
      segmentItem(
        1,
        'Left atrium',
        SEGMENT_CODES.anatomicalStructure,
        SEGMENT_CODES.leftAtrium,
        [80, 140, 230],
        model,
      ),
      segmentItem(
        2,
        'LA scar',
        SEGMENT_CODES.morphologicallyAbnormalStructure,
        SEGMENT_CODES.fibrosis,
        [255, 215, 0],
        model,
        SEGMENT_CODES.leftAtrium,
      ),
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [
          { ImageOrientationPatient: source.imageOrientation.map(formatDs) },
        ],
        PixelMeasuresSequence: [
          {
            PixelSpacing: source.pixelSpacing.map(formatDs),
            SliceThickness: formatDs(source.sliceThickness ?? source.geometry.spacing[2]),
            SpacingBetweenSlices: formatDs(source.geometry.spacing[2]),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrameGroups,
  };
  return writePart10(dataset, SEGMENTATION_STORAGE, uids.sopInstanceUid, {
    vr: 'OB',
    bytes: packBits(frames, perFrame),
  });
}
