// The deployment files against the programs they configure (there is no Docker engine in CI:
// this is what can be proved without one). Variable names come from the apps' own configuration
// modules, so renaming a variable in one place only fails here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WORKER_ENV_NAMES } from '../apps/worker/src/config.js';
import { DASHBOARD_ENV_NAMES } from '../apps/dashboard/src/server/config.js';
import { DASHBOARD_LAUNCHER_ENV_NAMES } from '../apps/cli/src/commands/dashboard.js';
import {
  checkComposeEnvironment,
  checkDockerfile,
  checkEnvExample,
  checkKubernetesEnvironment,
  checkPending,
  interpolatedNames,
  parseCompose,
  type Accepted,
} from './deployment-checks.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

const COMPOSE = read('docker/compose.yaml');
const ENV_EXAMPLE = read('docker/.env.example');
const LUA = read('docker/orthanc/on-stable-series.lua');
const VIEWER_TEMPLATE = read('docker/viewer/default.conf.template');

// Documented in .env.example before the worker reads them (branches in flight); once it does,
// checkPending fails until compose.yaml passes them.
const PENDING: string[] = [];
const isPending = (name: string) => PENDING.includes(name) || name.startsWith('LASCAR_QC_');

const oneOf = (names: Iterable<string>) => {
  const set = new Set(names);
  return (name: string) => set.has(name);
};
const workerReads = oneOf(WORKER_ENV_NAMES);
const dashboardReads = oneOf([...DASHBOARD_ENV_NAMES, ...DASHBOARD_LAUNCHER_ENV_NAMES]);
// The Lua hook's variables (setting('Key', 'ENV_NAME')) and the Orthanc image's own settings.
const luaNames = [...LUA.matchAll(/setting\('\w+', '(\w+)'\)/g)].map((m) => m[1]!);
const orthancReads = (name: string) =>
  luaNames.includes(name) ||
  /^ORTHANC__[A-Z0-9_]+$/.test(name) ||
  ['DICOM_WEB_PLUGIN_ENABLED', 'VERBOSE_STARTUP', 'VERBOSE_ENABLED'].includes(name);

const ACCEPTED: Accepted = new Map([
  ['worker', workerReads],
  ['worker-gpu', workerReads],
  ['dashboard', dashboardReads],
  ['orthanc', orthancReads],
  // The official postgres image's documented variables.
  ['postgres', oneOf(['POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PASSWORD', 'PGDATA'])],
  // What the nginx template fills in.
  ['viewer', oneOf(interpolatedNames(VIEWER_TEMPLATE))],
]);

describe('docker/compose.yaml', () => {
  const compose = parseCompose(COMPOSE);

  it('passes each container only variables its program reads', () => {
    expect(luaNames).toEqual(['LASCAR_WEBHOOK_URL', 'LASCAR_WEBHOOK_SECRET']);
    expect(checkComposeEnvironment(compose, ACCEPTED)).toEqual([]);
  });

  it('passes every variable the apps cannot start without', () => {
    const passed = (service: string) =>
      Object.keys(compose.services[service]?.environment as Record<string, unknown>);
    for (const service of ['worker', 'worker-gpu']) {
      expect(passed(service)).toEqual(
        expect.arrayContaining(['DATABASE_URL', 'LASCAR_PACS_URL', 'LASCAR_HTTP_HOST']),
      );
    }
    expect(passed('dashboard')).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'LASCAR_AUTH_SECRET', 'LASCAR_DASHBOARD_HOST']),
    );
    expect(passed('orthanc')).toEqual(expect.arrayContaining(luaNames));
  });

  it('is listed completely by .env.example, which lists nothing else', () => {
    expect(checkEnvExample(COMPOSE, ENV_EXAMPLE, isPending)).toEqual([]);
    expect(checkPending(compose, 'worker', workerReads, PENDING)).toEqual([]);
  });

  it('fails when a variable is renamed in one place only', () => {
    // In compose.yaml only: the worker does not read the new name.
    const renamedInCompose = COMPOSE.replace(
      'LASCAR_CONCURRENCY: ${LASCAR_CONCURRENCY:-1}',
      'LASCAR_WORKER_CONCURRENCY: ${LASCAR_CONCURRENCY:-1}',
    );
    expect(checkComposeEnvironment(parseCompose(renamedInCompose), ACCEPTED)).toEqual([
      'compose.yaml passes LASCAR_WORKER_CONCURRENCY to worker, which its configuration does not read',
      'compose.yaml passes LASCAR_WORKER_CONCURRENCY to worker-gpu, which its configuration does not read',
    ]);
    // In the worker's configuration only: compose passes a name it no longer reads.
    const renamedInWorker = oneOf(
      WORKER_ENV_NAMES.map((n) => (n === 'LASCAR_QIDO_POLL_SECONDS' ? 'LASCAR_QIDO_POLL' : n)),
    );
    const withRenamedWorker = new Map(ACCEPTED).set('worker', renamedInWorker);
    expect(checkComposeEnvironment(compose, withRenamedWorker)).toEqual([
      'compose.yaml passes LASCAR_QIDO_POLL_SECONDS to worker, which its configuration does not read',
    ]);
    // In .env.example only, or in the interpolation only.
    const renamedInExample = ENV_EXAMPLE.replace('LASCAR_LOG_LEVEL=', 'LASCAR_LOGLEVEL=');
    expect(checkEnvExample(COMPOSE, renamedInExample, isPending)).toEqual([
      '.env.example does not list LASCAR_LOG_LEVEL, used by compose.yaml',
      '.env.example lists LASCAR_LOGLEVEL, which compose.yaml never uses',
    ]);
    // A pending variable the worker starts reading must reach it.
    const workerWithNew = oneOf([...WORKER_ENV_NAMES, 'LASCAR_NEW_SETTING']);
    expect(checkPending(compose, 'worker', workerWithNew, ['LASCAR_NEW_SETTING'])).toEqual([
      'worker now reads LASCAR_NEW_SETTING: pass it in compose.yaml, uncomment it in .env.example and drop it from the pending list',
    ]);
  });

  it('builds every image from a Dockerfile here, pins the others, reserves the GPU, scales the workers', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build) {
        expect(service.build.context, name).toBe('..');
        expect(existsSync(path.join(ROOT, service.build.dockerfile ?? '')), name).toBe(true);
      } else {
        expect(service.image, name).toMatch(/:[\w.-]*\d[\w.-]*$/);
      }
    }
    const gpu = compose.services['worker-gpu'];
    expect(gpu?.profiles).toEqual(['gpu']);
    expect(gpu?.deploy?.resources?.reservations?.devices?.[0]).toMatchObject({
      driver: 'nvidia',
      capabilities: ['gpu'],
    });
    expect(compose.services.worker?.deploy?.replicas).toBe('${LASCAR_WORKER_REPLICAS:-1}');
    expect(gpu?.deploy?.replicas).toBe('${LASCAR_WORKER_REPLICAS:-1}');
    // No secret has a default: compose refuses to start without it.
    for (const secret of [
      'POSTGRES_PASSWORD',
      'LASCAR_WEBHOOK_SECRET',
      'LASCAR_AUTH_SECRET',
      'LASCAR_PACS_PASSWORD',
    ]) {
      const uses = [...COMPOSE.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, 'g'))];
      expect(uses.length, secret).toBeGreaterThan(0);
      for (const use of uses) expect(use[1], secret).toMatch(/^:\?/);
    }
  });
});

// DCLint (npm `dclint`): the compose-spec schema plus best-practice rules; docker/dclint.json turns
// off the ordering rules and two that misread deliberate choices (build + image tags the built
// image; a published interface given by a variable's default).
const DCLINT = path.join(
  path.dirname(createRequire(import.meta.url).resolve('dclint/package.json')),
  'bin/dclint.cjs',
);
const dclint = (file: string) =>
  spawnSync(process.execPath, [DCLINT, '-c', path.join(ROOT, 'docker/dclint.json'), file], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('docker/compose.yaml under DCLint', () => {
  it('passes the compose-spec schema and the lint rules with no warning', () => {
    const run = dclint(path.join(ROOT, 'docker/compose.yaml'));
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/warning|error/);
  });

  it('refuses a compose file the Compose schema does not allow', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lascar-dclint-'));
    const bad = path.join(dir, 'compose.yaml');
    writeFileSync(bad, COMPOSE.replace('    restart: unless-stopped\n', '    restarts: always\n'));
    const run = dclint(bad);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/invalid-schema/);
  });
});

describe('the Dockerfiles', () => {
  const exists = (p: string) => existsSync(path.join(ROOT, p));
  const dockerfiles = {
    'docker/worker/Dockerfile': true,
    'docker/worker-gpu/Dockerfile': true,
    'docker/dashboard/Dockerfile': true,
    'docker/viewer/Dockerfile': true,
    'docker/orthanc/Dockerfile': false,
  };

  it.each(Object.entries(dockerfiles))(
    '%s lints clean, pins its bases, runs as non-root with a health check and OCI labels',
    (file, multiStage) => {
      expect(checkDockerfile(file, read(file), { multiStage, exists })).toEqual([]);
    },
  );

  it('the checks find what they look for', () => {
    const bad = 'FROM node:latest\nRUN echo\nCOPYY a b\nCOPY nowhere/file /x\n';
    expect(checkDockerfile('bad', bad, { multiStage: true, exists })).toEqual([
      'bad:3: Unknown instruction: COPYY (dockerfile-utils)',
      'bad: base image node:latest (node:latest) is not pinned to a version',
      'bad: not a multi-stage build',
      'bad: the image runs as root (no USER, or USER root last)',
      'bad: no HEALTHCHECK',
      'bad: no org.opencontainers.image.title label',
      'bad: no org.opencontainers.image.description label',
      'bad: no org.opencontainers.image.source label',
      'bad: no org.opencontainers.image.version label',
      'bad: no org.opencontainers.image.revision label',
      'bad: COPY source nowhere/file does not exist in the repository',
    ]);
  });

  it('the GPU worker installs the CUDA 12 provider; the images start the same entrypoints as here', () => {
    const gpu = read('docker/worker-gpu/Dockerfile');
    expect(gpu).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node/);
    expect(gpu).toMatch(/FROM \$\{CUDA_IMAGE\} AS runtime/);
    expect(exists('apps/cli/bin/lascar.js')).toBe(true);
    for (const file of ['docker/worker/Dockerfile', 'docker/worker-gpu/Dockerfile']) {
      expect(read(file)).toMatch(
        /ENTRYPOINT \["node", "apps\/cli\/bin\/lascar.js"\]\nCMD \["worker"\]/,
      );
    }
    expect(read('docker/dashboard/Dockerfile')).toMatch(/CMD \["dashboard"\]/);
    // The Orthanc image's configuration loads the Lua hook from where the Dockerfile puts it.
    const orthanc = JSON.parse(read('docker/orthanc/lascar.json')) as { LuaScripts: string[] };
    expect(read('docker/orthanc/Dockerfile')).toContain(
      `COPY docker/orthanc/on-stable-series.lua ${orthanc.LuaScripts[0]}`,
    );
  });
});

describe('docker/k8s', () => {
  const dir = path.join(ROOT, 'docker/k8s');
  const manifests = Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );

  it('gives each container only variables its program reads', () => {
    expect(Object.keys(manifests).length).toBeGreaterThan(0);
    const accepted: Accepted = new Map([
      ['worker', workerReads],
      ['dashboard', dashboardReads],
    ]);
    expect(checkKubernetesEnvironment(manifests, accepted)).toEqual([]);
    const renamed = { ...manifests };
    renamed['config.yaml'] = renamed['config.yaml']!.replace(
      'LASCAR_CONCURRENCY',
      'LASCAR_WORKERS',
    );
    expect(checkKubernetesEnvironment(renamed, accepted)).toEqual([
      'worker.yaml: worker gets LASCAR_WORKERS (from ConfigMap/lascar-worker), which its configuration does not read',
    ]);
  });
});
