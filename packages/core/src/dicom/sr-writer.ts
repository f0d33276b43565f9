// DICOM Structured Report of one study's LA scar result: a TID 1500 "Imaging Measurement Report"
// in a Comprehensive SR (the SOP class TID 1500 is usually carried in; we need no 3-D
// coordinates), in the source study, in its own series. One TID 1501 measurement group for the
// left atrium holds the volumes, the burden and the stages; the evidence is the source series
// and the SEG. The worker stores it UNVERIFIED beside the SEG; when a cardiologist signs the
// result off the dashboard stores a VERIFIED one whose predecessor is the UNVERIFIED one.
//
// Codes: DCM/SCT/UCUM wherever PS3.16 has the concept. Where it has none (LA scar volume, LA wall
// volume, scar burden, the Utah and DECAAF stages, the burden method, the review flag, the
// notice) the concept is in our private scheme 99LASCAR, declared in
// CodingSchemeIdentificationSequence; each such code is marked "private" below.
import { DECAAF_STAGING, UTAH_STAGING, stageOf, type StagingScheme } from '../quantify.js';
import {
  PRODUCT,
  derivedObjectModules,
  dicomDateTime,
  formatDs,
  personName,
  writePart10,
} from './part10.js';
import { SEGMENTATION_STORAGE, type Code, type SegmentationModel } from './seg-writer.js';
import type { SourceSeries, SourceSlice } from './series.js';
import { deterministicUid, isDicomUid } from './uids.js';

export const COMPREHENSIVE_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.33';

/** Our private coding scheme (PS3.16 8.2: designators starting "99" are private). */
export const LASCAR_CODING_SCHEME = {
  designator: '99LASCAR',
  name: 'LA Scar private codes',
  responsibleOrganization: PRODUCT.manufacturer,
} as const;

const code = (value: string, scheme: string, meaning: string): Code => ({
  CodeValue: value,
  CodingSchemeDesignator: scheme,
  CodeMeaning: meaning,
});
const lascar = (value: string, meaning: string): Code =>
  code(value, LASCAR_CODING_SCHEME.designator, meaning);

/** The concepts this report uses, by where they come from. */
export const REPORT_CODES = {
  // TID 1500 / 1501 / 1600 structure (DCM).
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  language: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  englishUs: code('en-US', 'RFC5646', 'English (United States)'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  cardiacMri: code('241620005', 'SCT', 'Cardiac MRI'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  modality: code('121139', 'DCM', 'Modality'),
  magneticResonance: code('MR', 'DCM', 'Magnetic Resonance'),
  frameOfReferenceUid: code('112227', 'DCM', 'Frame of Reference UID'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  findingSite: code('363698007', 'SCT', 'Finding Site'),
  leftAtrium: code('82471001', 'SCT', 'Left atrium'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  referencedSegment: code('121191', 'DCM', 'Referenced Segment'),
  qualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  // TID 1002-1004 observer context (DCM).
  observerType: code('121005', 'DCM', 'Observer Type'),
  person: code('121006', 'DCM', 'Person'),
  device: code('121007', 'DCM', 'Device'),
  personObserverName: code('121008', 'DCM', 'Person Observer Name'),
  personObserverOrganization: code('121009', 'DCM', "Person Observer's Organization Name"),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  deviceObserverSerialNumber: code('121016', 'DCM', 'Device Observer Serial Number'),
  // Measurements: the LA cavity volume is plain SCT Volume at the group's finding site.
  volume: code('118565006', 'SCT', 'Volume'),
  milliliter: code('ml', 'UCUM', 'milliliter'),
  percent: code('%', 'UCUM', 'Percent'),
  yes: code('373066001', 'SCT', 'Yes'),
  no: code('373067005', 'SCT', 'No'),
  // Private: no PS3.16 concept for these (LA scar and LA wall are not SCT finding sites, and
  // the volume-based scar burden and its stages are not coded anywhere).
  scarVolume: lascar('SCAR-VOLUME', 'LA scar volume'),
  wallVolume: lascar('WALL-VOLUME', 'LA wall volume'),
  scarBurden: lascar('SCAR-BURDEN', 'LA scar burden'),
  burdenMethod: lascar('BURDEN-METHOD', 'Scar burden method'),
  wallDefinition: lascar('WALL-DEFINITION', 'LA wall definition'),
  stagingScheme: lascar('STAGING-SCHEME', 'Staging scheme'),
  needsReview: lascar('NEEDS-REVIEW', 'Needs review'),
  reviewReason: lascar('REVIEW-REASON', 'Review reason'),
  notice: lascar('NOTICE', 'Notice'),
} as const;

/** Private stage codes (no SCT concept for Utah or DECAAF stages). */
const STAGE_CODES: Readonly<Record<string, { scheme: StagingScheme; concept: Code }>> = {
  [UTAH_STAGING.name]: { scheme: UTAH_STAGING, concept: lascar('UTAH-STAGE', 'Utah stage') },
  [DECAAF_STAGING.name]: {
    scheme: DECAAF_STAGING,
    concept: lascar('DECAAF-STAGE', 'DECAAF stage'),
  },
};
const stageValue = (scheme: string, stage: string): Code =>
  lascar(`${scheme.toUpperCase()}-${stage}`, `${scheme} stage ${stage}`);

/** Segment numbers in the SEG written by writeSegmentation. */
const SEGMENT = { la: 1, scar: 2 } as const;

/** A stored DICOM instance this report points at. */
export interface ReferencedInstance {
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
}

/** What the report needs of the source series: a full SourceSeries will do. */
export type ReportSource = Pick<
  SourceSeries,
  'identity' | 'seriesInstanceUid' | 'modality' | 'frameOfReferenceUid'
> & { readonly slices: readonly Pick<SourceSlice, 'sopClassUid' | 'sopInstanceUid'>[] };

/** The numbers and their definitions; a ScarQuantification will do. */
export interface ReportMeasurements {
  readonly laVolumeMl: number;
  readonly scarVolumeMl: number;
  readonly wallVolumeMl: number;
  /** null when there is no wall (no LA found): written as text saying so. */
  readonly scarBurdenPercent: number | null;
  readonly burdenMethod: string;
  readonly wallDefinition: string;
  /** Stages of the burden in named schemes (Utah, DECAAF); empty when the burden is null. */
  readonly stages: readonly { readonly scheme: string; readonly stage: string }[];
}

/** Who vouches for the content: nobody yet, or the cardiologist who signed it off. */
export type ReportVerification =
  | { readonly state: 'UNVERIFIED' }
  | {
      readonly state: 'VERIFIED';
      /** DICOM person name, "Last^First". */
      readonly observerName: string;
      readonly organization: string;
      readonly dateTime: Date;
      /** The report this one supersedes (the UNVERIFIED one, or an earlier sign-off). */
      readonly predecessor: ReferencedInstance;
    };

export interface MeasurementReportInput {
  readonly source: ReportSource;
  /** The SEG written for the same masks (segment 1 LA cavity, segment 2 LA scar). */
  readonly segmentation: ReferencedInstance;
  readonly model: SegmentationModel;
  readonly measurements: ReportMeasurements;
  readonly needsReview: boolean;
  /** Why a person should look; may be empty. */
  readonly reviewReasons: readonly string[];
  /** e.g. "Models trained on SYNTHETIC phantoms only: NOT for clinical use." */
  readonly notice: string;
  readonly verification: ReportVerification;
}

export interface MeasurementReportOptions {
  readonly seriesNumber?: number;
  readonly seriesDescription?: string;
  /** When the report was made (ContentDate/Time, SeriesDate/Time); defaults to now. */
  readonly createdAt?: Date;
  /** The UNVERIFIED report's UIDs, e.g. derived from its content; default measurementReportUids. */
  readonly uids?: { readonly seriesInstanceUid: string; readonly sopInstanceUid: string };
}

export interface WrittenReport {
  readonly bytes: Uint8Array;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/**
 * The UIDs of the UNVERIFIED report of this source and model: the same every time, so that
 * re-processing replaces it in the PACS (as segmentationUids does for the SEG).
 */
export function measurementReportUids(
  source: Pick<SourceSeries, 'seriesInstanceUid'>,
  model: SegmentationModel,
): { seriesInstanceUid: string; sopInstanceUid: string } {
  const base = [source.seriesInstanceUid, 'LA Scar SR', model.name, model.version] as const;
  return {
    seriesInstanceUid: deterministicUid(...base, 'series'),
    sopInstanceUid: deterministicUid(...base, 'instance'),
  };
}

/**
 * The UIDs of a VERIFIED report: one series per source and model for all sign-offs, one
 * instance per sign-off (predecessor, verifier and time to the millisecond). A sign-off redone
 * after a rejection gets a new instance; a retried store of the same sign-off replaces itself.
 */
function verifiedReportUids(
  source: Pick<SourceSeries, 'seriesInstanceUid'>,
  model: SegmentationModel,
  v: Extract<ReportVerification, { state: 'VERIFIED' }>,
): { seriesInstanceUid: string; sopInstanceUid: string } {
  const base = [source.seriesInstanceUid, 'LA Scar SR', model.name, model.version] as const;
  return {
    seriesInstanceUid: deterministicUid(...base, 'verified series'),
    sopInstanceUid: deterministicUid(
      ...base,
      'verified instance',
      v.predecessor.sopInstanceUid,
      v.observerName,
      v.organization,
      v.dateTime.toISOString(),
    ),
  };
}

// ---------------------------------------------------------------- input checks

function checkVolume(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new RangeError(`${name} must be a finite number of mL >= 0, got ${value}`);
}

function checkText(name: string, value: string): void {
  if (typeof value !== 'string' || value.trim() === '')
    throw new RangeError(`${name} must be non-empty text`);
}

/** LO and PN values: no backslash (the value delimiter) or control characters, <= 64 chars. */
function checkShortText(name: string, value: string, max = 64): void {
  checkText(name, value);
  if (value.length > max) throw new RangeError(`${name} must be at most ${max} characters`);
  if (/[\\\u0000-\u001f]/.test(value))
    throw new RangeError(`${name} must not contain a backslash or control characters`);
}

function checkUid(name: string, value: string): void {
  if (typeof value !== 'string' || !isDicomUid(value))
    throw new RangeError(`${name} is not a valid DICOM UID: ${JSON.stringify(value)}`);
}

function checkInput(input: MeasurementReportInput): void {
  const m = input.measurements;
  checkVolume('LA volume', m.laVolumeMl);
  checkVolume('LA scar volume', m.scarVolumeMl);
  checkVolume('LA wall volume', m.wallVolumeMl);
  const burden = m.scarBurdenPercent;
  if (
    burden !== null &&
    (typeof burden !== 'number' || !Number.isFinite(burden) || burden < 0 || burden > 100)
  )
    throw new RangeError(`scar burden must be a percentage in 0..100 or null, got ${burden}`);
  checkText('burden method', m.burdenMethod);
  checkText('wall definition', m.wallDefinition);
  if (burden === null && m.stages.length > 0)
    throw new RangeError('stages were given for a null scar burden');
  for (const s of m.stages) {
    const known = STAGE_CODES[s.scheme];
    if (!known)
      throw new RangeError(
        `unknown staging scheme ${JSON.stringify(s.scheme)} (known: ${Object.keys(STAGE_CODES).join(', ')})`,
      );
    // The stage is a function of the burden: a mismatch is a bug upstream, not a report to sign.
    const expected = stageOf(known.scheme, burden!);
    if (s.stage !== expected)
      throw new RangeError(
        `${s.scheme} stage ${s.stage} does not match a burden of ${burden} % (stage ${expected})`,
      );
  }
  checkText('notice', input.notice);
  if (typeof input.needsReview !== 'boolean')
    throw new RangeError(`needsReview must be true or false, got ${String(input.needsReview)}`);
  input.reviewReasons.forEach((r, n) => checkText(`review reason ${n + 1}`, r));
  checkText('model name', input.model.name);
  checkText('model version', input.model.version);
  checkUid('source series UID', input.source.seriesInstanceUid);
  checkUid('study UID', input.source.identity.studyInstanceUid);
  if (input.source.slices.length === 0)
    throw new RangeError(`source series ${input.source.seriesInstanceUid} lists no instances`);
  checkUid('SEG series UID', input.segmentation.seriesInstanceUid);
  checkUid('SEG instance UID', input.segmentation.sopInstanceUid);
  const v = input.verification;
  if (v.state === 'VERIFIED') {
    checkShortText('verifying observer name', v.observerName);
    checkShortText('verifying organization', v.organization);
    if (!(v.dateTime instanceof Date) || Number.isNaN(v.dateTime.getTime()))
      throw new RangeError('verification date-time is not a valid date');
    checkUid('predecessor series UID', v.predecessor.seriesInstanceUid);
    checkUid('predecessor instance UID', v.predecessor.sopInstanceUid);
  } else if (v.state !== 'UNVERIFIED') {
    throw new RangeError(`verification state must be UNVERIFIED or VERIFIED`);
  }
}

// ---------------------------------------------------------------- content items

type Item = Record<string, unknown>;
type Relationship =
  | 'CONTAINS'
  | 'HAS CONCEPT MOD'
  | 'HAS OBS CONTEXT'
  | 'HAS ACQ CONTEXT'
  | 'HAS PROPERTIES'
  | 'INFERRED FROM';

const withChildren = (item: Item, children: readonly Item[]): Item =>
  children.length ? { ...item, ContentSequence: children } : item;

const container = (rel: Relationship, name: Code, children: readonly Item[]): Item =>
  withChildren(
    {
      RelationshipType: rel,
      ValueType: 'CONTAINER',
      ConceptNameCodeSequence: [name],
      ContinuityOfContent: 'SEPARATE',
    },
    children,
  );

const text = (rel: Relationship, name: Code, value: string, children: Item[] = []): Item =>
  withChildren(
    { RelationshipType: rel, ValueType: 'TEXT', ConceptNameCodeSequence: [name], TextValue: value },
    children,
  );

const coded = (rel: Relationship, name: Code, value: Code, children: Item[] = []): Item =>
  withChildren(
    {
      RelationshipType: rel,
      ValueType: 'CODE',
      ConceptNameCodeSequence: [name],
      ConceptCodeSequence: [value],
    },
    children,
  );

const uidRef = (rel: Relationship, name: Code, uid: string): Item => ({
  RelationshipType: rel,
  ValueType: 'UIDREF',
  ConceptNameCodeSequence: [name],
  UID: uid,
});

const personNameItem = (rel: Relationship, name: Code, value: string): Item => ({
  RelationshipType: rel,
  ValueType: 'PNAME',
  ConceptNameCodeSequence: [name],
  PersonName: personName(value),
});

/** NUM; the float is written too when the 16-character decimal string is not exact. */
const numeric = (
  rel: Relationship,
  name: Code,
  value: number,
  unit: Code,
  children: Item[] = [],
): Item => {
  const ds = formatDs(value);
  return withChildren(
    {
      RelationshipType: rel,
      ValueType: 'NUM',
      ConceptNameCodeSequence: [name],
      MeasuredValueSequence: [
        {
          MeasurementUnitsCodeSequence: [unit],
          NumericValue: ds,
          ...(Number(ds) === value ? {} : { FloatingPointValue: value }),
        },
      ],
    },
    children,
  );
};

const image = (
  rel: Relationship,
  name: Code | undefined,
  sopClassUid: string,
  sopInstanceUid: string,
  segmentNumbers?: readonly number[],
): Item => ({
  RelationshipType: rel,
  ValueType: 'IMAGE',
  ...(name ? { ConceptNameCodeSequence: [name] } : {}),
  ReferencedSOPSequence: [
    {
      ReferencedSOPClassUID: sopClassUid,
      ReferencedSOPInstanceUID: sopInstanceUid,
      ...(segmentNumbers ? { ReferencedSegmentNumber: [...segmentNumbers] } : {}),
    },
  ],
});

/** TID 1002/1004 device observer, and TID 1002/1003 person observer for a sign-off. */
function observerContext(input: MeasurementReportInput): Item[] {
  const { model, verification: v } = input;
  const R = REPORT_CODES;
  const items = [
    coded('HAS OBS CONTEXT', R.observerType, R.device),
    uidRef(
      'HAS OBS CONTEXT',
      R.deviceObserverUid,
      deterministicUid('LA Scar', 'device observer', model.name, model.version),
    ),
    text('HAS OBS CONTEXT', R.deviceObserverName, model.name),
    text('HAS OBS CONTEXT', R.deviceObserverManufacturer, PRODUCT.manufacturer),
    // TID 1004 has no version row: the model name carries the version of the trained weights.
    text('HAS OBS CONTEXT', R.deviceObserverModelName, `${model.name} ${model.version}`),
    text('HAS OBS CONTEXT', R.deviceObserverSerialNumber, PRODUCT.deviceSerialNumber),
  ];
  if (v.state === 'VERIFIED') {
    items.push(
      coded('HAS OBS CONTEXT', R.observerType, R.person),
      personNameItem('HAS OBS CONTEXT', R.personObserverName, v.observerName),
      text('HAS OBS CONTEXT', R.personObserverOrganization, v.organization),
    );
  }
  return items;
}

/** TID 1600: every source instance once, with the group's modality and frame of reference. */
function imageLibrary(source: ReportSource): Item {
  const R = REPORT_CODES;
  const instances = new Map<string, string>();
  for (const s of source.slices) instances.set(s.sopInstanceUid, s.sopClassUid);
  const descriptors = [
    ...(source.modality === 'MR'
      ? [coded('HAS ACQ CONTEXT', R.modality, R.magneticResonance)]
      : []),
    ...(source.frameOfReferenceUid
      ? [uidRef('HAS ACQ CONTEXT', R.frameOfReferenceUid, source.frameOfReferenceUid)]
      : []),
  ];
  return container('CONTAINS', R.imageLibrary, [
    container('CONTAINS', R.imageLibraryGroup, [
      ...descriptors,
      ...[...instances].map(([instance, sopClass]) =>
        image('CONTAINS', undefined, sopClass, instance),
      ),
    ]),
  ]);
}

/** TID 1501 for the left atrium: volumes, burden (or why there is none), stages. */
function leftAtriumGroup(input: MeasurementReportInput): Item {
  const R = REPORT_CODES;
  const { measurements: m, model, source, segmentation } = input;
  const segmentRef = (...segments: number[]): Item =>
    image(
      'INFERRED FROM',
      R.referencedSegment,
      SEGMENTATION_STORAGE,
      segmentation.sopInstanceUid,
      segments,
    );
  const burdenMethod = text('HAS CONCEPT MOD', R.burdenMethod, m.burdenMethod);
  const burden =
    m.scarBurdenPercent === null
      ? text(
          'CONTAINS',
          R.scarBurden,
          'Not measured: the LA wall is empty (no LA cavity was segmented), so the scar burden is undefined.',
          [burdenMethod],
        )
      : numeric('CONTAINS', R.scarBurden, m.scarBurdenPercent, R.percent, [
          burdenMethod,
          segmentRef(SEGMENT.la, SEGMENT.scar),
        ]);
  const stages = m.stages.map((s) => {
    const known = STAGE_CODES[s.scheme]!;
    return coded('CONTAINS', known.concept, stageValue(s.scheme, s.stage), [
      text('HAS CONCEPT MOD', R.stagingScheme, known.scheme.description),
    ]);
  });
  return container('CONTAINS', R.measurementGroup, [
    text('CONTAINS', R.trackingIdentifier, 'Left atrium'),
    uidRef(
      'CONTAINS',
      R.trackingUid,
      // Stable across re-processing and sign-offs, so the LA is tracked as one finding.
      deterministicUid(source.seriesInstanceUid, 'LA Scar SR', 'tracking', 'left atrium'),
    ),
    coded('HAS CONCEPT MOD', R.findingSite, R.leftAtrium),
    // TID 4019 Algorithm Identification.
    text('HAS CONCEPT MOD', R.algorithmName, model.name),
    text('HAS CONCEPT MOD', R.algorithmVersion, model.version),
    numeric('CONTAINS', R.volume, m.laVolumeMl, R.milliliter, [segmentRef(SEGMENT.la)]),
    numeric('CONTAINS', R.scarVolume, m.scarVolumeMl, R.milliliter, [segmentRef(SEGMENT.scar)]),
    numeric('CONTAINS', R.wallVolume, m.wallVolumeMl, R.milliliter, [
      text('HAS CONCEPT MOD', R.wallDefinition, m.wallDefinition),
      segmentRef(SEGMENT.la),
    ]),
    burden,
    ...stages,
  ]);
}

/** TID 1500's report-wide qualitative evaluations: the review flag and the notice. */
function qualitativeEvaluations(input: MeasurementReportInput): Item {
  const R = REPORT_CODES;
  return container('CONTAINS', R.qualitativeEvaluations, [
    coded(
      'CONTAINS',
      R.needsReview,
      input.needsReview ? R.yes : R.no,
      input.reviewReasons.map((r) => text('HAS PROPERTIES', R.reviewReason, r)),
    ),
    text('CONTAINS', R.notice, input.notice),
  ]);
}

/** Hierarchical SOP instance references (study > series > instances). */
function studyReference(
  studyInstanceUid: string,
  series: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Item[] {
  return [
    {
      StudyInstanceUID: studyInstanceUid,
      ReferencedSeriesSequence: [...series].map(([seriesUid, instances]) => ({
        SeriesInstanceUID: seriesUid,
        ReferencedSOPSequence: [...instances].map(([instance, sopClass]) => ({
          ReferencedSOPClassUID: sopClass,
          ReferencedSOPInstanceUID: instance,
        })),
      })),
    },
  ];
}

/**
 * dcmjs writes every text value as UTF-8 whatever SpecificCharacterSet says, so declare UTF-8
 * when any value is not ASCII; otherwise keep the source's declaration.
 */
function characterSet(input: MeasurementReportInput): string | undefined {
  const id = input.source.identity;
  const v = input.verification;
  const values = [
    ...Object.values(id).filter((x): x is string => typeof x === 'string'),
    input.notice,
    ...input.reviewReasons,
    input.measurements.burdenMethod,
    input.measurements.wallDefinition,
    input.model.name,
    input.model.version,
    ...(v.state === 'VERIFIED' ? [v.observerName, v.organization] : []),
  ];
  return values.some((s) => /[^\u0000-\u007f]/.test(s)) ? 'ISO_IR 192' : id.specificCharacterSet;
}

/**
 * Writes the measurement report of one study as a Comprehensive SR (Part-10 bytes). Refuses
 * input it cannot report truthfully (non-finite or negative volumes, a burden outside 0-100 %,
 * stages that do not match the burden, invalid UIDs, an incomplete sign-off) with a RangeError.
 */
export function writeMeasurementReport(
  input: MeasurementReportInput,
  options: MeasurementReportOptions = {},
): WrittenReport {
  checkInput(input);
  const { source, model, verification: v, segmentation } = input;
  const id = source.identity;
  const verified = v.state === 'VERIFIED';
  const uids = verified
    ? verifiedReportUids(source, model, v)
    : (options.uids ?? measurementReportUids(source, model));
  const createdAt = options.createdAt ?? new Date();
  const charset = characterSet(input);

  const sourceInstances = new Map<string, string>();
  for (const s of source.slices) sourceInstances.set(s.sopInstanceUid, s.sopClassUid);
  const evidence = new Map<string, ReadonlyMap<string, string>>([
    [source.seriesInstanceUid, sourceInstances],
    [
      segmentation.seriesInstanceUid,
      new Map([[segmentation.sopInstanceUid, SEGMENTATION_STORAGE]]),
    ],
  ]);

  const R = REPORT_CODES;
  const content = [
    coded('HAS CONCEPT MOD', R.language, R.englishUs),
    ...observerContext(input),
    coded('HAS CONCEPT MOD', R.procedureReported, R.cardiacMri),
    imageLibrary(source),
    container('CONTAINS', R.imagingMeasurements, [leftAtriumGroup(input)]),
    qualitativeEvaluations(input),
  ];

  const dataset: Record<string, unknown> = {
    ...derivedObjectModules({
      identity: id,
      specificCharacterSet: charset,
      sopClassUid: COMPREHENSIVE_SR_STORAGE,
      uids,
      modality: 'SR',
      createdAt,
      // The version is in the content; a PACS list shows the state and the algorithm in full.
      seriesDescription: options.seriesDescription ?? `LA scar report, ${v.state} (${model.name})`,
      seriesNumber: options.seriesNumber ?? (verified ? 9903 : 9902),
      modelVersion: model.version,
    }),
    CodingSchemeIdentificationSequence: [
      {
        // No CodingSchemeUID: it is for registered schemes (dciodvfy flags ours as unknown).
        CodingSchemeDesignator: LASCAR_CODING_SCHEME.designator,
        CodingSchemeName: LASCAR_CODING_SCHEME.name,
        CodingSchemeResponsibleOrganization: LASCAR_CODING_SCHEME.responsibleOrganization,
      },
    ],
    TimezoneOffsetFromUTC: '+0000', // all dates and times here are UTC
    ReferencedPerformedProcedureStepSequence: [],
    // SR Document Content: the root container, TID 1500.
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [R.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    // SR Document General.
    CompletionFlag: 'COMPLETE',
    VerificationFlag: v.state,
    ...(verified
      ? {
          VerifyingObserverSequence: [
            {
              VerifyingObserverName: personName(v.observerName),
              VerifyingObserverIdentificationCodeSequence: [],
              VerifyingOrganization: v.organization,
              VerificationDateTime: dicomDateTime(v.dateTime),
            },
          ],
          PredecessorDocumentsSequence: studyReference(
            id.studyInstanceUid,
            new Map([
              [
                v.predecessor.seriesInstanceUid,
                new Map([[v.predecessor.sopInstanceUid, COMPREHENSIVE_SR_STORAGE]]),
              ],
            ]),
          ),
        }
      : {}),
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: studyReference(id.studyInstanceUid, evidence),
    ContentSequence: content,
  };
  return {
    bytes: writePart10(dataset, COMPREHENSIVE_SR_STORAGE, uids.sopInstanceUid),
    sopInstanceUid: uids.sopInstanceUid,
    seriesInstanceUid: uids.seriesInstanceUid,
  };
}
