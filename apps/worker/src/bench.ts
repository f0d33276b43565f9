/**
 * `npm run bench:worker`: end-to-end latency of the worker on CPU, from the moment the last
 * instance of a study is stored in Orthanc (STOW-RS answered) to the moment its SEG is stored,
 * for a 44-slice and an 88-slice phantom LGE study, with the time per stage and the peak memory
 * (resident set) of the worker process. Runs a real Orthanc (Debian) in a private network
 * namespace with the Lua webhook, and the embedded database (or DATABASE_URL).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generatePhantom, phantomDicomDescription, writeMrSeries } from '@lascar/core';
import { randomBytes } from 'node:crypto';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { DicomWebPacsClient } from '@lascar/pacs';
import { freePort, startOrthanc, workerPacsEnv } from '@lascar/pacs/orthanc';
import { JOB_STAGES } from './process-series.js';
import { startWorker } from './worker.js';

const STABLE_AGE_SECONDS = 2;

interface BenchRow {
  readonly slices: number;
  readonly grid: string;
  readonly latencyMs: number;
  readonly stagesMs: Record<string, number>;
  readonly peakRssMb: number;
}

export async function runWorkerBench(sizes: readonly number[] = [44, 88]): Promise<BenchRow[]> {
  const work = await mkdtemp(path.join(tmpdir(), 'lascar-bench-worker-'));
  const secret = randomBytes(18).toString('hex');
  const port = await freePort();
  const orthanc = await startOrthanc({
    webhookUrl: `http://127.0.0.1:${port}/webhook/orthanc`,
    secret,
    stableAgeSeconds: STABLE_AGE_SECONDS,
  });
  const env: Record<string, string> = {
    ...workerPacsEnv(orthanc, secret),
    LASCAR_HTTP_PORT: String(port),
    LASCAR_EXECUTION_PROVIDER: process.env.LASCAR_EXECUTION_PROVIDER ?? 'cpu',
    LASCAR_DATA_DIR: path.join(work, 'db'),
    LASCAR_EMBEDDED_DB_PORT: '0',
    LASCAR_CHANGES_POLL_SECONDS: '0',
    LASCAR_LOG_LEVEL: 'warn',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
  const config = loadConfig(env);
  const worker = await startWorker(config, { log: createLogger('warn', process.stderr) });
  const pacs = new DicomWebPacsClient({
    url: orthanc.dicomWebUrl,
    username: orthanc.username,
    password: orthanc.password,
  });
  const rows: BenchRow[] = [];
  try {
    for (const [n, slices] of sizes.entries()) {
      const phantom = generatePhantom(9100 + n, { slices });
      const described = phantomDicomDescription(phantom.truth, `bench-${slices}`);
      const instances = writeMrSeries(phantom.image, described.identity, described.acquisition);
      const [nx, ny, nz] = phantom.image.geometry.dims;
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      await pacs.storeInstances(described.identity.studyInstanceUid, instances);
      const lastStored = Date.now();
      let job;
      for (;;) {
        job = await worker.db.prisma.job.findFirst({
          where: { series: { study: { studyInstanceUid: described.identity.studyInstanceUid } } },
          include: { stages: true },
        });
        if (job?.state === 'completed' || job?.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      clearInterval(sampler);
      if (job.state === 'failed') throw new Error(`bench job failed: ${job.error}`);
      const store = job.stages.find((s) => s.stage === 'store')!;
      const segStored = store.startedAt.getTime() + (store.durationMs ?? 0);
      rows.push({
        slices,
        grid: `${nx}x${ny}x${nz}`,
        latencyMs: segStored - lastStored,
        stagesMs: Object.fromEntries(job.stages.map((s) => [s.stage, s.durationMs ?? 0])),
        peakRssMb: peak / 2 ** 20,
      });
    }
  } finally {
    await worker.stop();
    await orthanc.dispose();
    await rm(work, { recursive: true, force: true });
  }
  return rows;
}

export function benchTable(rows: readonly BenchRow[]): string {
  const header = ['slices', 'grid', 'latency s', ...JOB_STAGES.map((s) => `${s} s`), 'peak RSS MB'];
  const body = rows.map((r) => [
    String(r.slices),
    r.grid,
    (r.latencyMs / 1000).toFixed(2),
    ...JOB_STAGES.map((s) => ((r.stagesMs[s] ?? 0) / 1000).toFixed(2)),
    r.peakRssMb.toFixed(0),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  return all.map((row) => row.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  process.stderr.write(
    `bench:worker (${here}): phantom studies through Orthanc + the worker on CPU...\n`,
  );
  runWorkerBench().then(
    (rows) => {
      process.stdout.write(
        `latency = last instance stored (STOW answered) -> SEG stored; includes Orthanc's StableAge of ${STABLE_AGE_SECONDS} s, the webhook, intake and queue pickup\n`,
      );
      process.stdout.write(`${benchTable(rows)}\n`);
      process.stdout.write(
        `peak RSS: the whole worker process (networks, database, Orthanc client) while the study was processed\n`,
      );
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:worker failed: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
