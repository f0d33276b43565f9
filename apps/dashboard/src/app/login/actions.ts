'use server';
/**
 * Sign-in and sign-out. Sign-in is rate limited from the audit trail itself: after
 * LASCAR_LOGIN_MAX_FAILURES failures for an email inside the window (or four times as many from
 * one client address, which a whole ward may share behind a proxy), further attempts are refused
 * until the window passes, and every failure costs a growing delay.
 */
import { appendAudit, recentLoginFailures } from '@lascar/db';
import { APIError } from 'better-auth/api';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { audit } from '@/server/audit';
import { auth } from '@/server/auth';
import { config } from '@/server/config';
import { prisma } from '@/server/db';
import { clientAddress, currentUser } from '@/server/session';

export interface SignInState {
  readonly error?: string;
}

/** Only same-site paths: an open redirect would hand a signed-in user to another site. */
function safeNext(raw: FormDataEntryValue | null): string {
  const next = typeof raw === 'string' ? raw : '';
  return /^\/(?!\/)[\w\-./?=&%]*$/.test(next) && !next.startsWith('/login') ? next : '/patients';
}

export async function signIn(_prev: SignInState, form: FormData): Promise<SignInState> {
  const email = String(form.get('email') ?? '')
    .trim()
    .toLowerCase();
  const password = String(form.get('password') ?? '');
  if (!email || !password) return { error: 'Enter your email and password.' };
  const c = config();
  const db = await prisma();
  const address = await clientAddress();
  const since = new Date(Date.now() - c.loginWindowSeconds * 1000);
  const failures = await recentLoginFailures(db, email, undefined, since);
  const fromAddress = address ? await recentLoginFailures(db, '', address, since) : 0;
  const failure = async (outcome: 'failed' | 'denied', detail: string) =>
    appendAudit(db, {
      action: 'login.failure',
      userEmail: email,
      outcome,
      detail,
      ...(address ? { clientAddress: address } : {}),
    });
  if (failures >= c.loginMaxFailures || fromAddress >= 4 * c.loginMaxFailures) {
    await failure('denied', 'too many failed sign-ins');
    const minutes = Math.ceil(c.loginWindowSeconds / 60);
    return {
      error: `Too many failed sign-ins. Try again in ${minutes} minutes, or ask an administrator.`,
    };
  }
  try {
    await (
      await auth()
    ).api.signInEmail({ body: { email, password, rememberMe: true }, headers: await headers() });
  } catch (error) {
    if (!(error instanceof APIError)) throw error;
    const disabled = error.body?.code === 'BANNED_USER';
    await failure('failed', disabled ? 'account disabled' : 'wrong email or password');
    // Each failure in the window slows the next answer a little more.
    await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** failures, 4000)));
    return {
      error: disabled
        ? 'This account is disabled. Ask an administrator.'
        : 'Email or password is incorrect.',
    };
  }
  const user = await db.user.findUnique({
    where: { email },
    select: { id: true, email: true, role: true },
  });
  await appendAudit(db, {
    action: 'login.success',
    outcome: 'ok',
    ...(user ? { userId: user.id, userEmail: user.email, role: user.role ?? undefined } : {}),
    ...(address ? { clientAddress: address } : {}),
  });
  redirect(safeNext(form.get('next')));
}

export async function signOut(): Promise<void> {
  const user = await currentUser();
  await (await auth()).api.signOut({ headers: await headers() });
  if (user) await audit(user, { action: 'logout', outcome: 'ok' });
  redirect('/login');
}
