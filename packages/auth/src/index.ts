/**
 * Accounts, roles and sessions for the dashboard, on better-auth with its Prisma adapter over the
 * shared client (@lascar/db), so that sessions live in PostgreSQL and can be revoked. The same
 * options serve the dashboard (which adds Next.js cookie handling) and `lascar users` (the first
 * admin from the command line). Passwords: better-auth's scrypt (memory-hard), never our own.
 */
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { prismaAdapter } from 'better-auth/adapters/prisma';
import { admin } from 'better-auth/plugins';
import { createAccessControl } from 'better-auth/plugins/access';
import { adminAc, defaultStatements, userAc } from 'better-auth/plugins/admin/access';
import type { PrismaClient } from '@lascar/db';

export const ROLES = ['admin', 'cardiologist'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

// better-auth's admin plugin knows our two roles: admins manage users, cardiologists do not.
const accessControl = createAccessControl(defaultStatements);
const roleGrants = {
  admin: accessControl.newRole({ ...adminAc.statements }),
  cardiologist: accessControl.newRole({ ...userAc.statements }),
};

/** NIST SP 800-63B: length over composition rules. */
export const MIN_PASSWORD_LENGTH = 12;

export interface AuthSettings {
  /** Signs session cookies: at least 32 characters, the same for every dashboard instance. */
  readonly secret: string;
  /** The dashboard's public URL (cookies, Origin checks). */
  readonly baseURL: string;
  /** A session ends after this many seconds without a request (default 15 minutes). */
  readonly idleSeconds: number;
  /** ... and this long after sign-in whatever the activity (default 12 hours). */
  readonly maxAgeSeconds: number;
}

export const DEFAULT_IDLE_SECONDS = 15 * 60;
export const DEFAULT_MAX_AGE_SECONDS = 12 * 60 * 60;

/** The better-auth options both the dashboard and the CLI build their instance from. */
export function authOptions(prisma: PrismaClient, settings: AuthSettings) {
  return {
    appName: 'LA Scar',
    secret: settings.secret,
    baseURL: settings.baseURL,
    database: prismaAdapter(prisma, { provider: 'postgresql' }),
    emailAndPassword: {
      enabled: true,
      // Accounts are created by admins (dashboard) or `lascar users add`, never by sign-up.
      disableSignUp: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: 256,
    },
    session: {
      // Sliding expiry = the idle timeout: each request more than updateAge after the last refresh
      // pushes expiresAt to now + idle. The absolute limit is checked by sessionTooOld().
      expiresIn: settings.idleSeconds,
      updateAge: Math.max(1, Math.min(60, Math.floor(settings.idleSeconds / 3))),
      cookieCache: { enabled: false },
    },
    user: { deleteUser: { enabled: false } },
    plugins: [
      admin({
        ac: accessControl,
        roles: roleGrants,
        defaultRole: 'cardiologist',
        adminRoles: ['admin'],
        bannedUserMessage: 'This account is disabled. Ask an administrator.',
      }),
    ],
    telemetry: { enabled: false },
    advanced: { useSecureCookies: settings.baseURL.startsWith('https://') },
  } satisfies BetterAuthOptions;
}

export function createAuth(prisma: PrismaClient, settings: AuthSettings) {
  return betterAuth(authOptions(prisma, settings));
}

/** True when a session has outlived the absolute limit (12 hours by default), however active. */
export function sessionTooOld(createdAt: Date, maxAgeSeconds: number, now = new Date()): boolean {
  return now.getTime() - createdAt.getTime() > maxAgeSeconds * 1000;
}

export class UserAdminError extends Error {
  override name = 'UserAdminError';
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function validateNewUser(input: { email: string; role: string; password: string }): {
  email: string;
  role: Role;
} {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL.test(email)) throw new UserAdminError(`"${input.email}" is not an email address`);
  if (!isRole(input.role))
    throw new UserAdminError(`role "${input.role}" is not one of ${ROLES.join(', ')}`);
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new UserAdminError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return { email, role: input.role };
}

type Auth = ReturnType<typeof createAuth>;

/** Creates an account (no session needed: the first admin comes from the command line). */
export async function addUser(
  auth: Pick<Auth, 'api'>,
  prisma: PrismaClient,
  input: { email: string; role: string; password: string; name?: string },
): Promise<{ id: string; email: string; role: Role }> {
  const { email, role } = validateNewUser(input);
  if (await prisma.user.findUnique({ where: { email }, select: { id: true } })) {
    throw new UserAdminError(`a user with email ${email} already exists`);
  }
  const { user } = await auth.api.createUser({
    body: { email, password: input.password, name: input.name?.trim() || email, role },
  });
  return { id: user.id, email, role };
}

/** Disables an account and ends its sessions at once (the rows are revoked, not waited out). */
export async function disableUser(prisma: PrismaClient, email: string): Promise<{ id: string }> {
  const user = await prisma.user.findUnique({
    where: { email: email.trim().toLowerCase() },
    select: { id: true },
  });
  if (!user) throw new UserAdminError(`no user with email ${email}`);
  await prisma.$transaction([
    prisma.user.update({
      where: { id: user.id },
      data: { banned: true, banReason: 'disabled by an administrator' },
    }),
    prisma.session.deleteMany({ where: { userId: user.id } }),
  ]);
  return user;
}

async function userByEmail(prisma: PrismaClient, email: string) {
  const user = await prisma.user.findUnique({
    where: { email: email.trim().toLowerCase() },
    select: { id: true, email: true, role: true },
  });
  if (!user) throw new UserAdminError(`no user with email ${email}`);
  return user;
}

/**
 * Changes an account's role through better-auth's admin plugin (setRole), which checks that the
 * caller (`headers`: the admin's request) may. Takes effect at the user's next request: sessions
 * read the role from the user row. Returns the role it had before.
 */
export async function changeRole(
  auth: Pick<Auth, 'api'>,
  prisma: PrismaClient,
  input: { email: string; role: string; headers: Headers },
): Promise<{ id: string; email: string; role: Role; previous: string | null }> {
  if (!isRole(input.role))
    throw new UserAdminError(`role "${input.role}" is not one of ${ROLES.join(', ')}`);
  const user = await userByEmail(prisma, input.email);
  await auth.api.setRole({
    body: { userId: user.id, role: input.role },
    headers: input.headers,
  });
  return { id: user.id, email: user.email, role: input.role, previous: user.role ?? null };
}

/**
 * Sets a new password through better-auth's admin plugin (setUserPassword: scrypt, the caller's
 * permission checked), then ends the account's sessions, so that whoever held the old password
 * is signed out at once.
 */
export async function resetPassword(
  auth: Pick<Auth, 'api'>,
  prisma: PrismaClient,
  input: { email: string; password: string; headers: Headers },
): Promise<{ id: string; email: string }> {
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new UserAdminError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const user = await userByEmail(prisma, input.email);
  await auth.api.setUserPassword({
    body: { userId: user.id, newPassword: input.password },
    headers: input.headers,
  });
  await prisma.session.deleteMany({ where: { userId: user.id } });
  return { id: user.id, email: user.email };
}

/** What `addUser` needs of an auth instance (the dashboard's or the CLI's). */
export type AuthApi = Pick<Auth, 'api'>;
