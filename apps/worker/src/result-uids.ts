/**
 * UIDs of the SEG and SR the worker stores, derived from their content: the source instances,
 * the mask bytes and the model version (SEG); everything the report says (SR). An identical
 * re-run (a retried or re-delivered job) gets the same UIDs and stores nothing new; a changed
 * series or a different result gets new ones, so an old SEG is never mistaken for the new one.
 */
import { createHash } from 'node:crypto';
import {
  deterministicUid,
  type Mask,
  type SegmentationModel,
  type SourceSeries,
} from '@lascar/core';

type Source = Pick<SourceSeries, 'seriesInstanceUid' | 'slices'>;

export interface SegmentationUids {
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly dimensionOrganizationUid: string;
}

/** SHA-256 (hex) of the sorted source SOP Instance UIDs and both masks' voxels. */
export function segmentationContent(
  source: Source,
  masks: { readonly la: Pick<Mask, 'data'>; readonly scar: Pick<Mask, 'data'> },
): string {
  const h = createHash('sha256');
  h.update([...source.slices.map((s) => s.sopInstanceUid)].sort().join('\n'));
  for (const mask of [masks.la, masks.scar]) {
    h.update(`|${mask.data.length}|`);
    h.update(mask.data);
  }
  return h.digest('hex');
}

export function segmentationContentUids(
  source: Source,
  masks: { readonly la: Pick<Mask, 'data'>; readonly scar: Pick<Mask, 'data'> },
  model: SegmentationModel,
): SegmentationUids {
  const content = segmentationContent(source, masks);
  const base = [source.seriesInstanceUid, 'LA Scar SEG', model.name, model.version, content];
  return {
    seriesInstanceUid: deterministicUid(...base, 'series'),
    sopInstanceUid: deterministicUid(...base, 'instance'),
    dimensionOrganizationUid: deterministicUid(...base, 'dimension organization'),
  };
}

/** The UNVERIFIED report's UIDs from what it says (its JSON, which names the SEG's UIDs). */
export function reportContentUids(
  source: Pick<SourceSeries, 'seriesInstanceUid'>,
  report: object,
  model: SegmentationModel,
): { seriesInstanceUid: string; sopInstanceUid: string } {
  const content = createHash('sha256').update(JSON.stringify(report)).digest('hex');
  const base = [source.seriesInstanceUid, 'LA Scar SR', model.name, model.version, content];
  return {
    seriesInstanceUid: deterministicUid(...base, 'series'),
    sopInstanceUid: deterministicUid(...base, 'instance'),
  };
}
