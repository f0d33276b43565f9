// `prisma generate` for the worker's database client, offline-safe: the Prisma CLI wants its
// native schema engine on every command (and downloads it when it can), but generating the
// `prisma-client` output never runs it; any existing file satisfies the check.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const schema = path.resolve(here, '../../../prisma/schema.prisma');
const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const env = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
const run = spawnSync(process.execPath, [cli, 'generate', '--schema', schema], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
});
process.exit(run.status ?? 1);
