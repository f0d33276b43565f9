/**
 * Synthetic rows at hospital scale for the dashboard's benchmark and its query tests: patients,
 * dated studies, one LGE series each, a completed job with its stage timings, a measurement with
 * plausible volumes, burden and stages (some pending review, some QC-flagged, a few rejected),
 * key-slice overlays and a few clinical events. Every name and ID is plainly synthetic
 * ("BENCH^PATIENT000001"). The rows are generated inside PostgreSQL (generate_series and
 * INSERT ... SELECT in one transaction on one connection) because 50,000 studies through the
 * client one at a time would take minutes; the same seed gives the same values (not the same
 * row ids).
 */
import pg from 'pg';
import type { PrismaClient } from './generated/prisma/client.js';

export interface SeedScaleOptions {
  readonly patients: number;
  readonly studiesPerPatient: number;
  /** Seeds the values (setseed); default 1. */
  readonly seed?: number;
  /** PatientID prefix, and the name's family part (default "BENCH"); letters and digits only. */
  readonly prefix?: string;
  /** Key-slice overlays per measurement (a 1x1 PNG each, with a 256x256 size); default 3. */
  readonly overlaysPerResult?: number;
}

export interface SeedScaleResult {
  readonly patients: number;
  readonly studies: number;
  readonly measurements: number;
  readonly clinicalEvents: number;
  readonly ms: number;
}

/** A valid 1x1 grey PNG: the overlay rows' bytes (the benchmark reads their sizes, not pixels). */
const TINY_PNG_HEX =
  '89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c636800000082008177cd72b60000000049454e44ae426082';

const OLD_MODEL = 'la-0b3e5c1d2a4f.scar-9c8d7e6f5a4b';
const NEW_MODEL = 'la-7a1f2e3d4c5b.scar-6e5d4c3b2a19';
const BURDEN_METHOD =
  'volume-based: share of LA wall voxels that are scar; wall = the 3 mm shell outside the cavity plus scar voxels inside the cavity within 3 mm of its surface';
const WALL_DEFINITION =
  'voxels outside the LA cavity whose centre is within 3 mm (exact Euclidean distance on the voxel grid) of a cavity voxel centre';

type Exec = (sql: string, params?: readonly unknown[]) => Promise<number>;

/**
 * The statements, in order, each with exactly the parameters it uses. CREATE TABLE AS takes no
 * parameters, so the two temporary tables get the counts and the prefix inline: validated()
 * allowed only integers and [A-Z0-9] there. The seed is part of every UID, so two seeds (with two
 * prefixes) never collide.
 */
function statements(
  p: Params,
  overlays: number,
): { sql: string; params: (p: Params) => unknown[] }[] {
  return [
    {
      // Per patient: first study date (2012-2019), baseline burden, its drift per study, LA size.
      sql: `CREATE TEMP TABLE seed_patient ON COMMIT DROP AS
        SELECT i, gen_random_uuid() AS id,
               '${p.prefix}' || lpad(i::text, 6, '0') AS patient_id,
               '${p.prefix}^PATIENT' || lpad(i::text, 6, '0') AS patient_name,
               date '2012-01-01' + (random() * 2900)::int AS first_date,
               3 + random() * 32 AS base_burden,
               (random() - 0.35) * 5 AS drift,
               60 + random() * 90 AS base_la
        FROM generate_series(1, ${p.patients}) AS i`,
      params: () => [],
    },
    {
      sql: `INSERT INTO "Patient" (id, "patientId", "patientName")
            SELECT id, patient_id, patient_name FROM seed_patient`,
      params: () => [],
    },
    {
      // Per study: its date (about every 6 months, so dates increase with k), burden, LA volume.
      sql: `CREATE TEMP TABLE seed_study ON COMMIT DROP AS
        SELECT p.i AS pi, k, p.id AS patient_ref,
               gen_random_uuid() AS study_id, gen_random_uuid() AS series_id,
               gen_random_uuid() AS job_id, gen_random_uuid() AS measurement_id,
               p.first_date + (k - 1) * 180 + (random() * 90)::int AS d,
               greatest(0.3, p.base_burden + p.drift * (k - 1) + (random() - 0.5) * 4) AS burden,
               p.base_la * (0.9 + random() * 0.2) AS la,
               random() AS r_date, random() AS r_review, random() AS r_qc, random() AS r_attempt,
               random() AS r_wall, random() AS r_cavity,
               CASE WHEN k <= 2 AND p.i % 3 = 0 THEN '${OLD_MODEL}' ELSE '${NEW_MODEL}' END AS model,
               k = ${p.studiesPerPatient} AS latest
        FROM seed_patient p CROSS JOIN generate_series(1, ${p.studiesPerPatient}) AS k`,
      params: () => [],
    },
    {
      sql: `INSERT INTO "Study" (id, "studyInstanceUid", "patientRef", "studyDate", "accessionNumber")
            SELECT study_id, '2.25.9' || $1::int || '.' || pi || '.' || k, patient_ref,
                   CASE WHEN r_date < 0.005 THEN NULL ELSE to_char(d, 'YYYYMMDD') END,
                   $2::text || 'A' || lpad(pi::text, 6, '0') || lpad(k::text, 2, '0')
            FROM seed_study`,
      params: (p) => [p.seed, p.prefix],
    },
    {
      sql: `INSERT INTO "Series" (id, "seriesInstanceUid", "studyRef", modality, "seriesDescription",
                                  "protocolName", "numberOfInstances")
            SELECT series_id, '2.25.9' || $1::int || '.' || pi || '.' || k || '.1', study_id, 'MR',
                   CASE WHEN k % 2 = 0 THEN 'LGE 3D PSIR' ELSE 'LGE_3D_IR_navigated' END,
                   'LGE 3D', 44 + (r_wall * 44)::int
            FROM seed_study`,
      params: (p) => [p.seed],
    },
    {
      sql: `INSERT INTO "Job" (id, "jobKey", "seriesRef", "modelVersion", state, attempts,
                               "segSeriesInstanceUid", "segSopInstanceUid", "srSeriesInstanceUid",
                               "srSopInstanceUid", "createdAt", "updatedAt", "startedAt", "finishedAt")
            SELECT job_id, '2.25.9' || $1::int || '.' || pi || '.' || k || '.1@' || model, series_id,
                   model, 'completed', CASE WHEN r_attempt < 0.05 THEN 2 ELSE 1 END,
                   '2.25.9' || $1::int || '.' || pi || '.' || k || '.2',
                   '2.25.9' || $1::int || '.' || pi || '.' || k || '.2.1',
                   '2.25.9' || $1::int || '.' || pi || '.' || k || '.3',
                   '2.25.9' || $1::int || '.' || pi || '.' || k || '.3.1',
                   d + time '09:00', d + time '09:05', d + time '09:05', d + time '09:05:50'
            FROM seed_study`,
      params: (p) => [p.seed],
    },
    {
      // The last attempt's six stages (attempt 2 when the first one failed on retrieve).
      sql: `INSERT INTO "JobStage" (id, "jobRef", attempt, stage, "startedAt", "durationMs", error)
            SELECT gen_random_uuid(), s.job_id, a.attempt, st.stage::"StageName",
                   s.d + time '09:05' + st.offset_s * interval '1 second',
                   CASE WHEN a.failed THEN 30000 ELSE st.base_ms * (0.8 + s.r_wall * 0.4) END,
                   CASE WHEN a.failed THEN 'PACS did not answer within 30 s' END
            FROM seed_study s
            CROSS JOIN LATERAL (
              SELECT 1 AS attempt, s.r_attempt < 0.05 AS failed
              UNION ALL SELECT 2, false WHERE s.r_attempt < 0.05
            ) a
            CROSS JOIN (VALUES ('retrieve', 0, 1800.0), ('load', 2, 600.0), ('la_model', 3, 14000.0),
                               ('scar_model', 17, 21000.0), ('write', 38, 400.0), ('store', 39, 900.0))
                 AS st(stage, offset_s, base_ms)
            WHERE NOT a.failed OR st.stage = 'retrieve'`,
      params: () => [],
    },
    {
      // burden = (scar in shell + scar in cavity) / (wall + scar in cavity), as the worker computes it.
      sql: `INSERT INTO "Measurement" (id, "jobRef", "laVolumeMl", "scarVolumeMl", "wallVolumeMl",
                "scarBurdenPercent", "scarInShellMl", "scarInCavityMl", "burdenMethod", "wallDefinition",
                "utahStage", "decaafStage", "modelVersion", "syntheticTraining", "executionProvider",
                provenance, "qcFlags", "reviewState", "reviewedById", "reviewedByName", "reviewedAt",
                "reviewReason", "createdAt")
            SELECT measurement_id, job_id, la, scar_in * (1 + r_cavity * 0.05), wall,
                   CASE WHEN no_burden THEN NULL ELSE burden END,
                   CASE WHEN no_burden THEN NULL ELSE scar_in - cavity END,
                   CASE WHEN no_burden THEN NULL ELSE cavity END,
                   '${BURDEN_METHOD}', '${WALL_DEFINITION}',
                   CASE WHEN no_burden THEN NULL WHEN burden <= 5 THEN 'I' WHEN burden <= 20 THEN 'II'
                        WHEN burden <= 35 THEN 'III' ELSE 'IV' END,
                   CASE WHEN no_burden THEN NULL WHEN burden < 10 THEN '1' WHEN burden < 20 THEN '2'
                        WHEN burden < 30 THEN '3' ELSE '4' END,
                   model, true, 'cpu',
                   jsonb_build_object('algorithm', 'MSWS-Net + Boundary2Patches', 'seeded', true,
                     'notice', 'Models trained on SYNTHETIC phantoms only: NOT for clinical use.'),
                   CASE WHEN r_qc < 0.04 THEN ARRAY['low_blood_pool_contrast']
                        WHEN r_qc < 0.06 THEN ARRAY['small_la_volume', 'motion_artefact']
                        ELSE ARRAY[]::text[] END,
                   review::"ReviewState",
                   CASE WHEN review <> 'pending' THEN 'bench-cardiologist' END,
                   CASE WHEN review <> 'pending' THEN 'BENCH^CARDIOLOGIST' END,
                   CASE WHEN review <> 'pending' THEN d + time '09:05:50' + interval '2 days' END,
                   CASE WHEN review = 'rejected' THEN 'Segmentation leaks into the LA appendage' END,
                   d + time '09:05:50'
            FROM (
              SELECT *, burden / 100 * (wall + cavity) AS scar_in
              FROM (
                SELECT *, 1.9 * power(la, 2.0 / 3) * (0.9 + r_wall * 0.2) AS wall,
                       1.9 * power(la, 2.0 / 3) * (0.9 + r_wall * 0.2) * burden / 100 * 0.1 * r_cavity AS cavity,
                       r_wall < 0.002 AS no_burden,
                       CASE WHEN latest AND r_review < 0.5 THEN 'pending'
                            WHEN r_review < 0.04 THEN 'pending'
                            WHEN r_review > 0.99 THEN 'rejected'
                            ELSE 'accepted' END AS review
                FROM seed_study
              ) v
            ) m`,
      params: () => [],
    },
    ...(overlays > 0
      ? [
          {
            sql: `INSERT INTO "OverlayImage" (id, "measurementRef", "sliceIndex", width, height, png)
                  SELECT gen_random_uuid(), measurement_id, 20 + o * 6, 256, 256,
                         decode('${TINY_PNG_HEX}', 'hex')
                  FROM seed_study CROSS JOIN generate_series(0, $1::int - 1) AS o`,
            params: () => [overlays],
          },
        ]
      : []),
    {
      // About one patient in ten had an ablation between the first two studies; a few a cardioversion.
      sql: `INSERT INTO "ClinicalEvent" (id, "patientRef", kind, date, note, "createdById")
            SELECT gen_random_uuid(), p.id, e.kind, e.date, e.note, 'bench-cardiologist'
            FROM seed_patient p
            CROSS JOIN LATERAL (
              SELECT 'ablation' AS kind, (p.first_date + 120)::timestamp AS date,
                     'PVI, cryoballoon' AS note WHERE p.i % 10 = 0
              UNION ALL
              SELECT 'cardioversion', (p.first_date + 200)::timestamp, NULL WHERE p.i % 33 = 0
            ) e`,
      params: () => [],
    },
  ];
}

interface Params {
  readonly patients: number;
  readonly studiesPerPatient: number;
  readonly prefix: string;
  readonly seed: number;
}

function validated(options: SeedScaleOptions): Params {
  const { patients, studiesPerPatient } = options;
  const seed = options.seed ?? 1;
  const prefix = options.prefix ?? 'BENCH';
  if (!Number.isInteger(patients) || patients < 1 || patients > 1_000_000) {
    throw new RangeError(`patients must be an integer from 1 to 1000000, got ${patients}`);
  }
  if (!Number.isInteger(studiesPerPatient) || studiesPerPatient < 1 || studiesPerPatient > 50) {
    throw new RangeError(
      `studiesPerPatient must be an integer from 1 to 50, got ${studiesPerPatient}`,
    );
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 2_000_000_000) {
    throw new RangeError(`seed must be an integer from 0 to 2000000000, got ${seed}`);
  }
  if (!/^[A-Z0-9]{1,16}$/.test(prefix)) {
    throw new RangeError(`prefix must be 1-16 capital letters or digits, got "${prefix}"`);
  }
  return { patients, studiesPerPatient, prefix, seed };
}

const SEEDED_TABLES = [
  'Patient',
  'Study',
  'Series',
  'Job',
  'JobStage',
  'Measurement',
  'OverlayImage',
  'ClinicalEvent',
];

async function runAll(exec: Exec, p: Params, overlays: number): Promise<void> {
  // setseed takes a double in [-1, 1]: map the integer seed into it.
  await exec('SELECT setseed($1::float8)', [((p.seed % 2_000_003) / 2_000_003) * 2 - 1]);
  for (const s of statements(p, overlays)) await exec(s.sql, s.params(p));
}

/**
 * Inserts `patients` x `studiesPerPatient` studies with their results into the database behind
 * `target` (a Prisma client, or a PostgreSQL URL), in one transaction, then refreshes the planner's
 * statistics. Fails (and inserts nothing) if a patient with a generated ID already exists.
 */
export async function seedScale(
  target: PrismaClient | string,
  options: SeedScaleOptions,
): Promise<SeedScaleResult> {
  const p = validated(options);
  const overlays = options.overlaysPerResult ?? 3;
  if (!Number.isInteger(overlays) || overlays < 0 || overlays > 20) {
    throw new RangeError(`overlaysPerResult must be an integer from 0 to 20, got ${overlays}`);
  }
  const t0 = performance.now();
  const analyze = `ANALYZE ${SEEDED_TABLES.map((t) => `"${t}"`).join(', ')}`;
  if (typeof target === 'string') {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      await client.query('BEGIN');
      try {
        await runAll(
          async (sql, params) => (await client.query(sql, params ? [...params] : [])).rowCount ?? 0,
          p,
          overlays,
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      await client.query(analyze);
    } finally {
      await client.end();
    }
  } else {
    await target.$transaction(
      async (tx) => {
        await runAll((sql, params) => tx.$executeRawUnsafe(sql, ...(params ?? [])), p, overlays);
      },
      { timeout: 600_000, maxWait: 60_000 },
    );
    await target.$executeRawUnsafe(analyze);
  }
  const studies = p.patients * p.studiesPerPatient;
  return {
    patients: p.patients,
    studies,
    measurements: studies,
    clinicalEvents: Math.floor(p.patients / 10) + Math.floor(p.patients / 33),
    ms: performance.now() - t0,
  };
}
