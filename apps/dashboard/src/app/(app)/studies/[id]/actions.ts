'use server';
/**
 * Sign-off: a cardiologist accepts a result or rejects it with a reason. Accepting stores a
 * VERIFIED measurement report (DICOM SR, the UNVERIFIED one as its predecessor) into the study
 * FIRST; only once the PACS has it is the result marked signed, so the PACS never lacks a report
 * the dashboard says exists. Every attempt is audited with its outcome.
 */
import { writeMeasurementReport, type MeasurementReportInput } from '@lascar/core';
import { recordReview } from '@lascar/db';
import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { audit } from '@/server/audit';
import { config } from '@/server/config';
import { prisma } from '@/server/db';
import { pacs } from '@/server/pacs';
import { requireRole } from '@/server/session';

export interface SignOffState {
  readonly error?: string;
  readonly message?: string;
}

const SignOff = z.discriminatedUnion('decision', [
  z.object({ measurementRef: z.uuid(), decision: z.literal('accept') }),
  z.object({
    measurementRef: z.uuid(),
    decision: z.literal('reject'),
    reason: z
      .string()
      .trim()
      .min(3, 'Give the reason for rejecting (at least 3 characters).')
      .max(2000),
  }),
]);

/** "Jane Q. Doe" -> "Doe^Jane Q." (DICOM PN); a name already in DICOM form is kept. */
function dicomPersonName(name: string): string {
  if (name.includes('^')) return name;
  const parts = name.trim().split(/\s+/);
  const family = parts.pop() ?? name;
  return parts.length ? `${family}^${parts.join(' ')}` : family;
}

export async function signOff(_prev: SignOffState, form: FormData): Promise<SignOffState> {
  const user = await requireRole('cardiologist');
  const parsed = SignOff.safeParse(Object.fromEntries(form));
  if (!parsed.success) {
    return { error: parsed.error.issues[0]?.message ?? 'The sign-off form is incomplete.' };
  }
  const input = parsed.data;
  const db = await prisma();
  const m = await db.measurement.findUnique({
    where: { id: input.measurementRef },
    select: {
      id: true,
      reviewState: true,
      report: true,
      qcFlags: true,
      job: {
        select: {
          state: true,
          srSeriesInstanceUid: true,
          srSopInstanceUid: true,
          series: {
            select: { study: { select: { id: true, studyInstanceUid: true, patientRef: true } } },
          },
        },
      },
    },
  });
  if (!m) return { error: 'This result no longer exists.' };
  const study = m.job.series.study;
  const where = {
    studyRef: study.id,
    ...(study.patientRef ? { patientRef: study.patientRef } : {}),
  };
  if (m.reviewState !== 'pending') {
    return {
      error: `This result is already ${m.reviewState === 'accepted' ? 'signed off' : 'rejected'}.`,
    };
  }
  if (m.job.state === 'superseded') {
    // Checked before anything is stored: no VERIFIED report for a result that is not current.
    await audit(user, {
      action: input.decision === 'accept' ? 'result.accept' : 'result.reject',
      outcome: 'denied',
      ...where,
      detail: 'result superseded',
    });
    return {
      error:
        'This result was superseded by a newer result of the same series (its instances changed). Sign off the newer result.',
    };
  }
  if (input.decision === 'reject') {
    await recordReview(db, m.id, {
      state: 'rejected',
      reviewerId: user.id,
      reviewerName: user.name,
      reason: input.reason,
    });
    await audit(user, { action: 'result.reject', outcome: 'ok', ...where, detail: input.reason });
    revalidatePath(`/studies/${study.id}`);
    return { message: 'Rejected.' };
  }
  const refuse = async (error: string): Promise<SignOffState> => {
    await audit(user, { action: 'result.accept', outcome: 'failed', ...where, detail: error });
    return { error };
  };
  const target = pacs();
  if (!target) {
    return refuse(
      'The PACS is not configured (LASCAR_PACS_URL), so the signed report cannot be stored. Nothing was signed.',
    );
  }
  if (m.qcFlags.some((f) => f.startsWith('no-la:'))) {
    return refuse(
      'No LA cavity was found in this series, so there is no measurement to sign off: reject it with a reason, or re-run it.',
    );
  }
  if (!m.report || !m.job.srSeriesInstanceUid || !m.job.srSopInstanceUid) {
    return refuse(
      'This result has no measurement report (it was processed before reports existed): re-run it, then sign it off.',
    );
  }
  const report = m.report as unknown as Omit<MeasurementReportInput, 'verification'>;
  const verified = writeMeasurementReport({
    ...report,
    verification: {
      state: 'VERIFIED',
      observerName: dicomPersonName(user.name),
      organization: config().institution,
      dateTime: new Date(),
      predecessor: {
        seriesInstanceUid: m.job.srSeriesInstanceUid,
        sopInstanceUid: m.job.srSopInstanceUid,
      },
    },
  });
  try {
    await target.storeInstances(study.studyInstanceUid, [verified.bytes]);
  } catch (error) {
    return refuse(
      `The PACS did not take the signed report (${error instanceof Error ? error.message : String(error)}). Nothing was signed; try again.`,
    );
  }
  await recordReview(db, m.id, {
    state: 'accepted',
    reviewerId: user.id,
    reviewerName: user.name,
    verifiedSrSopInstanceUid: verified.sopInstanceUid,
  });
  await audit(user, {
    action: 'result.accept',
    outcome: 'ok',
    ...where,
    detail: `VERIFIED SR ${verified.sopInstanceUid}`,
  });
  revalidatePath(`/studies/${study.id}`);
  return { message: 'Signed off: the VERIFIED report is in the PACS.' };
}
