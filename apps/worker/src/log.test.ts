import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from './config.js';
import { createLogger, sanitizeLogText, withKnownPhi } from './log.js';

/** A logger whose lines are kept, parsed, for the test to read. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger('debug', sink), text: () => lines.join('\n'), lines };
}

const PATIENT = {
  patientName: 'Doe^Jane^Q',
  patientId: 'PID-4711-XQ',
  patientBirthDate: '19580214',
  accessionNumber: 'ACC-99321',
};
const DATABASE_PASSWORDS = ['pw-empty-user', 'pw-with-user', 'pw-in-query', 'pw-conninfo'];
const STUDY_UID = '2.25.123456789';

describe('worker logs', () => {
  it('carry no patient field, in any spelling or depth', () => {
    const { log, text, lines } = capture();
    log.info(
      {
        studyInstanceUid: STUDY_UID,
        PatientName: PATIENT.patientName,
        PatientID: PATIENT.patientId,
        PatientBirthDate: PATIENT.patientBirthDate,
        AccessionNumber: PATIENT.accessionNumber,
      },
      'DICOM keywords',
    );
    log.info({ identity: { ...PATIENT, studyInstanceUid: STUDY_UID } }, 'one level down');
    log.info({ job: { source: { identity: PATIENT } } }, 'two levels down');
    log.warn(
      {
        dataset: {
          '00100010': { vr: 'PN', Value: [{ Alphabetic: PATIENT.patientName }] },
          '00100020': { vr: 'LO', Value: [PATIENT.patientId] },
          '00100030': { vr: 'DA', Value: [PATIENT.patientBirthDate] },
          '00080050': { vr: 'SH', Value: [PATIENT.accessionNumber] },
        },
      },
      'DICOM JSON',
    );
    log.child({ patientId: PATIENT.patientId }).info('bound to a child');
    for (const value of Object.values(PATIENT)) expect(text()).not.toContain(value);
    expect(text()).not.toContain('Doe');
    // What is not patient data stays readable.
    expect(JSON.parse(lines[0]!)).toMatchObject({
      studyInstanceUid: STUDY_UID,
      PatientName: '[redacted]',
      msg: 'DICOM keywords',
    });
  });

  it('carry no patient data quoted in free text: reasons, errors, messages', () => {
    const { log, text } = capture();
    log.warn(
      {
        error: `load: unusable DICOM series (MIXED_SERIES): PatientID=${PATIENT.patientId} differs; Patient's Name "${PATIENT.patientName}"`,
      },
      'job failed (not retried)',
    );
    log.info(
      { reason: `skipped: no LGE pattern matches SeriesDescription 'LGE ${PATIENT.patientName}'` },
      'series not selected',
    );
    log.error({ error: new Error(`(0010,0030) ${PATIENT.patientBirthDate} is not a date`) }, 'x');
    log.info(`accession number: ${PATIENT.accessionNumber} stored`);
    for (const value of Object.values(PATIENT)) expect(text()).not.toContain(value);
    expect(text()).toContain('skipped: no LGE pattern matches SeriesDescription');
  });

  it('remove the values a job knows to be its patient wherever they appear', () => {
    const { log, text } = capture();
    const jobLog = withKnownPhi(log.child({ studyInstanceUid: STUDY_UID }), PATIENT);
    jobLog.warn(
      {
        error: `store: PACS refused POST http://pacs/studies: HTTP 409 (conflict: ${PATIENT.patientId} / DOE JANE Q / ${PATIENT.accessionNumber} / born ${PATIENT.patientBirthDate})`,
      },
      'job failed',
    );
    for (const value of [...Object.values(PATIENT), 'DOE JANE Q'])
      expect(text().toUpperCase()).not.toContain(value.toUpperCase());
    expect(text()).toContain(STUDY_UID);
    expect(text()).toContain('HTTP 409');
  });

  it('carry no database password, whatever form the URL takes', () => {
    const { log, text } = capture();
    const urls = [
      'postgres://:pw-empty-user@db.example:5432/lascar',
      'postgresql://lascar:pw-with-user@db.example/lascar',
      'postgres://lascar@db.example/lascar?sslmode=require&password=pw-in-query',
    ];
    for (const url of urls) {
      log.error({ error: `connect ECONNREFUSED (${url})` }, 'database unreachable');
      log.info({ database: url }, `opening ${url}`);
    }
    log.error({ error: 'connection to "host=db.example password=pw-conninfo" failed' }, 'x');
    for (const pw of DATABASE_PASSWORDS) expect(text()).not.toContain(pw);
    expect(text()).toContain('db.example');
    expect(sanitizeLogText(urls[0]!)).toBe('postgres://:***@db.example:5432/lascar');
  });

  it('show the configuration without any password', () => {
    const { log, text } = capture();
    for (const DATABASE_URL of [
      'postgres://:pw-empty-user@db/lascar',
      'postgres://u:pw-with-user@db/lascar',
      'postgres://u@db/lascar?password=pw-in-query',
    ]) {
      log.info(
        { config: describeConfig(loadConfig({ LASCAR_PACS_URL: 'http://pacs/dw', DATABASE_URL })) },
        'worker starting',
      );
    }
    for (const pw of DATABASE_PASSWORDS) expect(text()).not.toContain(pw);
  });
});
