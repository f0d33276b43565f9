/**
 * The quick start's main job, run by scripts/quickstart.sh inside a private network namespace:
 * a local Orthanc (Debian package) with the Lua webhook, the embedded database, a few phantom
 * LGE studies (one patient followed over three studies, another with one) plus one non-LGE
 * series stored into Orthanc, the worker until everything is processed, a results table, then
 * the dashboard on the same embedded database with two demo accounts (passwords generated and
 * shown once). Interactive runs keep serving until Ctrl-C; others check the dashboard answers
 * and stop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import {
  generatePhantom,
  phantomDicomDescription,
  qcFlagReason,
  writeMrSeries,
} from '@lascar/core';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { DicomWebPacsClient } from '@lascar/pacs';
import { freePort, startOrthanc, workerPacsEnv } from '@lascar/pacs/orthanc';
import { listJobs } from './service.js';
import { startWorker, type RunningWorker } from './worker.js';

/** The `lascar` command (apps/cli/bin/lascar.js; this file is apps/worker/{src,dist}/quickstart). */
const LASCAR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../cli/bin/lascar.js',
);

/** The demo follows one patient over time, so the dashboard's trend has points to show. */
const FOLLOWED = { patientId: 'DEMO-0001', patientName: 'DEMO^ALEX', birthDate: '19580314' };
const FOLLOW_UP_DATES = ['20240312', '20240917', '20250408'];

function demoPassword(): string {
  return randomBytes(12).toString('base64url');
}

/** `lascar users add` as a user would run it: the password on standard input. */
function addDemoUser(
  databaseUrl: string,
  email: string,
  role: string,
  name: string,
  password: string,
): void {
  const run = spawnSync(
    process.execPath,
    [LASCAR, 'users', 'add', '--email', email, '--role', role, '--name', name],
    {
      input: `${password}\n`,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`lascar users add ${email} failed: ${run.stderr.trim()}`);
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the dashboard exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { redirect: 'manual' });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the dashboard did not answer ${url} within ${timeoutMs / 1000} s`);
}

export interface QuickstartOptions {
  /** Keep serving until Ctrl-C (default: when standard input is a terminal). */
  readonly serve?: boolean;
  /** A Unix socket file the dashboard is also reachable on (bridged to the host by quickstart.sh). */
  readonly dashboardSocket?: string;
  /** The URL a browser on the host uses (what the bridge listens on). */
  readonly publicUrl?: string;
}

export async function runQuickstart(
  demoDir: string,
  studies = 4,
  options: QuickstartOptions = {},
): Promise<void> {
  const out = path.resolve(demoDir);
  await rm(path.join(out, 'orthanc'), { recursive: true, force: true });
  await rm(path.join(out, 'db'), { recursive: true, force: true });
  await mkdir(path.join(out, 'results'), { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const secret = randomBytes(18).toString('hex');
  const port = await freePort();
  const orthanc = await startOrthanc({
    webhookUrl: `http://127.0.0.1:${port}/webhook/orthanc`,
    secret,
    stableAgeSeconds: 2,
    storeDir: path.join(out, 'orthanc'),
  });
  say(`Orthanc ${orthanc.url} (private network namespace), storage ${orthanc.storeDir}`);
  let dashboard: ChildProcess | undefined;
  let bridge: net.Server | undefined;
  let worker: RunningWorker | undefined;
  const pacs = new DicomWebPacsClient({
    url: orthanc.dicomWebUrl,
    username: orthanc.username,
    password: orthanc.password,
  });
  try {
    for (let n = 0; n < studies; n++) {
      const phantom = generatePhantom(2026 + n, { scale: 0.5 });
      const generated = phantomDicomDescription(phantom.truth, `quickstart-${n + 1}`);
      const followUp = FOLLOW_UP_DATES[n];
      const d = followUp
        ? {
            ...generated,
            identity: {
              ...generated.identity,
              patientId: FOLLOWED.patientId,
              patientName: FOLLOWED.patientName,
              patientBirthDate: FOLLOWED.birthDate,
              studyDate: followUp,
            },
          }
        : generated;
      await pacs.storeInstances(
        d.identity.studyInstanceUid,
        writeMrSeries(phantom.image, d.identity, d.acquisition),
      );
      if (n === 0) {
        // A cine series in the first study: the selection rules skip it and say why.
        const cine = writeMrSeries(phantom.image, d.identity, {
          ...d.acquisition,
          seriesInstanceUid: `${d.identity.studyInstanceUid}.9`,
          seriesNumber: 3,
          seriesDescription: 'CINE SAX retro',
          protocolName: 'cine_sax',
        });
        await pacs.storeInstances(d.identity.studyInstanceUid, cine);
      }
      say(
        `stored phantom study ${n + 1}/${studies} (${phantom.image.geometry.dims.join(' x ')}) in Orthanc`,
      );
    }
    // The studies are all in before the worker starts: the networks run synchronously on the
    // worker's main thread, and on a loaded 2-core machine storing while it segments can time out.
    // The worker finds them through Orthanc's change feed (the webhook has no listener yet).
    await new Promise((r) => setTimeout(r, 3_000));
    // The API needs no token on 127.0.0.1, but the demo runs as deployed: with one.
    const apiToken = randomBytes(32).toString('hex');
    const config = loadConfig({
      ...workerPacsEnv(orthanc, secret),
      LASCAR_API_TOKEN: apiToken,
      LASCAR_HTTP_PORT: String(port),
      LASCAR_DATA_DIR: path.join(out, 'db'),
      LASCAR_EMBEDDED_DB_PORT: '0',
      LASCAR_CHANGES_POLL_SECONDS: '2',
      LASCAR_EXECUTION_PROVIDER: process.env.LASCAR_EXECUTION_PROVIDER ?? 'auto',
      LASCAR_LOG_LEVEL: process.env.LASCAR_LOG_LEVEL ?? 'warn',
    });
    worker = await startWorker(config, { log: createLogger(config.logLevel, process.stderr) });
    say(
      `worker ${worker.url} (embedded database in ${path.join(out, 'db')}), model ${worker.modelVersion}`,
    );
    say('the worker is processing them...');
    await worker.discoverOnce();
    await worker.untilIdle(1_000);
    const jobs = await listJobs(worker.db.prisma, { limit: 100 });
    const decisions = await worker.db.prisma.selectionDecision.findMany({
      where: { selected: false },
      include: { series: { select: { seriesInstanceUid: true, seriesDescription: true } } },
    });
    const rows = [
      ['series', 'state', 'LA mL', 'scar mL', 'burden %', 'Utah', 'DECAAF', 'QC', 'SEG stored'],
      ...jobs.map((j) => [
        `${j.seriesDescription ?? ''} ${j.seriesInstanceUid.slice(-12)}`.trim(),
        j.state,
        j.measurement ? j.measurement.laVolumeMl.toFixed(1) : '-',
        j.measurement ? j.measurement.scarVolumeMl.toFixed(2) : '-',
        j.measurement?.scarBurdenPercent != null ? j.measurement.scarBurdenPercent.toFixed(1) : '-',
        j.measurement?.utahStage ?? '-',
        j.measurement?.decaafStage ?? '-',
        !j.measurement ? '-' : j.measurement.qcFlags.length ? 'needs review' : 'passed',
        j.segSeriesInstanceUid ? 'yes' : 'no',
      ]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    say('');
    say('Models trained on SYNTHETIC phantoms only: NOT for clinical use.');
    say(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n'));
    for (const j of jobs) {
      for (const flag of j.measurement?.qcFlags ?? []) {
        say(`needs review: ${j.seriesInstanceUid.slice(-12)}: ${qcFlagReason(flag)}`);
      }
    }
    const skipped = new Map(decisions.map((d) => [d.series.seriesInstanceUid, d]));
    for (const d of skipped.values()) {
      say(`skipped: ${d.series.seriesDescription ?? d.series.seriesInstanceUid}: ${d.reason}`);
    }
    // The key-slice pictures and the job list, as files to look at after Orthanc has stopped.
    await writeFile(path.join(out, 'results', 'jobs.json'), `${JSON.stringify(jobs, null, 2)}\n`);
    for (const j of jobs) {
      const m = await worker.db.prisma.measurement.findUnique({
        where: { jobRef: j.id },
        include: { overlays: true },
      });
      for (const o of m?.overlays ?? []) {
        await writeFile(
          path.join(out, 'results', `${j.seriesInstanceUid}-slice${o.sliceIndex}.png`),
          o.png,
        );
      }
    }
    say('');
    say(
      `Results: ${path.join(out, 'results')} (jobs.json, key-slice PNGs: LA outline green, scar red)`,
    );
    say(`SEG objects: stored back into each study in Orthanc (storage ${orthanc.storeDir})`);
    say(
      `Database: ${path.join(out, 'db')} (embedded PostgreSQL; tables Job, JobStage, Measurement, SelectionDecision)`,
    );
    say(
      `Worker API (while this runs): curl -H 'Authorization: Bearer ${apiToken}' ${worker.url}/jobs`,
    );
    say(
      'Run it against your PACS: LASCAR_PACS_URL=... LASCAR_API_TOKEN=... npx lascar worker (see apps/worker/src/config.ts)',
    );

    // The dashboard on the same embedded database, as `lascar dashboard` runs it in production.
    const logins = [
      { email: 'cardiologist@demo.local', role: 'cardiologist', name: 'Demo Cardiologist' },
      { email: 'admin@demo.local', role: 'admin', name: 'Demo Admin' },
    ].map((u) => ({ ...u, password: demoPassword() }));
    for (const u of logins) addDemoUser(worker.db.url, u.email, u.role, u.name, u.password);
    const dashboardPort = await freePort();
    const publicUrl = options.publicUrl ?? `http://127.0.0.1:${dashboardPort}`;
    dashboard = spawn(process.execPath, [LASCAR, 'dashboard'], {
      env: {
        ...process.env,
        ...workerPacsEnv(orthanc, secret),
        DATABASE_URL: worker.db.url,
        LASCAR_AUTH_SECRET: randomBytes(32).toString('hex'),
        LASCAR_DASHBOARD_PORT: String(dashboardPort),
        LASCAR_DASHBOARD_URL: publicUrl,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForHttp(`http://127.0.0.1:${dashboardPort}/login`, 60_000, dashboard);
    if (options.dashboardSocket) {
      await rm(options.dashboardSocket, { force: true });
      bridge = net.createServer((client) => {
        const upstream = net.connect(dashboardPort, '127.0.0.1');
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve) => bridge!.listen(options.dashboardSocket, resolve));
    }
    say('');
    say(`Dashboard: ${publicUrl} (log in once with each; the passwords are not stored anywhere)`);
    for (const u of logins) say(`  ${u.role.padEnd(12)} ${u.email}  password ${u.password}`);
    const serve = options.serve ?? Boolean(process.stdin.isTTY);
    if (serve) {
      say('Serving until Ctrl-C.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    } else {
      say('Not a terminal: stopping now (QUICKSTART_SERVE=1 keeps it running).');
    }
  } finally {
    bridge?.close();
    dashboard?.kill('SIGTERM');
    await worker?.stop();
    await orthanc.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const serve = process.env.QUICKSTART_SERVE;
  runQuickstart(process.argv[2] ?? 'demo', Number(process.env.QUICKSTART_STUDIES ?? 4), {
    ...(serve !== undefined ? { serve: serve === '1' } : {}),
    ...(process.env.QUICKSTART_SOCKET ? { dashboardSocket: process.env.QUICKSTART_SOCKET } : {}),
    ...(process.env.QUICKSTART_PUBLIC_URL ? { publicUrl: process.env.QUICKSTART_PUBLIC_URL } : {}),
  }).catch((error: unknown) => {
    process.stderr.write(
      `quickstart failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  });
}
