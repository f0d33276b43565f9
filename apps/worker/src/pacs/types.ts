/**
 * What the worker needs from a PACS, whatever the PACS is (Orthanc or any DICOMweb server).
 * The DICOMweb implementation lives in this folder; the job processor and the discovery loop
 * only see these types, and tests may supply fakes for unit tests (never for integration tests).
 */
import type { DicomFile } from '@lascar/core';

export interface SeriesRef {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/** Series-level attributes used to decide whether a series is LGE (from QIDO-RS or Orthanc). */
export interface SeriesAttributes extends SeriesRef {
  readonly modality?: string;
  readonly seriesDescription?: string;
  readonly protocolName?: string;
  readonly sequenceName?: string;
  /** ImageType values, e.g. ['ORIGINAL', 'PRIMARY', 'M', 'IR']. */
  readonly imageType?: readonly string[];
  readonly inversionTimeMs?: number;
  readonly numberOfInstances?: number;
  readonly manufacturer?: string;
  /** SOP Class UID of the series' instances (a SEG is never selected). */
  readonly sopClassUid?: string;
  /** Our own objects carry this Manufacturer / SoftwareVersions; never re-processed. */
  readonly softwareVersions?: string;
  readonly patientId?: string;
}

/** How a series came to the worker's attention. */
export type DiscoverySource = 'webhook' | 'orthanc-changes' | 'qido-poll' | 'manual';

export interface SeriesCandidate {
  readonly series: SeriesAttributes;
  readonly source: DiscoverySource;
  readonly seenAt: Date;
}

export class PacsUnavailableError extends Error {
  override name = 'PacsUnavailableError';
}

export interface PacsClient {
  /** Succeeds when the PACS answers (for /readyz). */
  ping(): Promise<void>;
  /** Series-level attributes of one series (QIDO-RS, plus instance-level fields where needed). */
  seriesAttributes(ref: SeriesRef): Promise<SeriesAttributes>;
  /** Every instance of a series as Part-10 bytes (WADO-RS, streamed). */
  retrieveSeries(ref: SeriesRef): Promise<DicomFile[]>;
  /** Stores Part-10 instances into a study (STOW-RS). */
  storeInstances(studyInstanceUid: string, instances: readonly Uint8Array[]): Promise<void>;
  /** Series of a study with a given modality (e.g. our SEG), for idempotency checks and tests. */
  searchSeries(filter: Readonly<Record<string, string>>): Promise<SeriesAttributes[]>;
}
