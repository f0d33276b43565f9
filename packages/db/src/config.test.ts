import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseConfigFromEnv, DatabaseConfigError, redactDatabaseUrl } from './config.js';

describe('databaseConfigFromEnv', () => {
  it('uses DATABASE_URL when set, the embedded database in LASCAR_DATA_DIR otherwise', () => {
    expect(databaseConfigFromEnv({ DATABASE_URL: 'postgres://u@h/db' })).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
    });
    expect(
      databaseConfigFromEnv({ LASCAR_DATA_DIR: 'x/db', LASCAR_EMBEDDED_DB_PORT: '0' }),
    ).toEqual({ kind: 'embedded', dataDir: path.resolve('x/db'), port: 0 });
  });

  it('names the variable and hides the password when a value is wrong', () => {
    expect(() => databaseConfigFromEnv({ DATABASE_URL: 'mysql://u:secret@h/db' })).toThrow(
      DatabaseConfigError,
    );
    expect(() => databaseConfigFromEnv({ DATABASE_URL: 'mysql://u:secret@h/db' })).toThrow(
      /^DATABASE_URL=mysql:\/\/u:\*\*\*@h\/db must start/,
    );
    expect(() => databaseConfigFromEnv({ LASCAR_EMBEDDED_DB_PORT: '70000' })).toThrow(
      /LASCAR_EMBEDDED_DB_PORT=70000/,
    );
  });

  it('redacts passwords in every URL form', () => {
    expect(redactDatabaseUrl('postgres://:pw@h/db')).toBe('postgres://:***@h/db');
    expect(redactDatabaseUrl('postgres://u:pw@h/db?sslmode=disable&password=pw2')).toBe(
      'postgres://u:***@h/db?sslmode=disable&password=***',
    );
  });
});
