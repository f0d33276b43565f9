'use server';
/**
 * Clinical events on a patient's timeline (an ablation, a cardioversion): only cardiologists add
 * them, and every attempt is audited, refused ones included.
 */
import { addClinicalEvent, Prisma } from '@lascar/db';
import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import type { EventFormState } from '@/components/burden-chart';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';

// Any RFC 4122 layout (PostgreSQL's uuid type accepts every version).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EVENT_LABEL = { ablation: 'Ablation', cardioversion: 'Cardioversion', other: 'Event' };

const EventInput = z.object({
  patientRef: z.string().regex(UUID, { error: 'This page does not name a patient.' }),
  kind: z.enum(['ablation', 'cardioversion', 'other'], {
    error: 'Choose ablation, cardioversion or other.',
  }),
  date: z
    .string({ error: 'Enter the date of the event.' })
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'Enter the date as YYYY-MM-DD.' }),
  note: z
    .string()
    .trim()
    .max(500, { error: 'Keep the note under 500 characters.' })
    .transform((s) => s || undefined)
    .optional(),
});

/**
 * Why the query refused the event, when it did: a bad or future date (RangeError, or the query
 * layer's ClinicalError 'invalid'), or a patient that is gone ('not-found', or a foreign-key
 * violation). Anything else is a fault, not the user's input.
 */
function refusalOf(error: unknown): 'invalid' | 'not-found' | undefined {
  if (error instanceof RangeError) return 'invalid';
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    return error.code === 'P2003' || error.code === 'P2025' ? 'not-found' : undefined;
  }
  if (error instanceof Error && error.name === 'ClinicalError' && 'code' in error) {
    return error.code === 'not-found'
      ? 'not-found'
      : error.code === 'invalid'
        ? 'invalid'
        : undefined;
  }
  return undefined;
}

function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export async function addEvent(_prev: EventFormState, form: FormData): Promise<EventFormState> {
  const user = await requireRole('cardiologist');
  const rawRef = form.get('patientRef');
  const parsed = EventInput.safeParse({
    patientRef: rawRef,
    kind: form.get('kind'),
    date: form.get('date') || undefined,
    note: form.get('note') ?? undefined,
  });
  if (!parsed.success) {
    // Only a well-formed reference names a patient in the audit row.
    const patientRef = typeof rawRef === 'string' && UUID.test(rawRef) ? rawRef : undefined;
    await audit(user, {
      action: 'event.add',
      outcome: 'failed',
      ...(patientRef ? { patientRef } : {}),
      detail: 'invalid input',
    });
    return { error: parsed.error.issues[0]?.message ?? 'Check the event and try again.' };
  }
  const { patientRef, kind, date, note } = parsed.data;
  try {
    await addClinicalEvent(await prisma(), {
      patientRef,
      kind,
      date,
      ...(note ? { note } : {}),
      createdById: user.id,
    });
  } catch (error) {
    const refused = refusalOf(error);
    await audit(user, {
      action: 'event.add',
      patientRef,
      outcome: 'failed',
      detail: refused === 'not-found' ? 'no such patient' : refused ? 'refused' : 'not stored',
    });
    if (refused === 'not-found') return { error: 'This patient no longer exists.' };
    if (refused && error instanceof Error) return { error: sentence(error.message) };
    throw error;
  }
  await audit(user, { action: 'event.add', patientRef, outcome: 'ok', detail: kind });
  revalidatePath(`/patients/${patientRef}`);
  return { added: `${EVENT_LABEL[kind]} on ${date} added to the timeline.` };
}
