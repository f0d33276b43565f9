/**
 * Structured JSON logs (pino). Log study and series UIDs, job keys and timings; never patient
 * names or other identifying text: the redact list is a safety net for fields that slip in.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'lascar-worker',
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'patientName',
          '*.patientName',
          'PatientName',
          '*.PatientName',
          '*.password',
          'password',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? process.stdout,
  );
}
