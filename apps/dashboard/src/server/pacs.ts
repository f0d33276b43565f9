import 'server-only';
/** The PACS the dashboard stores signed reports into (the worker's DICOMweb client, shared). */
import { DicomWebPacsClient, type PacsClient } from '@lascar/pacs';
import { config } from './config';

let client: PacsClient | undefined;

/** The configured PACS, or undefined when LASCAR_PACS_URL is not set. */
export function pacs(): PacsClient | undefined {
  const c = config().pacs;
  if (!c) return undefined;
  client ??= new DicomWebPacsClient(c);
  return client;
}

/** The study (and its SEG) in the hospital's viewer, from LASCAR_VIEWER_URL_TEMPLATE. */
export function viewerUrl(studyInstanceUid: string, segSeriesInstanceUid?: string | null): string {
  return config()
    .viewerUrlTemplate.replaceAll('{StudyInstanceUID}', encodeURIComponent(studyInstanceUid))
    .replaceAll('{SeriesInstanceUID}', encodeURIComponent(segSeriesInstanceUid ?? ''));
}
