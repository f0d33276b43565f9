import 'server-only';
/**
 * Access control in the data layer: every page, Route Handler and Server Action that touches
 * patient data calls requireUser() (or requireRole()) itself; the proxy's check is only the first
 * door. A session past its absolute limit is revoked here even if it is still active.
 */
import { isRole, sessionTooOld, type Role } from '@lascar/auth';
import { forbidden, redirect, unauthorized } from 'next/navigation';
import { headers } from 'next/headers';
import { cache } from 'react';
import { auth } from './auth';
import { config } from './config';
import { prisma } from './db';

export interface SignedInUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly sessionId: string;
}

/**
 * The signed-in user of this request, or null (no session, expired, disabled, unknown role).
 * Memoised per request (React cache): the layout and the page both ask, one lookup answers.
 */
export const currentUser = cache(async (): Promise<SignedInUser | null> => {
  const h = await headers();
  // The proxy already refreshed the sliding expiry for this request: read only.
  const session = await (
    await auth()
  ).api.getSession({
    headers: h,
    query: { disableRefresh: true },
  });
  if (!session) return null;
  const { user } = session;
  if (sessionTooOld(session.session.createdAt, config().sessionMaxAgeSeconds)) {
    await (await prisma()).session.deleteMany({ where: { id: session.session.id } });
    return null;
  }
  if (user.banned || !isRole(user.role)) return null;
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    sessionId: session.session.id,
  };
});

/** For pages: the user, or a redirect to /login. */
export async function requireUser(): Promise<SignedInUser> {
  const user = await currentUser();
  if (!user) redirect('/login');
  return user;
}

/** For pages and actions restricted to roles: 403 for a signed-in user with another role. */
export async function requireRole(...roles: Role[]): Promise<SignedInUser> {
  const user = await requireUser();
  if (!roles.includes(user.role)) forbidden();
  return user;
}

/** For Route Handlers: 401 without a session, 403 with the wrong role (never a redirect). */
export async function requireApiUser(...roles: Role[]): Promise<SignedInUser> {
  const user = await currentUser();
  if (!user) unauthorized();
  if (roles.length > 0 && !roles.includes(user.role)) forbidden();
  return user;
}

/** The client's address as the nearest proxy reports it (for the audit log and rate limit). */
export async function clientAddress(): Promise<string | undefined> {
  const h = await headers();
  const forwarded = h.get('x-forwarded-for')?.split(',')[0]?.trim();
  return forwarded || h.get('x-real-ip') || undefined;
}
