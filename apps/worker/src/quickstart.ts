/**
 * The quick start's main job, run by scripts/quickstart.sh inside a private network namespace:
 * a local Orthanc (Debian package) with the Lua webhook, the embedded database, a few phantom
 * LGE studies plus one non-LGE series stored into Orthanc, the worker until everything is
 * processed, then a results table and where to look.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { generatePhantom, phantomDicomDescription, writeMrSeries } from '@lascar/core';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { DicomWebPacsClient } from '@lascar/pacs';
import { freePort, startOrthanc, workerPacsEnv } from '@lascar/pacs';
import { listJobs } from './service.js';
import { startWorker } from './worker.js';

export async function runQuickstart(demoDir: string, studies = 3): Promise<void> {
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
  const config = loadConfig({
    ...workerPacsEnv(orthanc, secret),
    LASCAR_HTTP_PORT: String(port),
    LASCAR_DATA_DIR: path.join(out, 'db'),
    LASCAR_EMBEDDED_DB_PORT: '0',
    LASCAR_CHANGES_POLL_SECONDS: '2',
    LASCAR_EXECUTION_PROVIDER: process.env.LASCAR_EXECUTION_PROVIDER ?? 'auto',
    LASCAR_LOG_LEVEL: process.env.LASCAR_LOG_LEVEL ?? 'warn',
  });
  const worker = await startWorker(config, { log: createLogger(config.logLevel, process.stderr) });
  say(
    `worker ${worker.url} (embedded database in ${path.join(out, 'db')}), model ${worker.modelVersion}`,
  );
  const pacs = new DicomWebPacsClient({
    url: orthanc.dicomWebUrl,
    username: orthanc.username,
    password: orthanc.password,
  });
  try {
    for (let n = 0; n < studies; n++) {
      const phantom = generatePhantom(2026 + n, { scale: 0.5 });
      const d = phantomDicomDescription(phantom.truth, `quickstart-${n + 1}`);
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
    say('waiting for Orthanc to call the series stable and the worker to process them...');
    // Series become stable StableAge seconds after their last instance; then the webhook fires.
    await new Promise((r) => setTimeout(r, 5_000));
    await worker.discoverOnce();
    await worker.untilIdle(1_000);
    const jobs = await listJobs(worker.db.prisma, { limit: 100 });
    const decisions = await worker.db.prisma.selectionDecision.findMany({
      where: { selected: false },
      include: { series: { select: { seriesInstanceUid: true, seriesDescription: true } } },
    });
    const rows = [
      ['series', 'state', 'LA mL', 'scar mL', 'burden %', 'Utah', 'DECAAF', 'SEG stored'],
      ...jobs.map((j) => [
        `${j.seriesDescription ?? ''} ${j.seriesInstanceUid.slice(-12)}`.trim(),
        j.state,
        j.measurement ? j.measurement.laVolumeMl.toFixed(1) : '-',
        j.measurement ? j.measurement.scarVolumeMl.toFixed(2) : '-',
        j.measurement?.scarBurdenPercent != null ? j.measurement.scarBurdenPercent.toFixed(1) : '-',
        j.measurement?.utahStage ?? '-',
        j.measurement?.decaafStage ?? '-',
        j.segSeriesInstanceUid ? 'yes' : 'no',
      ]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    say('');
    say('Models trained on SYNTHETIC phantoms only: NOT for clinical use.');
    say(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n'));
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
      'Run it against your PACS: LASCAR_PACS_URL=... npx lascar worker (see apps/worker/src/config.ts)',
    );
  } finally {
    await worker.stop();
    await orthanc.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runQuickstart(process.argv[2] ?? 'demo', Number(process.env.QUICKSTART_STUDIES ?? 3)).catch(
    (error: unknown) => {
      process.stderr.write(
        `quickstart failed: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
