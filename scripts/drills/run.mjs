#!/usr/bin/env node
// Runs a drill written in TypeScript (scripts/drills/<name>.ts). Node 20 cannot run TypeScript,
// so the drill is bundled with esbuild first; workspace packages stay external and load from
// their builds (run `npm run build` first), exactly as the apps load them.
//
//   node scripts/drills/run.mjs inputs [args...]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const [name, ...args] = process.argv.slice(2);
const entry = path.join(here, `${name ?? ''}.ts`);
if (!name || !existsSync(entry)) {
  process.stderr.write('usage: node scripts/drills/run.mjs inputs|faults [args...]\n');
  process.exit(2);
}
for (const built of [
  'packages/core/dist/index.js',
  'apps/cli/dist/bin.js',
  'apps/worker/dist/index.js',
]) {
  if (!existsSync(path.join(repo, built))) {
    process.stderr.write(`drill: ${built} is missing; run npm run build first\n`);
    process.exit(2);
  }
}
// Inside node_modules, so the bundle resolves the workspace packages like the sources do.
const outfile = path.join(repo, 'node_modules/.cache/lascar-drills', `${name}.mjs`);
await build({
  entryPoints: [entry],
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  sourcemap: 'inline',
  logLevel: 'error',
});
const child = spawn(process.execPath, ['--enable-source-maps', outfile, ...args], {
  stdio: 'inherit',
});
// The drill handles SIGINT/SIGTERM itself (it stops its Orthanc, PostgreSQL and workers).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
