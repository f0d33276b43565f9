// Runs dicom3tools' dciodvfy (Debian package dicom3tools) on bytes, for tests. A missing
// dciodvfy is a failure, not a skip: CI installs it with scripts/install-system-deps.sh.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Validation {
  errors: string[];
  warnings: string[];
  output: string;
}

export function dciodvfy(bytes: Uint8Array): Validation {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-dciodvfy-'));
  try {
    const file = join(dir, 'object.dcm');
    writeFileSync(file, bytes);
    const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    if (run.error)
      throw new Error(`cannot run dciodvfy (install dicom3tools): ${run.error.message}`);
    const output = `${run.stdout}${run.stderr}`;
    const lines = output.split('\n');
    return {
      errors: lines.filter((l) => l.startsWith('Error')),
      warnings: lines.filter((l) => l.startsWith('Warning')),
      output,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
