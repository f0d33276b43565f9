/**
 * The worker's HTTP surface (express 5): health, readiness, Prometheus metrics, the Orthanc
 * webhook, and the job list for operators and scripts. No route returns patient names.
 * Everything but /healthz, /readyz and the webhook (which has its own secret) needs the bearer
 * token when one is configured; the configuration refuses a non-loopback address without one.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type PgBoss from 'pg-boss';
import { JOB_STATES, type PrismaClient } from '@lascar/db';
import { retryJob } from '@lascar/queue';
import type { Logger } from './log.js';
import type { WorkerMetrics } from './metrics.js';
import { parseOrthancWebhook, WebhookError } from './pacs/discovery.js';
import { pacsConfigurationProblem, type PacsClient, type SeriesCandidate } from '@lascar/pacs';

export interface ServiceDeps {
  readonly prisma: PrismaClient;
  readonly pacs: PacsClient;
  readonly boss: PgBoss;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  readonly webhookSecret?: string;
  /** Bearer token for the protected routes; unset = open (loopback only, see config.ts). */
  readonly apiToken?: string;
  readonly onCandidate: (candidate: SeriesCandidate) => Promise<unknown>;
  readonly pingDatabase: () => Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A job as GET /jobs shows it: identifiers, state, stages, error, measurements; no names. */
export async function listJobs(
  prisma: PrismaClient,
  filter: { state?: string; seriesInstanceUid?: string; limit?: number } = {},
) {
  const state = JOB_STATES.find((s) => s === filter.state);
  const jobs = await prisma.job.findMany({
    where: {
      ...(state ? { state } : {}),
      ...(filter.seriesInstanceUid
        ? { series: { seriesInstanceUid: filter.seriesInstanceUid } }
        : {}),
    },
    orderBy: { createdAt: 'desc' },
    take: Math.min(Math.max(filter.limit ?? 100, 1), 1000),
    include: {
      series: {
        select: {
          seriesInstanceUid: true,
          seriesDescription: true,
          study: { select: { studyInstanceUid: true } },
        },
      },
      stages: { orderBy: [{ attempt: 'asc' }, { startedAt: 'asc' }] },
      measurement: {
        include: { overlays: { select: { sliceIndex: true, width: true, height: true } } },
      },
    },
  });
  return jobs.map((j) => ({
    id: j.id,
    jobKey: j.jobKey,
    studyInstanceUid: j.series.study.studyInstanceUid,
    seriesInstanceUid: j.series.seriesInstanceUid,
    seriesDescription: j.series.seriesDescription,
    modelVersion: j.modelVersion,
    state: j.state,
    attempts: j.attempts,
    error: j.error,
    segSeriesInstanceUid: j.segSeriesInstanceUid,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    stages: j.stages.map((s) => ({
      attempt: s.attempt,
      stage: s.stage,
      startedAt: s.startedAt,
      durationMs: s.durationMs === null ? null : Math.round(s.durationMs * 10) / 10,
      error: s.error,
    })),
    measurement: j.measurement
      ? {
          laVolumeMl: j.measurement.laVolumeMl,
          scarVolumeMl: j.measurement.scarVolumeMl,
          wallVolumeMl: j.measurement.wallVolumeMl,
          scarBurdenPercent: j.measurement.scarBurdenPercent,
          burdenMethod: j.measurement.burdenMethod,
          wallDefinition: j.measurement.wallDefinition,
          utahStage: j.measurement.utahStage,
          decaafStage: j.measurement.decaafStage,
          modelVersion: j.measurement.modelVersion,
          syntheticTraining: j.measurement.syntheticTraining,
          executionProvider: j.measurement.executionProvider,
          // Quality control: "<code>: <reason>" per flag; empty when nothing needs review.
          qcFlags: j.measurement.qcFlags,
          overlays: j.measurement.overlays.map((o) => ({
            ...o,
            href: `/jobs/${j.id}/overlays/${o.sliceIndex}.png`,
          })),
        }
      : null,
  }));
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether an Authorization header carries the token. Both sides are hashed first, so
 * timingSafeEqual always compares 32 bytes: a token of the wrong length fails in the same time
 * as a wrong one and tells nothing about the real one's length.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const offered = digest(m?.[1] ?? '');
  // Compare even when the header is missing or malformed: the answer takes the same time.
  return timingSafeEqual(offered, digest(token)) && m !== null;
}

export function createService(deps: ServiceDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  // Every answer names its request, so an operator can find a failed one in the log.
  app.use((req, res, next) => {
    const id = randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const check = async (f: () => Promise<void>) => {
      try {
        await f();
        return 'ok';
      } catch (error) {
        // Wrong credentials are not an outage: say so, so nobody waits for the PACS to recover.
        return pacsConfigurationProblem(error) ?? (error as Error).message;
      }
    };
    const [database, pacs] = await Promise.all([
      check(deps.pingDatabase),
      check(() => deps.pacs.ping()),
    ]);
    const ready = database === 'ok' && pacs === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', database, pacs });
  });

  // Below this line every route needs the token (when one is configured).
  const protectedRoutes = express.Router();
  protectedRoutes.use((req, res, next) => {
    if (deps.apiToken === undefined || bearerMatches(req.headers.authorization, deps.apiToken)) {
      next();
      return;
    }
    deps.log.warn(
      { requestId: res.locals.requestId, method: req.method, path: req.path },
      'API request refused: missing or wrong bearer token',
    );
    res
      .status(401)
      .setHeader('www-authenticate', 'Bearer realm="lascar-worker"')
      .json({ error: 'a valid bearer token (LASCAR_API_TOKEN) is required' });
  });

  protectedRoutes.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.post(
    '/webhook/orthanc',
    express.text({ type: '*/*', limit: '64kb' }),
    async (req: Request, res: Response) => {
      let candidate: SeriesCandidate;
      try {
        candidate = parseOrthancWebhook(req.headers, req.body, deps.webhookSecret ?? '');
      } catch (error) {
        if (error instanceof WebhookError) {
          deps.log.warn({ status: error.status, error: error.message }, 'webhook refused');
          res.status(error.status).json({ error: error.message });
          return;
        }
        throw error;
      }
      // Answer first, then look at the series: Orthanc's Lua HttpPost waits for this answer,
      // and the intake calls back into Orthanc (QIDO), which stalls while the Lua call is open.
      res.status(202).json({
        accepted: candidate.series.seriesInstanceUid,
        studyInstanceUid: candidate.series.studyInstanceUid,
      });
      deps.onCandidate(candidate).catch((error: unknown) => {
        // The change feed (or the QIDO poll) finds the series again.
        deps.log.error(
          {
            seriesInstanceUid: candidate.series.seriesInstanceUid,
            error: error instanceof Error ? error.message : String(error),
          },
          'webhook intake failed',
        );
      });
    },
  );

  protectedRoutes.get('/jobs', async (req, res) => {
    const q = req.query;
    res.json(
      await listJobs(deps.prisma, {
        ...(typeof q.state === 'string' ? { state: q.state } : {}),
        ...(typeof q.series === 'string' ? { seriesInstanceUid: q.series } : {}),
        ...(typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? { limit: Number(q.limit) } : {}),
      }),
    );
  });

  protectedRoutes.get('/jobs/:id/overlays/:slice.png', async (req, res) => {
    const { id, slice } = req.params;
    if (!UUID.test(id) || !/^\d+$/.test(slice)) {
      res.status(404).end();
      return;
    }
    const m = await deps.prisma.measurement.findUnique({
      where: { jobRef: id },
      select: { id: true },
    });
    const o = m
      ? await deps.prisma.overlayImage.findUnique({
          where: { measurementRef_sliceIndex: { measurementRef: m.id, sliceIndex: Number(slice) } },
        })
      : null;
    if (!o) {
      res.status(404).json({ error: `no overlay for job ${id} slice ${slice}` });
      return;
    }
    res.type('image/png').send(Buffer.from(o.png));
  });

  protectedRoutes.post('/jobs/:id/retry', async (req, res) => {
    const { id } = req.params;
    if (!UUID.test(id)) {
      res.status(404).json({ error: `no job ${id}` });
      return;
    }
    const outcome = await retryJob(deps.prisma, deps.boss, id);
    if (outcome === 'not-found') res.status(404).json({ error: `no job ${id}` });
    else if (outcome === 'busy')
      res.status(409).json({ error: `job ${id} is still queued or running` });
    else res.status(202).json({ id, state: 'queued' });
  });

  app.use(protectedRoutes);

  // The detail (which may name tables, hosts or files) goes to the log, never to the caller.
  app.use((error: Error, req: Request, res: Response, _next: express.NextFunction) => {
    const requestId = String(res.locals.requestId);
    deps.log.error(
      { requestId, method: req.method, path: req.path, error: error.message, stack: error.stack },
      'request failed',
    );
    if (res.headersSent) return;
    res.status(500).json({ error: 'internal error', requestId });
  });
  return app;
}
