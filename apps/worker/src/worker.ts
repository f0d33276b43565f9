/**
 * The worker process: database (embedded or PostgreSQL) with migrations, the networks, the
 * queue and its consumers, discovery (Orthanc change feed, QIDO poll, webhook), the HTTP service,
 * and an orderly stop (SIGTERM: stop taking work, let the running job finish or go back to the
 * queue, close everything).
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_LGE_RULES,
  parseSelectionRules,
  SelectionRulesError,
  type SelectionRules,
} from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import type PgBoss from 'pg-boss';
import { ConfigError, describeConfig, isLoopbackHost, type WorkerConfig } from './config.js';
import { openDatabase, type Database } from '@lascar/db';
import { readCursor, writeCursor } from '@lascar/db';
import { intakeSeries, type IntakeResult } from './intake.js';
import { reconcileJobs, runSegmentJob } from './jobs.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type WorkerMetrics } from './metrics.js';
import { DicomWebPacsClient, OrthancRest } from '@lascar/pacs';
import { RECHECK_QUEUE, sendRecheck, type RecheckData } from '@lascar/queue';
import { deleteRetiredObjects, runRecheck } from './series-changes.js';
import { OrthancChangeFeed, QidoPoller, type CursorStore } from './pacs/discovery.js';
import type { PacsClient, SeriesCandidate } from '@lascar/pacs';
import { guardLostQueueWrites, SEGMENT_QUEUE, startQueue, type SegmentJobData } from './queue.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { createService } from './service.js';

export interface RunningWorker {
  readonly config: WorkerConfig;
  readonly db: Database;
  readonly boss: PgBoss;
  readonly pacs: PacsClient;
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly modelVersion: string;
  /** http://host:port of the service. */
  readonly url: string;
  /** Feeds one series through selection into the queue (what the webhook and pollers call). */
  intake(candidate: SeriesCandidate): Promise<IntakeResult>;
  /** Reads the discovery sources once now (change feed, QIDO), e.g. before waiting until idle. */
  discoverOnce(): Promise<void>;
  /** Resolves when no job is queued, running or waiting to retry (checked every pollMs). */
  untilIdle(pollMs?: number): Promise<void>;
  /** Graceful stop: no new jobs, running jobs finish (up to the job timeout), then close. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  /** Consume jobs (default true); false for an intake-only process. */
  readonly consume?: boolean;
  /** Start the periodic discovery loops (default true). */
  readonly discover?: boolean;
}

async function loadRules(file: string | undefined): Promise<SelectionRules> {
  if (!file) return DEFAULT_LGE_RULES;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `LASCAR_SELECTION_RULES=${file} cannot be read: ${(error as Error).message}`,
    );
  }
  try {
    return parseSelectionRules(text);
  } catch (error) {
    if (error instanceof SelectionRulesError) {
      throw new ConfigError(`LASCAR_SELECTION_RULES=${file}: ${error.message}`);
    }
    throw error;
  }
}

async function loadNetworks(
  config: WorkerConfig,
): Promise<{ networks: LoadedNetworks; modelVersion: string }> {
  const { openNetworksFromDirectory, modelVersionOf, ModelManifestError, ExecutionProviderError } =
    await import('@lascar/core/onnx');
  try {
    const networks = await openNetworksFromDirectory(config.modelsDir, config.executionProvider);
    return { networks, modelVersion: modelVersionOf(networks.manifests) };
  } catch (error) {
    if (error instanceof ModelManifestError) {
      throw new ConfigError(`LASCAR_MODELS_DIR=${config.modelsDir}: ${error.message}`);
    }
    if (error instanceof ExecutionProviderError) {
      throw new ConfigError(
        `LASCAR_EXECUTION_PROVIDER=${config.executionProvider}: ${error.message}`,
      );
    }
    throw error;
  }
}

export async function startWorker(
  config: WorkerConfig,
  options: StartOptions = {},
): Promise<RunningWorker> {
  // loadConfig checks this too; a configuration built in code must not get around it.
  if (config.apiToken === undefined && !isLoopbackHost(config.http.host)) {
    throw new ConfigError(
      `LASCAR_HTTP_HOST=${config.http.host} is reachable from other machines: set LASCAR_API_TOKEN`,
    );
  }
  const log = options.log ?? createLogger(config.logLevel);
  log.info({ config: describeConfig(config) }, 'worker starting');
  const rules = await loadRules(config.selectionRulesFile);
  const { networks, modelVersion } = await loadNetworks(config);
  log.info({ executionProvider: networks.executionProvider }, networks.providerSummary);
  log.info(
    {
      modelVersion,
      executionProvider: networks.executionProvider,
      syntheticTraining: networks.synthetic,
    },
    networks.synthetic
      ? 'models loaded (trained on SYNTHETIC phantoms: not for clinical use)'
      : 'models loaded',
  );
  const cleanups: (() => Promise<void>)[] = [() => networks.release()];
  const cleanup = async () => {
    for (const f of cleanups.reverse())
      await f().catch((e: unknown) => log.error({ error: String(e) }, 'cleanup failed'));
  };
  try {
    const db = await openDatabase(config.database);
    cleanups.push(() => db.close());
    log.info(
      { embedded: db.embedded, embeddedOwner: db.embeddedOwner, applied: db.migrations.applied },
      'database ready',
    );
    const boss = await startQueue(
      db.url,
      config,
      Math.max(2, Math.min(db.poolSize, config.concurrency + 2)),
      (error) => log.error({ error: error.message }, 'queue error'),
    );
    cleanups.push(() => boss.stop({ graceful: false, wait: true, timeout: 5_000 }));
    const unguard = guardLostQueueWrites(log);
    cleanups.push(async () => unguard());
    const pacs = new DicomWebPacsClient({
      url: config.pacs.url,
      ...(config.pacs.username ? { username: config.pacs.username } : {}),
      ...(config.pacs.password ? { password: config.pacs.password } : {}),
      timeoutMs: config.pacs.timeoutMs,
    });
    const metrics = createMetrics(db.prisma, boss);
    const heartbeat: Heartbeat = startHeartbeat({
      prisma: db.prisma,
      log,
      intervalSeconds: config.heartbeatSeconds,
      modelVersion,
      executionProvider: networks.executionProvider,
      concurrency: (options.consume ?? true) ? config.concurrency : 0,
    });
    // Runs before the database closes (cleanups run in reverse), after the jobs have finished.
    cleanups.push(() => heartbeat.stop());
    await heartbeat.beat();
    // One intake at a time per process: discovery paths often report the same series together.
    let intakeChain: Promise<unknown> = Promise.resolve();
    const intake = (candidate: SeriesCandidate): Promise<IntakeResult> => {
      const next = intakeChain.then(() => intakeOne(candidate));
      intakeChain = next.catch(() => undefined);
      return next;
    };
    const intakeOne = async (candidate: SeriesCandidate): Promise<IntakeResult> => {
      const result = await intakeSeries(candidate, {
        prisma: db.prisma,
        pacs,
        boss,
        rules,
        modelVersion,
        log,
      });
      metrics.seriesDiscovered.inc({ source: candidate.source, selected: String(result.selected) });
      return result;
    };
    const cursors: CursorStore = {
      load: (name) => readCursor(db.prisma, name),
      save: (name, value) => writeCursor(db.prisma, name, value),
    };
    const onCandidate = async (c: SeriesCandidate) => {
      await intake(c);
    };
    const onDiscoveryError = (source: string) => (error: unknown) =>
      log.warn(
        { source, error: error instanceof Error ? error.message : String(error) },
        'discovery poll failed',
      );
    const changeFeed =
      config.orthancUrl && config.changesPollSeconds > 0
        ? new OrthancChangeFeed({
            url: config.orthancUrl,
            ...(config.pacs.username ? { username: config.pacs.username } : {}),
            ...(config.pacs.password ? { password: config.pacs.password } : {}),
            cursorStore: cursors,
            onCandidate,
            intervalMs: config.changesPollSeconds * 1000,
            onError: onDiscoveryError('orthanc-changes'),
          })
        : undefined;
    const qido =
      config.qidoPollSeconds > 0
        ? new QidoPoller({
            pacs,
            cursorStore: cursors,
            onCandidate,
            quietSeconds: config.qidoQuietSeconds,
            windowDays: config.qidoWindowDays,
            intervalMs: config.qidoPollSeconds * 1000,
            onError: onDiscoveryError('qido-poll'),
          })
        : undefined;

    const consume = async () => {
      // pg-boss 10 has no team size: one work() per concurrent job, each fetching one at a time.
      for (let n = 0; n < config.concurrency; n++) {
        await boss.work<SegmentJobData>(
          SEGMENT_QUEUE,
          { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 1 },
          async ([job]) => {
            if (!job) return;
            heartbeat.enter(job.data.jobKey);
            try {
              await runSegmentJob(job, jobDeps);
            } finally {
              heartbeat.leave(job.data.jobKey);
            }
          },
        );
      }
    };
    // A PACS that refuses the credentials would fail every job alike: take no jobs (they stay
    // queued) and ask the PACS again every retry delay; /readyz names the problem meanwhile.
    let pacsRecheck: NodeJS.Timeout | undefined;
    let stopped = false;
    const onPacsRefused = (reason: string) => {
      if (pacsRecheck || stopped) return;
      log.error({ reason }, 'PACS refused the worker: no jobs are taken until it accepts it');
      void boss.offWork(SEGMENT_QUEUE);
      const recheck = () => {
        pacsRecheck = setTimeout(() => {
          pacs.ping().then(
            async () => {
              if (stopped) return;
              pacsRecheck = undefined;
              log.info('the PACS accepts the worker again: taking jobs');
              await consume().catch((e: unknown) =>
                log.error({ error: String(e) }, 'could not take jobs again'),
              );
            },
            () => recheck(),
          );
        }, config.retryDelaySeconds * 1000);
      };
      recheck();
    };
    cleanups.push(async () => {
      stopped = true;
      clearTimeout(pacsRecheck);
    });
    // Superseded SEG/SR objects: deleted through Orthanc's REST API where it is configured, else
    // kept in the PACS and listed as retired (apps/worker/README.md). One sweep at a time.
    const orthancRest = config.orthancUrl
      ? new OrthancRest({
          url: config.orthancUrl,
          ...(config.pacs.username ? { username: config.pacs.username } : {}),
          ...(config.pacs.password ? { password: config.pacs.password } : {}),
        })
      : undefined;
    let deleting: Promise<unknown> | undefined;
    const deleteRetired = () => {
      if (deleting || !orthancRest) return;
      deleting = deleteRetiredObjects(db.prisma, orthancRest, log)
        .catch((e: unknown) =>
          log.warn(
            { error: e instanceof Error ? e.message : String(e) },
            'could not delete superseded objects yet; the sweep tries again',
          ),
        )
        .finally(() => (deleting = undefined));
    };
    cleanups.push(async () => {
      await deleting;
    });
    const jobDeps = {
      prisma: db.prisma,
      pacs,
      networks,
      modelVersion,
      method: config.method,
      log,
      metrics,
      onPacsRefused,
      onRetired: deleteRetired,
      recheck: async (series: {
        studyInstanceUid: string;
        seriesInstanceUid: string;
        fingerprint: string | null;
      }) => {
        const sent = await sendRecheck(boss, {
          ...series,
          round: 1,
          recheckSeconds: config.recheckSeconds,
        });
        if (sent) {
          log.info(
            { seriesInstanceUid: series.seriesInstanceUid, inSeconds: config.recheckSeconds },
            'the series will be looked at again after a quiet period',
          );
        }
      },
    };
    if (options.consume ?? true) {
      await consume();
      await boss.work<RecheckData>(
        RECHECK_QUEUE,
        { batchSize: 1, pollingIntervalSeconds: 1 },
        async ([job]) => {
          if (job) await runRecheck(job.data, { pacs, boss, log, intake });
        },
      );
    }
    await reconcileJobs(db.prisma, boss, log);
    deleteRetired();
    const sweep = setInterval(() => {
      reconcileJobs(db.prisma, boss, log).catch((e: unknown) =>
        log.warn({ error: String(e) }, 'reconcile failed'),
      );
      deleteRetired();
    }, config.maintenanceSeconds * 1000);
    cleanups.push(async () => clearInterval(sweep));

    const app = createService({
      prisma: db.prisma,
      pacs,
      boss,
      metrics,
      log,
      ...(config.webhookSecret ? { webhookSecret: config.webhookSecret } : {}),
      ...(config.apiToken ? { apiToken: config.apiToken } : {}),
      onCandidate: intake,
      pingDatabase: () => db.ping(),
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.http.port, config.http.host, (error?: Error) =>
        error ? reject(error) : resolve(s),
      );
    });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.address() as AddressInfo;
    const url = `http://${config.http.host}:${address.port}`;
    if (options.discover ?? true) {
      changeFeed?.start();
      qido?.start();
      cleanups.push(async () => {
        await changeFeed?.stop();
        await qido?.stop();
      });
    }
    log.info({ url, concurrency: config.concurrency, workerId: heartbeat.id }, 'worker ready');

    let stopping: Promise<void> | undefined;
    return {
      config,
      db,
      boss,
      pacs,
      log,
      metrics,
      modelVersion,
      url,
      intake,
      async discoverOnce() {
        await intakeChain;
        await changeFeed?.pollOnce();
        await qido?.pollOnce();
      },
      async untilIdle(pollMs = 500) {
        // Idle twice in a row, so a job between its retry and its next fetch is not missed.
        let quiet = 0;
        while (quiet < 2) {
          const open = await db.prisma.job.count({
            where: { state: { in: ['queued', 'active', 'retrying'] } },
          });
          quiet = open === 0 ? quiet + 1 : 0;
          await new Promise((r) => setTimeout(r, pollMs));
        }
      },
      stop() {
        stopping ??= (async () => {
          log.info('worker stopping: no new jobs; running jobs finish');
          stopped = true;
          clearTimeout(pacsRecheck);
          await changeFeed?.stop();
          await qido?.stop();
          await intakeChain;
          // A job still running after the grace period goes back to the queue (failed -> retried).
          await boss.stop({
            graceful: true,
            wait: true,
            timeout: config.shutdownGraceSeconds * 1000,
          });
          await cleanup();
          log.info('worker stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
