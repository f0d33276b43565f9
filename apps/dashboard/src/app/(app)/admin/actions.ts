'use server';
/**
 * The admins' queue actions. Each goes through @lascar/queue (the code behind the worker's
 * POST /jobs/:id/retry), is admin-only, and is audited with its outcome. Repeating one (a double
 * click) changes nothing the second time: the shared code claims the job with one conditional
 * UPDATE.
 */
import { currentModelVersion, failedJobIds } from '@lascar/db';
import { cancelJob, processAnyway, retryJob, retryJobs } from '@lascar/queue';
import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import type { ActionState } from '@/components/operations';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { queue } from '@/server/queue';
import { requireRole } from '@/server/session';
import { jobFilterOf } from './jobs/filter';

const Id = z.uuid();

export async function retryJobAction(_prev: ActionState, form: FormData): Promise<ActionState> {
  const admin = await requireRole('admin');
  const id = Id.safeParse(form.get('jobId'));
  if (!id.success) return { error: 'No such job.' };
  try {
    const outcome = await retryJob(await prisma(), await queue(), id.data);
    await audit(admin, {
      action: 'job.retry',
      outcome: outcome === 'not-found' ? 'failed' : 'ok',
      detail: `job ${id.data}: ${outcome}`,
    });
    revalidatePath('/admin/jobs');
    if (outcome === 'queued') return { message: 'Queued again.' };
    if (outcome === 'busy') return { message: 'Already queued or running.' };
    return { error: 'No such job.' };
  } catch (error) {
    console.error('job.retry failed', error);
    await audit(admin, { action: 'job.retry', outcome: 'failed', detail: `job ${id.data}` });
    return { error: 'The job could not be queued: the queue is unavailable.' };
  }
}

export async function retryFailedAction(_prev: ActionState, form: FormData): Promise<ActionState> {
  const admin = await requireRole('admin');
  const filter = jobFilterOf({
    state: 'failed',
    from: String(form.get('from') ?? ''),
    to: String(form.get('to') ?? ''),
    q: String(form.get('q') ?? ''),
  });
  try {
    const db = await prisma();
    const ids = await failedJobIds(db, filter);
    const result = await retryJobs(db, await queue(), ids);
    await audit(admin, {
      action: 'jobs.retry-failed',
      outcome: 'ok',
      detail: `${result.queued} queued, ${result.busy} already queued, of ${ids.length} failed`,
    });
    revalidatePath('/admin/jobs');
    return { message: `${result.queued} of ${ids.length} failed jobs queued again.` };
  } catch (error) {
    console.error('jobs.retry-failed failed', error);
    await audit(admin, { action: 'jobs.retry-failed', outcome: 'failed' });
    return { error: 'The jobs could not be queued: the queue is unavailable.' };
  }
}

export async function cancelJobAction(_prev: ActionState, form: FormData): Promise<ActionState> {
  const admin = await requireRole('admin');
  const id = Id.safeParse(form.get('jobId'));
  if (!id.success) return { error: 'No such job.' };
  try {
    const outcome = await cancelJob(await prisma(), await queue(), id.data, admin.email);
    await audit(admin, {
      action: 'job.cancel',
      outcome: outcome === 'not-found' ? 'failed' : 'ok',
      detail: `job ${id.data}: ${outcome}`,
    });
    revalidatePath('/admin/jobs');
    if (outcome === 'cancelled') return { message: 'Cancelled.' };
    if (outcome === 'busy') return { message: 'Not waiting any more (running or finished).' };
    return { error: 'No such job.' };
  } catch (error) {
    console.error('job.cancel failed', error);
    await audit(admin, { action: 'job.cancel', outcome: 'failed', detail: `job ${id.data}` });
    return { error: 'The job could not be cancelled: the queue is unavailable.' };
  }
}

export async function processAnywayAction(
  _prev: ActionState,
  form: FormData,
): Promise<ActionState> {
  const admin = await requireRole('admin');
  const id = Id.safeParse(form.get('seriesRef'));
  if (!id.success) return { error: 'No such series.' };
  try {
    const db = await prisma();
    const modelVersion = await currentModelVersion(db);
    if (!modelVersion) {
      await audit(admin, {
        action: 'series.process-anyway',
        outcome: 'denied',
        detail: `series ${id.data}: no model version known yet`,
      });
      return { error: 'The worker has not queued any job yet, so its model version is unknown.' };
    }
    const result = await processAnyway(db, await queue(), id.data, modelVersion, admin.email);
    await audit(admin, {
      action: 'series.process-anyway',
      outcome: result.outcome === 'not-found' ? 'failed' : 'ok',
      detail:
        result.outcome === 'queued'
          ? `series ${id.data}: queued job ${result.jobId}, overrode: ${result.overruled}`
          : `series ${id.data}: ${result.outcome}`,
    });
    revalidatePath('/admin/series');
    if (result.outcome === 'queued') return { message: 'Queued.' };
    if (result.outcome === 'exists') return { message: `It already has a job (${result.state}).` };
    return { error: 'No such series.' };
  } catch (error) {
    console.error('series.process-anyway failed', error);
    await audit(admin, {
      action: 'series.process-anyway',
      outcome: 'failed',
      detail: `series ${id.data}`,
    });
    return { error: 'The series could not be queued: the queue is unavailable.' };
  }
}
