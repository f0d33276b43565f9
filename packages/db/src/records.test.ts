// The worker's records on a real PostgreSQL: two workers (or two discovery paths) take in the same
// study at the same moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordSeries } from './records.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 8 });
});

afterAll(async () => {
  await db?.drop();
});

describe('recordSeries', () => {
  it('records one patient, study and series when many take the same study in at once', async () => {
    for (let round = 0; round < 5; round++) {
      const study = `1.2.826.0.1.3680043.10.1.${round}`;
      const ids = await Promise.all(
        Array.from({ length: 8 }, (_, n) =>
          recordSeries(
            db.prisma,
            {
              studyInstanceUid: study,
              seriesInstanceUid: `${study}.${n % 2}`,
              modality: 'MR',
            },
            n % 2
              ? { patientId: `RACE-${round}`, accessionNumber: `A${round}` }
              : {
                  patientId: `RACE-${round}`,
                  patientName: 'Race^Test',
                  accessionNumber: `A${round}`,
                },
          ),
        ),
      );
      expect(new Set(ids).size).toBe(2);
      expect(await db.prisma.patient.count({ where: { patientId: `RACE-${round}` } })).toBe(1);
      expect(await db.prisma.study.count({ where: { studyInstanceUid: study } })).toBe(1);
      const patient = await db.prisma.patient.findUniqueOrThrow({
        where: { patientId: `RACE-${round}` },
        select: { id: true },
      });
      expect(
        await db.prisma.study.findUniqueOrThrow({
          where: { studyInstanceUid: study },
          select: { patientRef: true, accessionNumber: true },
        }),
      ).toEqual({ patientRef: patient.id, accessionNumber: `A${round}` });
    }
  });
});
