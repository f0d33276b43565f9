'use server';
/**
 * Admins create and disable accounts, change roles and reset passwords; each change is audited
 * with its outcome (never the password).
 */
import {
  addUser,
  changeRole,
  disableUser,
  resetPassword,
  ROLES,
  UserAdminError,
} from '@lascar/auth';
import { APIError } from 'better-auth/api';
import { revalidatePath } from 'next/cache';
import { headers } from 'next/headers';
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

/** better-auth's refusals (e.g. the plugin's permission check) as the admin should read them. */
function problemOf(error: unknown, fallback: string): string {
  if (error instanceof UserAdminError) return error.message;
  if (error instanceof APIError) return error.message || fallback;
  return fallback;
}

const isOwn = (admin: { email: string }, email: string) =>
  email.trim().toLowerCase() === admin.email.toLowerCase();

export async function changeUserRole(_prev: UserFormState, form: FormData): Promise<UserFormState> {
  const admin = await requireRole('admin');
  const email = String(form.get('email') ?? '');
  const role = String(form.get('role') ?? '');
  if (!email) return { error: 'Choose an account.' };
  // An admin who demoted themselves could leave nobody to manage the accounts.
  if (isOwn(admin, email)) {
    await audit(admin, { action: 'user.role', outcome: 'denied', detail: 'own account' });
    return { error: 'You cannot change your own role; ask another admin.' };
  }
  try {
    const r = await changeRole(await auth(), await prisma(), {
      email,
      role,
      headers: await headers(),
    });
    await audit(admin, {
      action: 'user.role',
      outcome: 'ok',
      detail: `${r.email}: ${r.previous ?? 'none'} -> ${r.role}`,
    });
    revalidatePath('/admin/users');
    return { message: `${r.email} is now ${r.role}.` };
  } catch (error) {
    const message = problemOf(error, 'the role could not be changed');
    await audit(admin, { action: 'user.role', outcome: 'failed', detail: `${email}: ${message}` });
    if (!(error instanceof UserAdminError)) console.error('user.role failed', error);
    return { error: message };
  }
}

export async function resetUserPassword(
  _prev: UserFormState,
  form: FormData,
): Promise<UserFormState> {
  const admin = await requireRole('admin');
  const email = String(form.get('email') ?? '');
  const password = String(form.get('password') ?? '');
  if (!email) return { error: 'Choose an account.' };
  // The reset signs the account out everywhere, this admin's own session included.
  if (isOwn(admin, email)) {
    await audit(admin, { action: 'user.password', outcome: 'denied', detail: 'own account' });
    return { error: 'You cannot reset your own password here; ask another admin.' };
  }
  try {
    const r = await resetPassword(await auth(), await prisma(), {
      email,
      password,
      headers: await headers(),
    });
    await audit(admin, { action: 'user.password', outcome: 'ok', detail: r.email });
    return { message: `New password set for ${r.email}; their sessions were ended.` };
  } catch (error) {
    const message = problemOf(error, 'the password could not be reset');
    await audit(admin, {
      action: 'user.password',
      outcome: 'failed',
      detail: `${email}: ${message}`,
    });
    if (!(error instanceof UserAdminError)) console.error('user.password failed', error);
    return { error: message };
  }
}
