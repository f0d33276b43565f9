/**
 * The built `lascar` command, as a user runs it. Tests of the command line must not be skipped
 * when the workspace has not been built yet: the first one to need it builds it (turbo).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** apps/cli/dist/bin.js: what apps/cli/bin/lascar.js (the `lascar` bin) loads. */
export const LASCAR_BIN = path.join(REPO, 'apps/cli/dist/bin.js');

/** The path of the built command, building @lascar/cli and its packages first if needed. */
export function builtLascar(): string {
  if (!existsSync(LASCAR_BIN)) {
    execFileSync('npx', ['turbo', 'run', 'build', '--filter=@lascar/cli'], {
      cwd: REPO,
      stdio: 'ignore',
    });
  }
  if (!existsSync(LASCAR_BIN))
    throw new Error(`building @lascar/cli did not produce ${LASCAR_BIN}`);
  return LASCAR_BIN;
}
