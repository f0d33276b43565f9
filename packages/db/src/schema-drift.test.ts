// schema.prisma and prisma/migrations must describe the same database. The migrations are applied
// to a fresh embedded PostgreSQL by our migrator, the result is read back from the catalog, and
// compared with the models, enums and indexes Prisma's own schema parser (the WASM build behind
// getDMMF) reads from schema.prisma, mapped to PostgreSQL the way `prisma migrate` maps them.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import wasm from '@prisma/prisma-schema-wasm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import { migrate, MIGRATIONS_DIR, readMigrations } from './migrate.js';

interface DmmfField {
  name: string;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationOnDelete?: string;
  dbName?: string | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string }[];
  dbName?: string | null;
}
interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: { name: string; values: { name: string }[] }[];
    indexes: DmmfIndex[];
  };
}

const SCHEMA = path.resolve(MIGRATIONS_DIR, '../schema.prisma');

/** PostgreSQL type (as format_type prints it) that `prisma migrate` gives a Prisma scalar. */
function pgType(field: DmmfField): string {
  if (field.kind === 'enum') return `"${field.type}"`;
  const native = field.nativeType?.[0];
  if (native === 'Uuid') return 'uuid';
  if (native) throw new Error(`native type @db.${native} not mapped in this test: add it`);
  const map: Record<string, string> = {
    String: 'text',
    Int: 'integer',
    BigInt: 'bigint',
    Float: 'double precision',
    Boolean: 'boolean',
    DateTime: 'timestamp(3) without time zone',
    Json: 'jsonb',
    Bytes: 'bytea',
    Decimal: 'numeric(65,30)',
  };
  const t = map[field.type];
  if (!t) throw new Error(`Prisma type ${field.type} not mapped in this test: add it`);
  return field.isList ? `${t}[]` : t;
}

/** The database-side default `prisma migrate` writes (uuid() and @updatedAt live in the client). */
function pgDefault(field: DmmfField): string | null {
  const d = field.default;
  if (d === undefined) {
    // Scalar lists: the migrations give them an empty-array default (Prisma's client omits them).
    return field.isList ? `ARRAY[]::${pgType({ ...field, isList: false })}[]` : null;
  }
  if (typeof d === 'object' && d !== null && 'name' in d) {
    const name = (d as { name: string }).name;
    if (name === 'now') return 'CURRENT_TIMESTAMP';
    if (name === 'uuid' || name === 'cuid') return null;
    throw new Error(`default function ${name}() not mapped in this test: add it`);
  }
  if (field.kind === 'enum') return `'${String(d)}'::"${field.type}"`;
  if (typeof d === 'string') return `'${d}'::text`;
  return String(d);
}

let db: EmbeddedDatabase;
let client: pg.Client;
let dataDir: string;
let dmmf: Dmmf;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'lascar-drift-'));
  db = await openEmbeddedDatabase({ dataDir, port: 0 });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  dmmf = JSON.parse(
    wasm.get_dmmf(JSON.stringify({ prismaSchema: await readFile(SCHEMA, 'utf8') })),
  ) as Dmmf;
});

afterAll(async () => {
  await client?.end();
  await db?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('prisma/schema.prisma and prisma/migrations', () => {
  it('apply to a fresh database and are recorded the way prisma migrate deploy records them', async () => {
    const files = await readMigrations();
    expect(files.length).toBeGreaterThan(0);
    const first = await migrate(client);
    expect(first.applied).toEqual(files.map((f) => f.name));
    const again = await migrate(client);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(files.map((f) => f.name));
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND applied_steps_count = 1 ORDER BY migration_name',
    );
    expect(rows).toEqual(files.map((f) => ({ migration_name: f.name, checksum: f.checksum })));
  });

  it('give every model its table, columns, types, nullability and defaults, and nothing else', async () => {
    const models = dmmf.datamodel.models;
    const expected = models.flatMap((m) =>
      m.fields
        .filter((f) => f.kind !== 'object')
        .map((f) => ({
          table: m.dbName ?? m.name,
          column: f.dbName ?? f.name,
          type: pgType(f),
          notNull: f.isRequired,
          default: pgDefault(f),
        })),
    );
    const { rows } = await client.query<{
      table: string;
      column: string;
      type: string;
      notNull: boolean;
      default: string | null;
    }>(`SELECT c.relname AS table, a.attname AS column,
              format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
              pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r'
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'`);
    const key = (r: { table: string; column: string }) => `${r.table}.${r.column}`;
    const sort = <T extends { table: string; column: string }>(xs: T[]) =>
      [...xs].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sort(rows)).toEqual(sort(expected));
  });

  it('create every enum with its values in order', async () => {
    const { rows } = await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    const expected = dmmf.datamodel.enums.map((e) => ({
      name: e.name,
      values: e.values.map((v) => v.name),
    }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect([...rows].sort(byName)).toEqual([...expected].sort(byName));
  });

  it('create every primary key, unique and plain index on the same columns', async () => {
    const { rows } = await client.query<{
      table: string;
      unique: boolean;
      primary: boolean;
      columns: string[];
    }>(
      `SELECT t.relname::text AS table, i.indisunique AS unique, i.indisprimary AS primary,
              array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
        WHERE t.relname <> '_prisma_migrations'`,
    );
    const tableOf = new Map(dmmf.datamodel.models.map((m) => [m.name, m.dbName ?? m.name]));
    const expected = dmmf.datamodel.indexes.map((ix) => ({
      table: tableOf.get(ix.model) ?? ix.model,
      unique: ix.type !== 'normal',
      primary: ix.type === 'id',
      columns: ix.fields.map((f) => f.name),
    }));
    const k = (r: { table: string; columns: string[]; unique: boolean; primary: boolean }) =>
      `${r.table}(${r.columns.join(',')})${r.primary ? 'pk' : r.unique ? 'u' : ''}`;
    expect(rows.map(k).sort()).toEqual(expected.map(k).sort());
  });

  it('keep the audit log append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    await client.query(
      `INSERT INTO "AuditEvent" (id, action, outcome) VALUES (gen_random_uuid(), 'test.write', 'ok')`,
    );
    for (const sql of [
      `UPDATE "AuditEvent" SET outcome = 'changed'`,
      `DELETE FROM "AuditEvent"`,
      `TRUNCATE "AuditEvent"`,
    ]) {
      await expect(client.query(sql), sql).rejects.toThrow(/append-only/);
    }
    const { rows } = await client.query<{ outcome: string }>(
      `SELECT outcome FROM "AuditEvent" WHERE action = 'test.write'`,
    );
    expect(rows).toEqual([{ outcome: 'ok' }]);
  });

  it('create every relation as a foreign key with the delete rule the schema names', async () => {
    const { rows } = await client.query<{
      table: string;
      columns: string[];
      target: string;
      onDelete: string;
    }>(
      `SELECT t.relname AS table, f.relname AS target,
              array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
              c.confdeltype AS "onDelete"
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid
        WHERE c.contype = 'f'`,
    );
    const tableOf = new Map(dmmf.datamodel.models.map((m) => [m.name, m.dbName ?? m.name]));
    // Prisma's defaults: Restrict for a required relation, SetNull for an optional one.
    const code: Record<string, string> = {
      Cascade: 'c',
      Restrict: 'r',
      SetNull: 'n',
      NoAction: 'a',
      SetDefault: 'd',
    };
    const expected = dmmf.datamodel.models.flatMap((m) =>
      m.fields
        .filter(
          (f) => f.kind === 'object' && f.relationFromFields && f.relationFromFields.length > 0,
        )
        .map((f) => ({
          table: m.dbName ?? m.name,
          target: tableOf.get(f.type) ?? f.type,
          columns: f.relationFromFields ?? [],
          onDelete: code[f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull')] ?? '?',
        })),
    );
    const k = (r: { table: string; columns: string[]; target: string; onDelete: string }) =>
      `${r.table}(${r.columns.join(',')})->${r.target}:${r.onDelete}`;
    expect(rows.map(k).sort()).toEqual(expected.map(k).sort());
  });
});
