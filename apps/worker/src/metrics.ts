/** Prometheus metrics: jobs by state, stage durations, queue depth, discovered series. */
import type PgBoss from 'pg-boss';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JOB_STATES, type PrismaClient } from '@lascar/db';
import { SEGMENT_QUEUE } from './queue.js';

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly stageSeconds: Histogram<'stage' | 'outcome'>;
  readonly seriesDiscovered: Counter<'source' | 'selected'>;
}

export function createMetrics(prisma: PrismaClient, boss: PgBoss): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lascar_worker_' });
  new Gauge({
    name: 'lascar_jobs',
    help: 'Segmentation jobs by state (all worker processes on this database)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const rows = await prisma.job.groupBy({ by: ['state'], _count: { _all: true } });
      for (const s of JOB_STATES) this.set({ state: s }, 0);
      for (const r of rows) this.set({ state: r.state }, r._count._all);
    },
  });
  new Gauge({
    name: 'lascar_queue_depth',
    help: 'Jobs waiting in the queue (created or waiting to retry)',
    registers: [registry],
    async collect() {
      this.set(await boss.getQueueSize(SEGMENT_QUEUE));
    },
  });
  const stageSeconds = new Histogram({
    name: 'lascar_job_stage_duration_seconds',
    help: 'Duration of each job stage (retrieve, load, la_model, scar_model, write, store)',
    labelNames: ['stage', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160],
    registers: [registry],
  });
  const seriesDiscovered = new Counter({
    name: 'lascar_series_discovered_total',
    help: 'Series looked at by the selection rules, by discovery path and decision',
    labelNames: ['source', 'selected'] as const,
    registers: [registry],
  });
  return { registry, stageSeconds, seriesDiscovered };
}
