/**
 * What the worker needs from a PACS, whatever the PACS is (Orthanc or any DICOMweb server).
 * The DICOMweb implementation lives in this folder; the job processor and the discovery loop
 * only see these types, and tests may supply fakes for unit tests (never for integration tests).
 */
import type { DicomFile, SelectableSeries } from '@lascar/core';

export interface SeriesRef {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/**
 * Series-level attributes (from QIDO-RS or Orthanc): what the LGE selection rules read
 * (SelectableSeries: modality, description, protocol, sequence, image type, TI, instance count,
 * manufacturer, SOP class, software versions) plus the series' identity.
 */
export interface SeriesAttributes extends SeriesRef, SelectableSeries {
  readonly patientId?: string;
  /** The study's accession number, when the PACS returns it with the series. */
  readonly accessionNumber?: string;
}

/** How a series came to the worker's attention. */
export type DiscoverySource =
  | 'webhook'
  | 'orthanc-changes'
  | 'qido-poll'
  | 'manual'
  /** The worker looking again after a quiet period (a gap failure, a series that changed). */
  | 'recheck';

export interface SeriesCandidate {
  readonly series: SeriesAttributes;
  readonly source: DiscoverySource;
  readonly seenAt: Date;
}

export class PacsUnavailableError extends Error {
  override name = 'PacsUnavailableError';
}

export interface RetrieveOptions {
  /** A transfer syntax UID for the PACS to convert to; absent: as stored (`transfer-syntax=*`). */
  readonly transferSyntax?: string;
}

export interface PacsClient {
  /** Succeeds when the PACS answers (for /readyz). */
  ping(): Promise<void>;
  /** Series-level attributes of one series (QIDO-RS, plus instance-level fields where needed). */
  seriesAttributes(ref: SeriesRef): Promise<SeriesAttributes>;
  /** The SOP Instance UIDs of a series' instances (QIDO-RS), in no particular order. */
  listInstanceUids(ref: SeriesRef): Promise<string[]>;
  /**
   * Every instance of a series as Part-10 bytes (WADO-RS, streamed): as stored, or converted by
   * the PACS to `transferSyntax` when one is given.
   */
  retrieveSeries(ref: SeriesRef, options?: RetrieveOptions): Promise<DicomFile[]>;
  /** Stores Part-10 instances into a study (STOW-RS). */
  storeInstances(studyInstanceUid: string, instances: readonly Uint8Array[]): Promise<void>;
  /** Series of a study with a given modality (e.g. our SEG), for idempotency checks and tests. */
  searchSeries(filter: Readonly<Record<string, string>>): Promise<SeriesAttributes[]>;
}
