import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { dciodvfy } from '../../test-data/dciodvfy.js';
import { dsrdump } from '../../test-data/dsrdump.js';
import { generatePhantom, phantomDicomDescription } from '../phantom/index.js';
import { quantifyStudy, type ScarQuantification } from '../quantify.js';
import { emptyMask } from '../volume.js';
import { writeMrSeries } from './mr-writer.js';
import { SEGMENTATION_STORAGE, segmentationUids, writeSegmentation } from './seg-writer.js';
import type { SegmentationModel } from './seg-writer.js';
import { readDicomSeries, type SourceSeries } from './series.js';
import {
  COMPREHENSIVE_SR_STORAGE,
  measurementReportUids,
  writeMeasurementReport,
  type MeasurementReportInput,
  type ReportVerification,
} from './sr-writer.js';

const MODEL: SegmentationModel = {
  name: 'MSWS-Net + Boundary2Patches',
  version: 'la-0123456789ab.scar-ba9876543210',
};
const NOTICE = 'Models trained on SYNTHETIC phantoms only: NOT for clinical use.';
const AT = new Date('2026-03-01T10:00:00Z');
const SIGNED = new Date('2026-03-02T15:04:05.678Z');

type Natural = Record<string, unknown>;
const seq = (ds: Natural, key: string): Natural[] => {
  const v = ds[key];
  return v === undefined ? [] : ((Array.isArray(v) ? v : [v]) as Natural[]);
};
const read = (bytes: Uint8Array): Natural =>
  dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict,
  );
const codeOf = (c: Natural | undefined): string =>
  c ? `${c.CodingSchemeDesignator as string}:${c.CodeValue as string}` : '(none)';
const nameOf = (item: Natural): string => codeOf(seq(item, 'ConceptNameCodeSequence')[0]);
const valueCodeOf = (item: Natural): string => codeOf(seq(item, 'ConceptCodeSequence')[0]);
const text = (v: unknown): string => (Array.isArray(v) ? String(v[0]) : String(v));

/** The one child of `parent` with this concept name (and value type, when given). */
function child(parent: Natural, name: string, valueType?: string): Natural {
  const found = seq(parent, 'ContentSequence').filter(
    (c) => nameOf(c) === name && (valueType === undefined || c.ValueType === valueType),
  );
  expect(found.map(nameOf), `${name} under ${nameOf(parent)}`).toEqual([name]);
  return found[0]!;
}
const children = (parent: Natural, name: string): Natural[] =>
  seq(parent, 'ContentSequence').filter((c) => nameOf(c) === name);

/** NUM value, its UCUM unit, and the exact float when the DS was not exact. */
function numberOf(item: Natural): { value: number; unit: string } {
  expect(item.ValueType).toBe('NUM');
  const measured = seq(item, 'MeasuredValueSequence')[0]!;
  const fp = measured.FloatingPointValue;
  const value = fp === undefined ? Number(text(measured.NumericValue)) : Number(text(fp));
  return { value, unit: codeOf(seq(measured, 'MeasurementUnitsCodeSequence')[0]) };
}
const segmentsOf = (item: Natural): { sop: string; segments: number[] } => {
  const ref = seq(child(item, 'DCM:121191', 'IMAGE'), 'ReferencedSOPSequence')[0]!;
  const segs = ref.ReferencedSegmentNumber;
  return {
    sop: ref.ReferencedSOPInstanceUID as string,
    segments: (Array.isArray(segs) ? segs : [segs]).map(Number),
  };
};

/** A phantom LGE study written as DICOM and read back, its truth masks, SEG and numbers. */
interface Study {
  source: SourceSeries;
  quantification: ScarQuantification;
  seg: { seriesInstanceUid: string; sopInstanceUid: string };
}
let study: Study;

beforeAll(() => {
  const phantom = generatePhantom(21, { scale: 0.15 });
  const { identity, acquisition } = phantomDicomDescription(phantom.truth, 'sr');
  const source = readDicomSeries(writeMrSeries(phantom.image, identity, acquisition)).source;
  writeSegmentation(source, { la: phantom.la, scar: phantom.scar }, MODEL);
  const { seriesInstanceUid, sopInstanceUid } = segmentationUids(source, MODEL);
  study = {
    source,
    // The phantom's truth: its cavity surface is the wall's inner face (quantify.ts), and on this
    // coarse grid a shell centred on it would hold no voxel centre.
    quantification: quantifyStudy(phantom.la, phantom.scar, { wallInsideMm: 0 }),
    seg: { seriesInstanceUid, sopInstanceUid },
  };
});

function input(
  verification: ReportVerification = { state: 'UNVERIFIED' },
  overrides: Partial<MeasurementReportInput> = {},
): MeasurementReportInput {
  return {
    source: study.source,
    segmentation: study.seg,
    model: MODEL,
    measurements: study.quantification,
    needsReview: true,
    reviewReasons: ['scar burden near a stage boundary', 'LA volume outside 20-250 mL'],
    notice: NOTICE,
    verification,
    ...overrides,
  };
}

const signOff = (dateTime = SIGNED): ReportVerification => ({
  state: 'VERIFIED',
  observerName: 'Curie^Marie',
  organization: 'Phantom University Hospital Cardiology',
  dateTime,
  predecessor: measurementReportUids(study.source, MODEL),
});

/**
 * dciodvfy knows the standard coding schemes only, so it warns once per private code
 * (CodingSchemeDesignator is a defined term; "99" schemes are private by PS3.16 8.2).
 */
const PRIVATE_SCHEME_WARNING =
  'Warning - Unrecognized defined term <99LASCAR> for value 1 of attribute <Coding Scheme Designator>';

/** DCMTK 3.6.7 cannot check the VRs of UTF-8 text; it says so (not a problem of the object). */
const DCMTK_UTF8_NOTE =
  'W: The VR checker does not support this Specific Character Set: ISO_IR 192';

/** dciodvfy and dsrdump both accept the document: no errors, no warnings but the two above. */
function expectValid(bytes: Uint8Array): string {
  const validation = dciodvfy(bytes);
  expect(validation.errors, validation.output).toEqual([]);
  expect(
    validation.warnings.filter((w) => w !== PRIVATE_SCHEME_WARNING),
    validation.output,
  ).toEqual([]);
  const dump = dsrdump(bytes);
  expect(
    dump.problems.filter((p) => p !== DCMTK_UTF8_NOTE),
    dump.text,
  ).toEqual([]);
  expect(dump.status).toBe(0);
  return dump.text;
}

describe('writeMeasurementReport', () => {
  it('UNVERIFIED: passes dciodvfy and dsrdump; reads back to the numbers, codes and references passed in', () => {
    const q = study.quantification;
    expect(q.scarBurdenPercent).not.toBeNull();
    const report = writeMeasurementReport(input(), { createdAt: AT });
    const dump = expectValid(report.bytes);
    expect(dump).toMatch(/Imaging Measurement Report/);
    expect(dump).toMatch(/TID 1500 \(DCMR\)/);

    const ds = read(report.bytes);
    expect(ds.SOPClassUID).toBe(COMPREHENSIVE_SR_STORAGE);
    expect(ds.SOPInstanceUID).toBe(report.sopInstanceUid);
    expect(ds.SeriesInstanceUID).toBe(report.seriesInstanceUid);
    expect({
      sop: report.sopInstanceUid,
      series: report.seriesInstanceUid,
    }).toEqual({
      sop: measurementReportUids(study.source, MODEL).sopInstanceUid,
      series: measurementReportUids(study.source, MODEL).seriesInstanceUid,
    });
    expect(report.seriesInstanceUid).not.toBe(study.seg.seriesInstanceUid);
    expect(ds.Modality).toBe('SR');
    // Patient and study exactly as the source's.
    const id = study.source.identity;
    expect(ds.StudyInstanceUID).toBe(id.studyInstanceUid);
    expect(ds.PatientID).toBe(id.patientId);
    expect(text((ds.PatientName as Natural[])[0]!.Alphabetic)).toBe(id.patientName);
    expect(ds.PatientBirthDate).toBe(id.patientBirthDate);
    expect(ds.AccessionNumber).toBe(id.accessionNumber);
    expect(ds.StudyDate).toBe(id.studyDate);
    expect(ds.CompletionFlag).toBe('COMPLETE');
    expect(ds.VerificationFlag).toBe('UNVERIFIED');
    expect(ds.VerifyingObserverSequence).toBeUndefined();
    expect(ds.PredecessorDocumentsSequence).toBeUndefined();
    expect(codeOf(seq(ds, 'ConceptNameCodeSequence')[0])).toBe('DCM:126000');
    expect(seq(ds, 'ContentTemplateSequence')[0]).toMatchObject({
      MappingResource: 'DCMR',
      TemplateIdentifier: '1500',
    });
    const scheme = seq(ds, 'CodingSchemeIdentificationSequence')[0]!;
    expect(scheme.CodingSchemeDesignator).toBe('99LASCAR');

    // Evidence: every source instance and the SEG, each under its own series.
    const evidence = seq(ds, 'CurrentRequestedProcedureEvidenceSequence')[0]!;
    expect(evidence.StudyInstanceUID).toBe(id.studyInstanceUid);
    const evidenceSeries = new Map(
      seq(evidence, 'ReferencedSeriesSequence').map((s) => [
        s.SeriesInstanceUID as string,
        seq(s, 'ReferencedSOPSequence').map((r) => [
          r.ReferencedSOPInstanceUID as string,
          r.ReferencedSOPClassUID as string,
        ]),
      ]),
    );
    expect(
      new Set(evidenceSeries.get(study.source.seriesInstanceUid)!.map(([uid]) => uid)),
    ).toEqual(new Set(study.source.slices.map((s) => s.sopInstanceUid)));
    expect(evidenceSeries.get(study.seg.seriesInstanceUid)).toEqual([
      [study.seg.sopInstanceUid, SEGMENTATION_STORAGE],
    ]);

    // Root: language, device observer only, procedure reported.
    expect(valueCodeOf(child(ds, 'DCM:121049'))).toBe('RFC5646:en-US');
    expect(children(ds, 'DCM:121005').map(valueCodeOf)).toEqual(['DCM:121007']);
    expect(text(child(ds, 'DCM:121013').TextValue)).toBe(MODEL.name);
    expect(text(child(ds, 'DCM:121015').TextValue)).toBe(`${MODEL.name} ${MODEL.version}`);
    expect(child(ds, 'DCM:121012').UID).toMatch(/^2\.25\.\d+$/);
    expect(children(ds, 'DCM:121008')).toEqual([]);
    expect(valueCodeOf(child(ds, 'DCM:121058'))).toBe('SCT:241620005');

    // Image library: one entry per source instance.
    const library = child(child(ds, 'DCM:111028'), 'DCM:126200');
    expect(child(library, 'DCM:112227').UID).toBe(study.source.frameOfReferenceUid);
    expect(valueCodeOf(child(library, 'DCM:121139'))).toBe('DCM:MR');
    const entries = seq(library, 'ContentSequence').filter((c) => c.ValueType === 'IMAGE');
    expect(
      entries.map((e) => seq(e, 'ReferencedSOPSequence')[0]!.ReferencedSOPInstanceUID),
    ).toEqual(study.source.slices.map((s) => s.sopInstanceUid));

    // The LA measurement group.
    const group = child(child(ds, 'DCM:126010'), 'DCM:125007');
    expect(text(child(group, 'DCM:112039').TextValue)).toBe('Left atrium');
    expect(child(group, 'DCM:112040').UID).toMatch(/^2\.25\.\d+$/);
    expect(valueCodeOf(child(group, 'SCT:363698007'))).toBe('SCT:82471001');
    expect(text(child(group, 'DCM:111001').TextValue)).toBe(MODEL.name);
    expect(text(child(group, 'DCM:111003').TextValue)).toBe(MODEL.version);
    const la = child(group, 'SCT:118565006');
    expect(numberOf(la)).toEqual({ value: q.laVolumeMl, unit: 'UCUM:ml' });
    expect(segmentsOf(la)).toEqual({ sop: study.seg.sopInstanceUid, segments: [1] });
    const scar = child(group, '99LASCAR:SCAR-VOLUME');
    expect(numberOf(scar)).toEqual({ value: q.scarVolumeMl, unit: 'UCUM:ml' });
    expect(segmentsOf(scar)).toEqual({ sop: study.seg.sopInstanceUid, segments: [2] });
    const wall = child(group, '99LASCAR:WALL-VOLUME');
    expect(numberOf(wall)).toEqual({ value: q.wallVolumeMl, unit: 'UCUM:ml' });
    expect(text(child(wall, '99LASCAR:WALL-DEFINITION').TextValue)).toBe(q.wallDefinition);
    const burden = child(group, '99LASCAR:SCAR-BURDEN', 'NUM');
    expect(numberOf(burden)).toEqual({ value: q.scarBurdenPercent, unit: 'UCUM:%' });
    expect(text(child(burden, '99LASCAR:BURDEN-METHOD').TextValue)).toBe(q.burdenMethod);
    expect(segmentsOf(burden).segments).toEqual([1, 2]);
    const utah = q.stages.find((s) => s.scheme === 'Utah')!.stage;
    const decaaf = q.stages.find((s) => s.scheme === 'DECAAF')!.stage;
    const utahItem = child(group, '99LASCAR:UTAH-STAGE');
    expect(valueCodeOf(utahItem)).toBe(`99LASCAR:UTAH-${utah}`);
    expect(seq(utahItem, 'ConceptCodeSequence')[0]!.CodeMeaning).toBe(`Utah stage ${utah}`);
    expect(text(child(utahItem, '99LASCAR:STAGING-SCHEME').TextValue)).toMatch(
      /^Utah stage: I <= 5 %/,
    );
    expect(valueCodeOf(child(group, '99LASCAR:DECAAF-STAGE'))).toBe(`99LASCAR:DECAAF-${decaaf}`);

    // Review flag with its reasons, and the notice.
    const evaluations = child(ds, 'UMLS:C0034375');
    const review = child(evaluations, '99LASCAR:NEEDS-REVIEW');
    expect(valueCodeOf(review)).toBe('SCT:373066001');
    expect(children(review, '99LASCAR:REVIEW-REASON').map((r) => text(r.TextValue))).toEqual([
      'scar burden near a stage boundary',
      'LA volume outside 20-250 mL',
    ]);
    expect(text(child(evaluations, '99LASCAR:NOTICE').TextValue)).toBe(NOTICE);
  });

  it('UNVERIFIED UIDs depend on the source series and model version only (idempotent)', () => {
    const a = writeMeasurementReport(input(), { createdAt: AT });
    const b = writeMeasurementReport(input(), { createdAt: AT });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    const later = writeMeasurementReport(
      input(undefined, { needsReview: false, reviewReasons: [] }),
    );
    expect([later.sopInstanceUid, later.seriesInstanceUid]).toEqual([
      a.sopInstanceUid,
      a.seriesInstanceUid,
    ]);
    const other = writeMeasurementReport(input(undefined, { model: { ...MODEL, version: 'v2' } }));
    expect(other.sopInstanceUid).not.toBe(a.sopInstanceUid);
    expect(other.seriesInstanceUid).not.toBe(a.seriesInstanceUid);
  });

  it('VERIFIED: passes dciodvfy and dsrdump; verifier, person observer and predecessor as passed in', () => {
    const unverified = measurementReportUids(study.source, MODEL);
    const report = writeMeasurementReport(input(signOff()), { createdAt: AT });
    const dump = expectValid(report.bytes);
    expect(dump).toMatch(/Curie\^Marie/);

    const ds = read(report.bytes);
    expect(ds.VerificationFlag).toBe('VERIFIED');
    expect(ds.CompletionFlag).toBe('COMPLETE');
    const verifier = seq(ds, 'VerifyingObserverSequence');
    expect(verifier).toHaveLength(1);
    expect(text((verifier[0]!.VerifyingObserverName as Natural[])[0]!.Alphabetic)).toBe(
      'Curie^Marie',
    );
    expect(verifier[0]!.VerifyingOrganization).toBe('Phantom University Hospital Cardiology');
    expect(verifier[0]!.VerificationDateTime).toBe('20260302150405.678000+0000');
    const predecessor = seq(ds, 'PredecessorDocumentsSequence')[0]!;
    expect(predecessor.StudyInstanceUID).toBe(study.source.identity.studyInstanceUid);
    const predecessorSeries = seq(predecessor, 'ReferencedSeriesSequence')[0]!;
    expect(predecessorSeries.SeriesInstanceUID).toBe(unverified.seriesInstanceUid);
    expect(seq(predecessorSeries, 'ReferencedSOPSequence')[0]).toMatchObject({
      ReferencedSOPClassUID: COMPREHENSIVE_SR_STORAGE,
      ReferencedSOPInstanceUID: unverified.sopInstanceUid,
    });
    // Observer context: the device, then the person who signed.
    expect(children(ds, 'DCM:121005').map(valueCodeOf)).toEqual(['DCM:121007', 'DCM:121006']);
    expect(text((child(ds, 'DCM:121008').PersonName as Natural[])[0]!.Alphabetic)).toBe(
      'Curie^Marie',
    );
    expect(text(child(ds, 'DCM:121009').TextValue)).toBe('Phantom University Hospital Cardiology');
    // Same measurements as the UNVERIFIED one.
    const group = child(child(ds, 'DCM:126010'), 'DCM:125007');
    expect(numberOf(child(group, 'SCT:118565006')).value).toBe(study.quantification.laVolumeMl);

    // UIDs: not the UNVERIFIED one's; one series for all sign-offs; a new instance per sign-off.
    expect(report.sopInstanceUid).not.toBe(unverified.sopInstanceUid);
    expect(report.seriesInstanceUid).not.toBe(unverified.seriesInstanceUid);
    const again = writeMeasurementReport(input(signOff()));
    expect(again.sopInstanceUid).toBe(report.sopInstanceUid);
    const redone = writeMeasurementReport(input(signOff(new Date('2026-03-03T09:00:00Z'))));
    expect(redone.sopInstanceUid).not.toBe(report.sopInstanceUid);
    expect(redone.seriesInstanceUid).toBe(report.seriesInstanceUid);
  });

  it('a null burden (no LA wall): no burden number, a text saying why, no stages; still valid', () => {
    const phantom = generatePhantom(21, { scale: 0.15 });
    const q = quantifyStudy(emptyMask(phantom.la.geometry), phantom.scar);
    expect(q.scarBurdenPercent).toBeNull();
    for (const verification of [{ state: 'UNVERIFIED' } as const, signOff()]) {
      const report = writeMeasurementReport(
        input(verification, { measurements: q, needsReview: false, reviewReasons: [] }),
      );
      expectValid(report.bytes);
      const ds = read(report.bytes);
      const group = child(child(ds, 'DCM:126010'), 'DCM:125007');
      expect(numberOf(child(group, 'SCT:118565006')).value).toBe(0);
      expect(
        seq(group, 'ContentSequence')
          .filter((c) => c.ValueType === 'NUM')
          .map(nameOf),
      ).toEqual(['SCT:118565006', '99LASCAR:SCAR-VOLUME', '99LASCAR:WALL-VOLUME']);
      const burden = child(group, '99LASCAR:SCAR-BURDEN', 'TEXT');
      expect(text(burden.TextValue)).toMatch(/^Not measured: the LA wall is empty/);
      expect(text(child(burden, '99LASCAR:BURDEN-METHOD').TextValue)).toBe(q.burdenMethod);
      expect(children(group, '99LASCAR:UTAH-STAGE')).toEqual([]);
      expect(children(group, '99LASCAR:DECAAF-STAGE')).toEqual([]);
      const review = child(child(ds, 'UMLS:C0034375'), '99LASCAR:NEEDS-REVIEW');
      expect(valueCodeOf(review)).toBe('SCT:373067005');
      expect(seq(review, 'ContentSequence')).toEqual([]);
    }
  });

  it('declares UTF-8 when a value is not ASCII, and the text reads back unchanged', () => {
    const report = writeMeasurementReport(
      input(undefined, { reviewReasons: ['Vorhofvolumen ≥ 250 mL'] }),
    );
    expectValid(report.bytes);
    // pydicom decodes by SpecificCharacterSet at every depth (dcmjs 0.52 does not in sequences).
    const dir = mkdtempSync(join(tmpdir(), 'lascar-sr-'));
    try {
      writeFileSync(join(dir, 'sr.dcm'), report.bytes);
      const run = spawnSync(
        '/usr/bin/python3',
        [
          '-c',
          `import pydicom, sys
ds = pydicom.dcmread(sys.argv[1])
review = [c for c in ds.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue == 'C0034375'][0]
sys.stdout.buffer.write((ds.SpecificCharacterSet + '|' + review.ContentSequence[0].ContentSequence[0].TextValue).encode('utf-8'))`,
          join(dir, 'sr.dcm'),
        ],
        { encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toBe('ISO_IR 192|Vorhofvolumen ≥ 250 mL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses input it cannot report truthfully, with a RangeError that names the problem', () => {
    const q = study.quantification;
    const bad =
      (overrides: Partial<MeasurementReportInput>, verification?: ReportVerification) => () =>
        writeMeasurementReport(input(verification, overrides));
    expect(bad({ measurements: { ...q, laVolumeMl: Number.NaN } })).toThrow(
      new RangeError('LA volume must be a finite number of mL >= 0, got NaN'),
    );
    expect(bad({ measurements: { ...q, scarVolumeMl: -1 } })).toThrow(
      /LA scar volume must be a finite number of mL >= 0, got -1/,
    );
    expect(bad({ measurements: { ...q, wallVolumeMl: Infinity } })).toThrow(RangeError);
    expect(bad({ measurements: { ...q, scarBurdenPercent: 101 } })).toThrow(
      /scar burden must be a percentage in 0..100 or null, got 101/,
    );
    expect(bad({ measurements: { ...q, scarBurdenPercent: null } })).toThrow(
      /stages were given for a null scar burden/,
    );
    expect(
      bad({
        measurements: { ...q, scarBurdenPercent: 1, stages: [{ scheme: 'Utah', stage: 'IV' }] },
      }),
    ).toThrow(/Utah stage IV does not match a burden of 1 % \(stage I\)/);
    expect(bad({ measurements: { ...q, stages: [{ scheme: 'Boston', stage: '1' }] } })).toThrow(
      /unknown staging scheme "Boston"/,
    );
    expect(bad({ notice: ' ' })).toThrow(/notice must be non-empty text/);
    expect(bad({ reviewReasons: ['ok', ''] })).toThrow(/review reason 2 must be non-empty text/);
    expect(bad({ segmentation: { ...study.seg, sopInstanceUid: '1.2.03' } })).toThrow(
      /SEG instance UID is not a valid DICOM UID/,
    );
    const verified = signOff() as Extract<ReportVerification, { state: 'VERIFIED' }>;
    expect(bad({}, { ...verified, observerName: 'Curie\\Marie' })).toThrow(
      /verifying observer name must not contain a backslash/,
    );
    expect(bad({}, { ...verified, organization: '' })).toThrow(
      /verifying organization must be non-empty text/,
    );
    expect(bad({}, { ...verified, dateTime: new Date('not a date') })).toThrow(
      /verification date-time is not a valid date/,
    );
    expect(
      bad({}, { ...verified, predecessor: { seriesInstanceUid: '1.2.3', sopInstanceUid: '' } }),
    ).toThrow(/predecessor instance UID is not a valid DICOM UID/);
  });
});
