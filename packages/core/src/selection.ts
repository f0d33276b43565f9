/**
 * Which series are LGE: selection rules as configuration, because no single tag says "this is a
 * late gadolinium enhancement scan" and series descriptions vary by vendor and site. Pure: the
 * worker reads a rules file (JSON) and the series' attributes (from QIDO-RS) and records the
 * decision with its reason, a sentence an admin can read.
 */
import { MAX_SLICE_TILT_DEG, slicePlaneName, sliceTiltDeg } from './orientation.js';
import type { Vec3 } from './volume.js';

/** The series attributes the rules look at (a subset of what the PACS reports). */
export interface SelectableSeries {
  readonly modality?: string;
  readonly seriesDescription?: string;
  readonly protocolName?: string;
  readonly sequenceName?: string;
  readonly imageType?: readonly string[];
  readonly inversionTimeMs?: number;
  readonly numberOfInstances?: number;
  readonly manufacturer?: string;
  readonly sopClassUid?: string;
  readonly softwareVersions?: string;
  /** ImageOrientationPatient (0020,0037) of an instance: row then column cosines. */
  readonly imageOrientationPatient?: readonly number[];
}

/** Patterns per text attribute; any match counts. */
export interface FieldPatterns {
  readonly seriesDescription: readonly RegExp[];
  readonly protocolName: readonly RegExp[];
  readonly sequenceName: readonly RegExp[];
}

export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
}

export interface SelectionRules {
  /** Modalities that may hold LGE (normally MR). */
  readonly modalities: readonly string[];
  /** A series is LGE when one of these matches (checked after the excludes). */
  readonly include: FieldPatterns;
  /** A series is not LGE when one of these matches, whatever the includes say. */
  readonly exclude: FieldPatterns;
  readonly imageType: {
    /** Values that must all be present (when the PACS reports ImageType). */
    readonly required: readonly string[];
    /** Values that must not be present, e.g. LOCALIZER or P (phase). */
    readonly forbidden: readonly string[];
  };
  /** Range of instances in the series (single-frame images: one per slice). */
  readonly instanceCount: NumberRange;
  /** Range of inversion times (ms) when the PACS reports one; omit to accept any. */
  readonly inversionTimeMs: NumberRange;
  /**
   * The largest angle (degrees) between the slice normal and the axial direction, checked when
   * the PACS reports ImageOrientationPatient. The pipeline segments axial stacks only (at most
   * 45 degrees: orientation.ts), so a coronal or sagittal LGE stack is skipped with its angle.
   */
  readonly maxSliceTiltDeg: number;
  /** Never selected, whatever else matches: derived and non-image objects. */
  readonly neverModalities: readonly string[];
  readonly neverSopClassUids: readonly string[];
  /** Our own output (a SEG, a report) carries these; it is never processed again. */
  readonly ownObjects: {
    readonly manufacturers: readonly string[];
    readonly softwareVersions: readonly RegExp[];
  };
}

export interface SelectionDecision {
  readonly selected: boolean;
  /** A sentence for the admin, e.g. "skipped: series description 'CINE_SAX' matches exclude pattern /cine/i". */
  readonly reason: string;
}

/** Multi-frame image storage classes: one instance holds every slice, so counts do not apply. */
const MULTI_FRAME_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.4.1', // Enhanced MR Image Storage
  '1.2.840.10008.5.1.4.1.1.4.4', // Legacy Converted Enhanced MR Image Storage
]);

/** Names of LGE acquisitions, as vendors and sites write them in descriptions and protocols. */
const LGE_NAME_PATTERNS = [
  'lge',
  '(^|[^a-z])de([^a-z]|$)',
  '(^|[^a-z])mde([^a-z]|$)',
  'delayed[ _-]?enh',
  'late[ _-]?(gad|gd|enh)',
  'psir',
  'hyper[ _-]?enh',
  'viab',
  'scar',
  'fibros',
];

/** Names of other cardiac MR series (cine, mapping, angiography, ...), never LGE. */
const NON_LGE_NAME_PATTERNS = [
  'cine',
  '(^|[^a-z0-9])t2([^0-9]|$)',
  'locali[sz]',
  'scout',
  'survey',
  '(^|[^a-z])loc([^a-z]|$)',
  '(^|[^a-z])(tof|mra)([^a-z]|$)',
  'angio',
  'perf',
  'first[ _-]?pass',
  't1[ _-]?map',
  'molli',
  'shmolli',
  'sasha',
  'native[ _-]?t1',
  '(^|[^a-z])ecv([^a-z]|$)',
  'flow',
  'phase[ _-]?contrast',
  'venc',
  'haste',
  'mp2?rage',
  'diffusion',
  '(^|[^a-z])dwi([^a-z]|$)',
];

/** The defaults as JSON: the format of a rules file (every key optional there). */
export const DEFAULT_LGE_RULES_JSON = {
  modalities: ['MR'],
  include: {
    seriesDescription: [...LGE_NAME_PATTERNS],
    protocolName: [...LGE_NAME_PATTERNS],
    sequenceName: [],
  },
  exclude: {
    // Secondary captures and reports only ever show up as a description.
    seriesDescription: [...NON_LGE_NAME_PATTERNS, 'screen[ _-]?(save|shot|capture)', 'report'],
    protocolName: [...NON_LGE_NAME_PATTERNS],
    sequenceName: [],
  },
  imageType: {
    required: [],
    forbidden: ['LOCALIZER', 'P', 'PHASE', 'PROJECTION IMAGE', 'SCREEN SAVE'],
  },
  instanceCount: { min: 20, max: 1024 },
  inversionTimeMs: {},
  maxSliceTiltDeg: MAX_SLICE_TILT_DEG,
  neverModalities: ['SEG', 'SR', 'PR', 'KO', 'RTSTRUCT', 'REG', 'DOC', 'OT'],
  neverSopClassUids: [
    '1.2.840.10008.5.1.4.1.1.66.4', // Segmentation Storage
    '1.2.840.10008.5.1.4.1.1.66.7', // Label Map Segmentation Storage
    '1.2.840.10008.5.1.4.1.1.88.22', // Enhanced SR
    '1.2.840.10008.5.1.4.1.1.88.33', // Comprehensive SR
    '1.2.840.10008.5.1.4.1.1.88.34', // Comprehensive 3D SR
    '1.2.840.10008.5.1.4.1.1.11.1', // Grayscale Softcopy Presentation State
    '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture
  ],
  ownObjects: { manufacturers: ['LA Scar'], softwareVersions: ['lascar'] },
} as const;

export class SelectionRulesError extends Error {
  override name = 'SelectionRulesError';
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: Json, field: string): string[] {
  if (!Array.isArray(v))
    throw new SelectionRulesError(`selection rules: ${field} must be a list of strings`);
  return v.map((item, n) => {
    if (typeof item !== 'string') {
      throw new SelectionRulesError(
        `selection rules: ${field}[${n}] must be a string, got ${JSON.stringify(item)}`,
      );
    }
    return item;
  });
}

function patternList(v: Json, field: string): RegExp[] {
  return stringList(v, field).map((source, n) => {
    try {
      return new RegExp(source, 'i');
    } catch (e) {
      throw new SelectionRulesError(
        `selection rules: ${field}[${n}] is not a valid regular expression (${JSON.stringify(source)}): ${(e as Error).message}`,
      );
    }
  });
}

function range(v: Json, field: string): NumberRange {
  if (!isObject(v))
    throw new SelectionRulesError(
      `selection rules: ${field} must be an object like {"min": 20, "max": 400}`,
    );
  checkKeys(v, ['min', 'max'], field);
  const out: { min?: number; max?: number } = {};
  for (const key of ['min', 'max'] as const) {
    const x = v[key];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw new SelectionRulesError(
        `selection rules: ${field}.${key} must be a number >= 0, got ${JSON.stringify(x)}`,
      );
    }
    out[key] = x;
  }
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) {
    throw new SelectionRulesError(
      `selection rules: ${field}.min (${out.min}) is above ${field}.max (${out.max})`,
    );
  }
  return out;
}

function sliceTilt(v: Json): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_SLICE_TILT_DEG) {
    throw new SelectionRulesError(
      `selection rules: maxSliceTiltDeg must be a number of degrees from 0 to ${MAX_SLICE_TILT_DEG} (only axial stacks can be segmented), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function checkKeys(v: Record<string, Json>, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) {
      throw new SelectionRulesError(
        `selection rules: unknown field ${field ? `${field}.` : ''}${key} (expected one of ${allowed.join(', ')})`,
      );
    }
  }
}

const PATTERN_FIELDS = ['seriesDescription', 'protocolName', 'sequenceName'] as const;

function fieldPatterns(v: Json, defaults: FieldPatterns, field: string): FieldPatterns {
  if (v === undefined) return defaults;
  if (!isObject(v))
    throw new SelectionRulesError(
      `selection rules: ${field} must be an object with ${PATTERN_FIELDS.join(', ')}`,
    );
  checkKeys(v, PATTERN_FIELDS, field);
  return {
    seriesDescription:
      v.seriesDescription === undefined
        ? defaults.seriesDescription
        : patternList(v.seriesDescription, `${field}.seriesDescription`),
    protocolName:
      v.protocolName === undefined
        ? defaults.protocolName
        : patternList(v.protocolName, `${field}.protocolName`),
    sequenceName:
      v.sequenceName === undefined
        ? defaults.sequenceName
        : patternList(v.sequenceName, `${field}.sequenceName`),
  };
}

/**
 * Reads a rules object (parsed JSON, or a JSON string). Every field is optional: what is given
 * replaces the default for that field (lists are replaced, not merged). Errors name the field.
 */
export function parseSelectionRules(json: Json, base?: SelectionRules): SelectionRules {
  let v = json;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw new SelectionRulesError(`selection rules: not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(v)) throw new SelectionRulesError('selection rules: expected a JSON object');
  const d = base ?? DEFAULT_LGE_RULES;
  checkKeys(
    v,
    [
      'modalities',
      'include',
      'exclude',
      'imageType',
      'instanceCount',
      'inversionTimeMs',
      'neverModalities',
      'neverSopClassUids',
      'ownObjects',
      'maxSliceTiltDeg',
      '$comment',
    ],
    '',
  );
  const upper = (list: string[]): string[] => list.map((s) => s.trim().toUpperCase());
  let imageType = d.imageType;
  if (v.imageType !== undefined) {
    if (!isObject(v.imageType))
      throw new SelectionRulesError(
        'selection rules: imageType must be an object with required, forbidden',
      );
    checkKeys(v.imageType, ['required', 'forbidden'], 'imageType');
    imageType = {
      required:
        v.imageType.required === undefined
          ? d.imageType.required
          : upper(stringList(v.imageType.required, 'imageType.required')),
      forbidden:
        v.imageType.forbidden === undefined
          ? d.imageType.forbidden
          : upper(stringList(v.imageType.forbidden, 'imageType.forbidden')),
    };
  }
  let ownObjects = d.ownObjects;
  if (v.ownObjects !== undefined) {
    if (!isObject(v.ownObjects))
      throw new SelectionRulesError(
        'selection rules: ownObjects must be an object with manufacturers, softwareVersions',
      );
    checkKeys(v.ownObjects, ['manufacturers', 'softwareVersions'], 'ownObjects');
    ownObjects = {
      manufacturers:
        v.ownObjects.manufacturers === undefined
          ? d.ownObjects.manufacturers
          : stringList(v.ownObjects.manufacturers, 'ownObjects.manufacturers'),
      softwareVersions:
        v.ownObjects.softwareVersions === undefined
          ? d.ownObjects.softwareVersions
          : patternList(v.ownObjects.softwareVersions, 'ownObjects.softwareVersions'),
    };
  }
  const modalities =
    v.modalities === undefined ? d.modalities : upper(stringList(v.modalities, 'modalities'));
  if (modalities.length === 0)
    throw new SelectionRulesError(
      'selection rules: modalities must name at least one modality (e.g. ["MR"])',
    );
  return {
    modalities,
    include: fieldPatterns(v.include, d.include, 'include'),
    exclude: fieldPatterns(v.exclude, d.exclude, 'exclude'),
    imageType,
    instanceCount:
      v.instanceCount === undefined ? d.instanceCount : range(v.instanceCount, 'instanceCount'),
    inversionTimeMs:
      v.inversionTimeMs === undefined
        ? d.inversionTimeMs
        : range(v.inversionTimeMs, 'inversionTimeMs'),
    maxSliceTiltDeg:
      v.maxSliceTiltDeg === undefined ? d.maxSliceTiltDeg : sliceTilt(v.maxSliceTiltDeg),
    neverModalities:
      v.neverModalities === undefined
        ? d.neverModalities
        : upper(stringList(v.neverModalities, 'neverModalities')),
    neverSopClassUids:
      v.neverSopClassUids === undefined
        ? d.neverSopClassUids
        : stringList(v.neverSopClassUids, 'neverSopClassUids'),
    ownObjects,
  };
}

function compileDefaults(): SelectionRules {
  const j = DEFAULT_LGE_RULES_JSON;
  const pats = (p: {
    seriesDescription: readonly string[];
    protocolName: readonly string[];
    sequenceName: readonly string[];
  }): FieldPatterns => ({
    seriesDescription: p.seriesDescription.map((s) => new RegExp(s, 'i')),
    protocolName: p.protocolName.map((s) => new RegExp(s, 'i')),
    sequenceName: p.sequenceName.map((s) => new RegExp(s, 'i')),
  });
  return {
    modalities: [...j.modalities],
    include: pats(j.include),
    exclude: pats(j.exclude),
    imageType: { required: [...j.imageType.required], forbidden: [...j.imageType.forbidden] },
    instanceCount: { ...j.instanceCount },
    inversionTimeMs: { ...j.inversionTimeMs },
    maxSliceTiltDeg: j.maxSliceTiltDeg,
    neverModalities: [...j.neverModalities],
    neverSopClassUids: [...j.neverSopClassUids],
    ownObjects: {
      manufacturers: [...j.ownObjects.manufacturers],
      softwareVersions: j.ownObjects.softwareVersions.map((s) => new RegExp(s, 'i')),
    },
  };
}

/** Rules that pick 3-D (and 2-D) LGE / PSIR / delayed-enhancement series from the usual vendors. */
export const DEFAULT_LGE_RULES: SelectionRules = compileDefaults();

const FIELD_NAMES: Record<(typeof PATTERN_FIELDS)[number], string> = {
  seriesDescription: 'series description',
  protocolName: 'protocol name',
  sequenceName: 'sequence name',
};

function firstMatch(
  series: SelectableSeries,
  patterns: FieldPatterns,
): { field: string; value: string; pattern: RegExp } | undefined {
  for (const f of PATTERN_FIELDS) {
    const value = series[f]?.trim();
    if (!value) continue;
    const pattern = patterns[f].find((p) => p.test(value));
    if (pattern) return { field: FIELD_NAMES[f], value, pattern };
  }
  return undefined;
}

function outside(value: number, r: NumberRange): boolean {
  return (r.min !== undefined && value < r.min) || (r.max !== undefined && value > r.max);
}

function describeRange(r: NumberRange): string {
  if (r.min !== undefined && r.max !== undefined) return `${r.min}-${r.max}`;
  if (r.min !== undefined) return `at least ${r.min}`;
  return `at most ${r.max}`;
}

const skip = (reason: string): SelectionDecision => ({
  selected: false,
  reason: `skipped: ${reason}`,
});

/** Decides whether a series is an LGE series to segment, and says why in one sentence. */
export function selectSeries(
  series: SelectableSeries,
  rules: SelectionRules = DEFAULT_LGE_RULES,
): SelectionDecision {
  const manufacturer = series.manufacturer?.trim();
  if (
    manufacturer &&
    rules.ownObjects.manufacturers.some((m) => m.toLowerCase() === manufacturer.toLowerCase())
  ) {
    return skip(`made by this product (Manufacturer '${manufacturer}'), never processed again`);
  }
  const software = series.softwareVersions?.trim();
  const ownSoftware = software
    ? rules.ownObjects.softwareVersions.find((p) => p.test(software))
    : undefined;
  if (software && ownSoftware) {
    return skip(
      `made by this product (SoftwareVersions '${software}' matches ${ownSoftware}), never processed again`,
    );
  }
  if (series.sopClassUid && rules.neverSopClassUids.includes(series.sopClassUid)) {
    return skip(
      `SOP class ${series.sopClassUid} is a derived or non-image object, never processed`,
    );
  }
  const modality = series.modality?.trim().toUpperCase();
  if (!modality) return skip('the series has no modality');
  if (rules.neverModalities.includes(modality)) {
    return skip(`modality ${modality} is a derived or non-image object, never processed`);
  }
  if (!rules.modalities.includes(modality)) {
    return skip(`modality ${modality} is not one of ${rules.modalities.join(', ')}`);
  }
  const excluded = firstMatch(series, rules.exclude);
  if (excluded) {
    return skip(
      `${excluded.field} '${excluded.value}' matches exclude pattern ${excluded.pattern}`,
    );
  }
  const imageType = (series.imageType ?? []).map((s) => s.trim().toUpperCase());
  if (imageType.length) {
    const forbidden = rules.imageType.forbidden.find((t) => imageType.includes(t));
    if (forbidden) return skip(`image type ${imageType.join('\\')} contains ${forbidden}`);
    const missing = rules.imageType.required.filter((t) => !imageType.includes(t));
    if (missing.length)
      return skip(`image type ${imageType.join('\\')} lacks ${missing.join(', ')}`);
  }
  const orientation = series.imageOrientationPatient;
  if (orientation?.length === 6 && orientation.every(Number.isFinite)) {
    const row = orientation.slice(0, 3) as unknown as Vec3;
    const column = orientation.slice(3, 6) as unknown as Vec3;
    const tilt = sliceTiltDeg(row, column);
    if (tilt > rules.maxSliceTiltDeg + 1e-9) {
      return skip(
        `slice normal ${tilt.toFixed(0)}\u00b0 from axial (${slicePlaneName(row, column)} slices), beyond the accepted ${rules.maxSliceTiltDeg}\u00b0: only axial LGE stacks are supported`,
      );
    }
  }
  const count = series.numberOfInstances;
  const multiFrame =
    series.sopClassUid !== undefined && MULTI_FRAME_SOP_CLASSES.has(series.sopClassUid);
  if (count !== undefined && !multiFrame && outside(count, rules.instanceCount)) {
    return skip(`${count} instance(s), outside the accepted ${describeRange(rules.instanceCount)}`);
  }
  const ti = series.inversionTimeMs;
  if (ti !== undefined && outside(ti, rules.inversionTimeMs)) {
    return skip(
      `inversion time ${ti} ms, outside the accepted ${describeRange(rules.inversionTimeMs)} ms`,
    );
  }
  const included = firstMatch(series, rules.include);
  if (!included) {
    const seen = PATTERN_FIELDS.filter((f) => series[f]?.trim())
      .map((f) => `${FIELD_NAMES[f]} '${series[f]!.trim()}'`)
      .join(', ');
    return skip(
      `no LGE pattern matches ${seen || 'the series (no description, protocol or sequence name)'}`,
    );
  }
  return {
    selected: true,
    reason: `selected: ${included.field} '${included.value}' matches LGE pattern ${included.pattern}`,
  };
}
