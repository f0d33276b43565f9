/** What went wrong with a set of DICOM files, as a code a caller can branch on. */
export type DicomErrorCode =
  | 'NOT_DICOM'
  | 'TRUNCATED'
  | 'NO_IMAGES'
  | 'MIXED_SERIES'
  | 'SERIES_NOT_FOUND'
  | 'MISSING_TAG'
  | 'INCONSISTENT_GRID'
  | 'SINGLE_SLICE'
  | 'DUPLICATE_POSITION'
  | 'IRREGULAR_SPACING'
  | 'UNSUPPORTED_TRANSFER_SYNTAX'
  | 'UNSUPPORTED_PIXEL_FORMAT'
  | 'GRID_MISMATCH'
  | 'INVALID_INPUT';

/** A DICOM input or output problem; `file` names the offending file where there is one. */
export class DicomError extends Error {
  override name = 'DicomError';
  constructor(
    readonly code: DicomErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
  }
}
