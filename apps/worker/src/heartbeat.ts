/**
 * This process's heartbeat: its row in WorkerHeartbeat (@lascar/db) rewritten every
 * LASCAR_HEARTBEAT_SECONDS with the jobs it is on, so the admins' overview can list the workers
 * and flag one that stopped beating while holding a job. A beat that fails (database away) is
 * logged and the next one tries again; it never stops the worker.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  pruneWorkerRows,
  recordHeartbeat,
  recordWorkerStopped,
  type PrismaClient,
} from '@lascar/db';
import type { Logger } from './log.js';

/** The worker package's version (this file is apps/worker/{src,dist}/heartbeat.{ts,js}). */
export const WORKER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export interface Heartbeat {
  readonly id: string;
  /** Marks a job as this process's until `leave`. */
  enter(jobKey: string): void;
  leave(jobKey: string): void;
  /** Beats now (also what the timer calls). */
  beat(): Promise<void>;
  /** Stops the timer and records an orderly stop. */
  stop(): Promise<void>;
}

export function startHeartbeat(options: {
  prisma: PrismaClient;
  log: Logger;
  intervalSeconds: number;
  modelVersion: string;
  executionProvider: string;
  concurrency: number;
}): Heartbeat {
  const id = randomUUID();
  // A count per key: with concurrency > 1 the same key could in principle be fetched twice.
  const running = new Map<string, number>();
  let failing = false;
  let stopped = false;
  const beatOnce = async () => {
    if (stopped) return;
    try {
      await recordHeartbeat(options.prisma, {
        id,
        host: hostname(),
        pid: process.pid,
        version: WORKER_VERSION,
        modelVersion: options.modelVersion,
        executionProvider: options.executionProvider,
        concurrency: options.concurrency,
        intervalSeconds: options.intervalSeconds,
        jobKeys: [...running.keys()],
      });
      if (failing) options.log.info({ workerId: id }, 'heartbeat recorded again');
      failing = false;
    } catch (error) {
      if (!failing) {
        options.log.warn(
          { workerId: id, error: error instanceof Error ? error.message : String(error) },
          'heartbeat failed; trying again at the next beat',
        );
      }
      failing = true;
    }
  };
  // One beat at a time, in order: a late beat must not overwrite a newer one, nor a stop.
  let chain: Promise<void> = Promise.resolve();
  const beat = () => (chain = chain.then(beatOnce));
  const timer = setInterval(() => void beat(), options.intervalSeconds * 1000);
  timer.unref();
  // Housekeeping once per process start: rows of workers long gone (workers.ts says which).
  pruneWorkerRows(options.prisma).then(
    (rows) => {
      if (rows > 0) options.log.info({ rows }, 'removed heartbeat rows of workers long gone');
    },
    (error: unknown) =>
      options.log.warn({ error: String(error) }, 'could not remove old heartbeat rows'),
  );
  return {
    id,
    enter(jobKey) {
      running.set(jobKey, (running.get(jobKey) ?? 0) + 1);
      // Say so at once: a job shorter than a beat would otherwise never show.
      void beat();
    },
    leave(jobKey) {
      const n = (running.get(jobKey) ?? 1) - 1;
      if (n > 0) running.set(jobKey, n);
      else running.delete(jobKey);
      // ...and when it ends, or the list would show a finished job for up to a beat.
      void beat();
    },
    beat,
    async stop() {
      clearInterval(timer);
      stopped = true;
      await chain;
      await recordWorkerStopped(options.prisma, id).catch((error: unknown) =>
        options.log.warn({ workerId: id, error: String(error) }, 'could not record the stop'),
      );
    },
  };
}
