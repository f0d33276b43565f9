// `lascar worker`: the PACS worker (see apps/worker). Configuration comes from the environment
// (LASCAR_PACS_URL, DATABASE_URL, ...: apps/worker/src/config.ts); `--until-idle` processes what
// the PACS holds now and exits, for the quick start and scripts.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

export interface WorkerOptions {
  readonly untilIdle?: boolean;
}

export async function runWorker(options: WorkerOptions): Promise<void> {
  // Loaded on demand: the worker brings the database, queue and HTTP stack.
  const { ConfigError, loadConfig, startWorker, listJobs } = await import('@lascar/worker');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  let worker;
  try {
    worker = await startWorker(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const running = worker;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    running.log.info({ signal }, 'signal received');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        running.log.error({ error: String(error) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (!options.untilIdle) return;
  await running.discoverOnce();
  await running.untilIdle();
  const jobs = await listJobs(running.db.prisma, { limit: 1000 });
  await running.stop();
  process.stdout.write(
    `${JSON.stringify(
      jobs.map((j) => ({
        seriesInstanceUid: j.seriesInstanceUid,
        state: j.state,
        attempts: j.attempts,
        error: j.error,
        measurement: j.measurement,
      })),
      null,
      2,
    )}\n`,
  );
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'watch the PACS, segment every new LGE series, store the SEG back and record the results (configured by LASCAR_* environment variables)',
    )
    .option('--until-idle', 'process what the PACS holds now, print the jobs as JSON, then exit')
    .action(async (opts: { untilIdle?: boolean }) => {
      await runWorker({ untilIdle: Boolean(opts.untilIdle) });
    });
}
