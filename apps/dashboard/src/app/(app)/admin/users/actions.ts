'use server';
/** Admins create and disable accounts; each change is audited with its outcome. */
import { addUser, disableUser, ROLES, UserAdminError } from '@lascar/auth';
import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { audit } from '@/server/audit';
import { auth } from '@/server/auth';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';

export interface UserFormState {
  readonly error?: string;
  readonly message?: string;
}

const NewUser = z.object({
  email: z.string().trim().min(3),
  name: z.string().trim().max(200).optional(),
  role: z.enum(ROLES),
  password: z.string(),
});

export async function createUser(_prev: UserFormState, form: FormData): Promise<UserFormState> {
  const admin = await requireRole('admin');
  const parsed = NewUser.safeParse({
    email: form.get('email'),
    name: form.get('name') || undefined,
    role: form.get('role'),
    password: form.get('password'),
  });
  if (!parsed.success) return { error: 'Give an email, a role and a password.' };
  try {
    const user = await addUser(await auth(), await prisma(), parsed.data);
    await audit(admin, {
      action: 'user.create',
      outcome: 'ok',
      detail: `${user.email} as ${user.role}`,
    });
    revalidatePath('/admin/users');
    return { message: `Created ${user.email} (${user.role}).` };
  } catch (error) {
    const message =
      error instanceof UserAdminError ? error.message : 'the account could not be created';
    await audit(admin, { action: 'user.create', outcome: 'failed', detail: message });
    if (!(error instanceof UserAdminError)) console.error('user.create failed', error);
    return { error: message };
  }
}

export async function disableAccount(form: FormData): Promise<void> {
  const admin = await requireRole('admin');
  const email = String(form.get('email') ?? '');
  if (email.toLowerCase() === admin.email.toLowerCase()) {
    await audit(admin, { action: 'user.disable', outcome: 'denied', detail: 'own account' });
    return;
  }
  try {
    await disableUser(await prisma(), email);
    await audit(admin, { action: 'user.disable', outcome: 'ok', detail: email });
  } catch (error) {
    await audit(admin, { action: 'user.disable', outcome: 'failed', detail: String(error) });
  }
  revalidatePath('/admin/users');
}
