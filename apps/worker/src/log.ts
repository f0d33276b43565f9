/**
 * Structured JSON logs (pino). Log study and series UIDs, job keys and timings; never patient
 * data or credentials. Two nets catch what slips in anyway:
 * - pino's `redact` blanks patient fields (as DICOM keywords, as our camelCase names, as DICOM
 *   JSON tags) and secrets wherever they appear as fields;
 * - every string logged (messages, errors, reasons) goes through `sanitizeLogText`: credentials
 *   in URLs, patient attributes written out with their values, DICOM person names (FAMILY^GIVEN),
 *   and the values a job logger knows to be this patient's (`withKnownPhi`).
 */
import type { StudyIdentity } from '@lascar/core';
import { redactDatabaseUrl } from '@lascar/db/config';
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACTED = '[redacted]';

/** Field names that hold patient data, in every spelling a log object may use. */
const PHI_FIELDS = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'AccessionNumber',
  'OtherPatientIDs',
  'OtherPatientNames',
  'PatientAddress',
  'ReferringPhysicianName',
  'patientName',
  'patientId',
  'patientID',
  'patientBirthDate',
  'birthDate',
  'accessionNumber',
  'referringPhysicianName',
  // DICOM JSON tags of the same attributes.
  '00100010',
  '00100020',
  '00100030',
  '00080050',
  '00101000',
  '00101001',
  '00101040',
  '00080090',
];
const SECRET_FIELDS = ['password', 'secret', 'webhookSecret', 'authorization', 'Authorization'];

/**
 * Child-logger bindings are checked here, at the top level and two objects deep (pino's
 * wildcards match one level); objects given to a log call are walked to any depth below.
 */
const REDACT_PATHS = [...PHI_FIELDS, ...SECRET_FIELDS].flatMap((f) => {
  const key = /^\d/.test(f) ? `["${f}"]` : `.${f}`;
  return [key.replace(/^\./, ''), `*${key}`, `*.*${key}`];
});

// A patient attribute named in free text, then its value: "PatientID=123", "PatientName 'A^B'",
// "(0010,0010): A^B", "patient ID: 123".
const NAMED_PHI =
  /\b(patient'?s?[ _]?(?:name|id|birth[ _]?date)|accession[ _]?number|other[ _]?patient[ _]?ids)(\s*[=:]\s*|\s+)('[^']*'|"[^"]*"|[^\s,;)]+)|(\((?:0010,00[123]0|0008,0050)\))(\s*[=:]?\s*)('[^']*'|"[^"]*"|[^\s,;)]+)/gi;
// A DICOM person name: family^given(^middle^prefix^suffix), letters around a caret.
const PERSON_NAME = /\p{L}[\p{L}'’.-]*(?:\^[\p{L}'’. -]*)+/gu;
// A URL (any scheme) and a libpq key-value conninfo password.
const URL_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;
const CONNINFO_PASSWORD = /\b(password\s*=\s*)('[^']*'|[^\s'&]+)/gi;

/** Free text made safe for a log line. `known`: values to remove wherever they appear. */
export function sanitizeLogText(text: string, known: readonly string[] = []): string {
  let out = text.replace(URL_TEXT, (url) => redactDatabaseUrl(url));
  out = out.replace(CONNINFO_PASSWORD, (_, key: string) => `${key}***`);
  out = out.replace(
    NAMED_PHI,
    (_, name?: string, sep?: string, _v?: string, tag?: string, tagSep?: string) =>
      name !== undefined ? `${name}${sep}${REDACTED}` : `${tag}${tagSep}${REDACTED}`,
  );
  out = out.replace(PERSON_NAME, REDACTED);
  for (const value of known) {
    // Very short values (a one-letter sex, "1") would blank unrelated text; they are not identifying.
    if (value.length < 3) continue;
    out = out.replace(new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), REDACTED);
  }
  return out;
}

const SENSITIVE_KEYS = new Set([...PHI_FIELDS, ...SECRET_FIELDS]);

/** Patient and secret fields blanked at any depth, every string sanitised. */
function sanitizeValue(value: unknown, known: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return sanitizeLogText(value, known);
  if (typeof value !== 'object' || value === null) return value;
  // Deeper than any log object of ours: not worth the risk of printing it.
  if (depth >= 8) return '[too deep]';
  if (value instanceof Error) return sanitizeLogText(value.message, known);
  if (Array.isArray(value)) return value.map((v) => sanitizeValue(v, known, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SENSITIVE_KEYS.has(k) ? REDACTED : sanitizeValue(v, known, depth + 1),
    ]),
  );
}

function sanitizing(known: readonly string[]) {
  return {
    formatters: {
      log: <T extends object>(object: T): T => sanitizeValue(object, known, 0) as T,
    },
    serializers: {
      msg: (msg: unknown) => (typeof msg === 'string' ? sanitizeLogText(msg, known) : msg),
    },
  };
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'lascar-worker',
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      ...sanitizing([]),
    },
    destination ?? process.stdout,
  );
}

/**
 * A child logger that also removes this patient's own values (name, ID, birth date, accession
 * number) from everything it logs: free text from a PACS or a file can quote them in any form.
 */
export function withKnownPhi(
  log: Logger,
  identity: Partial<
    Pick<StudyIdentity, 'patientName' | 'patientId' | 'patientBirthDate' | 'accessionNumber'>
  >,
): Logger {
  const known = [
    identity.patientName,
    // A person name also appears without its carets ("DOE JANE") in text built from it.
    identity.patientName?.replace(/\^+/g, ' ').trim(),
    identity.patientId,
    identity.patientBirthDate,
    identity.accessionNumber,
  ].filter((v): v is string => typeof v === 'string' && v.trim().length > 0);
  return known.length ? log.child({}, sanitizing(known)) : log;
}
