// Runs DCMTK's dsrdump (Debian package dcmtk) on SR bytes, for tests: an independent SR reader
// that checks the content tree against the IOD's relationship constraints and value types.
// A missing dsrdump is a failure, not a skip: CI installs it with scripts/install-system-deps.sh.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SrDump {
  /** dsrdump's warnings and errors (lines "W: ..." and "E: ..."). */
  problems: string[];
  /** The printed document: header and content tree with all codes and UIDs. */
  text: string;
  status: number | null;
}

export function dsrdump(bytes: Uint8Array): SrDump {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-dsrdump-'));
  try {
    const file = join(dir, 'report.dcm');
    writeFileSync(file, bytes);
    const run = spawnSync('dsrdump', ['+Pc', '+Pu', '+Pl', '+Pt', file], { encoding: 'utf8' });
    if (run.error) throw new Error(`cannot run dsrdump (install dcmtk): ${run.error.message}`);
    return {
      problems: `${run.stdout}${run.stderr}`.split('\n').filter((l) => /^[WEF]: /.test(l)),
      text: run.stdout,
      status: run.status,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
