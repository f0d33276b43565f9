import 'server-only';
/**
 * The dashboard's better-auth instance: the shared options (@lascar/auth) plus Next.js cookie
 * handling, so that sign-in from a Server Action sets the session cookie. better-auth's HTTP
 * handler is NOT mounted: every auth call goes through our Server Actions and the proxy, which
 * audit them and apply the sign-in rate limit.
 */
import { authOptions } from '@lascar/auth';
import { betterAuth } from 'better-auth';
import { nextCookies } from 'better-auth/next-js';
import { config } from './config';
import { database } from './db';

async function options() {
  const c = config();
  const db = await database();
  return authOptions(db.prisma, {
    secret: c.authSecret,
    baseURL: c.baseURL,
    idleSeconds: c.sessionIdleSeconds,
    maxAgeSeconds: c.sessionMaxAgeSeconds,
  });
}

async function build() {
  const o = await options();
  return betterAuth({ ...o, plugins: [...o.plugins, nextCookies()] });
}

export type DashboardAuth = Awaited<ReturnType<typeof build>>;

async function buildForProxy() {
  return betterAuth(await options());
}

type ProxyAuth = Awaited<ReturnType<typeof buildForProxy>>;

const holder = globalThis as unknown as {
  lascarAuth?: Promise<DashboardAuth>;
  lascarProxyAuth?: Promise<ProxyAuth>;
};

/** For Server Components and Server Actions (sets cookies through next/headers). */
export function auth(): Promise<DashboardAuth> {
  holder.lascarAuth ??= build().catch((error: unknown) => {
    holder.lascarAuth = undefined;
    throw error;
  });
  return holder.lascarAuth;
}

/**
 * For the proxy: without the Next.js cookie plugin, which skips the sliding refresh on client
 * navigations; the proxy copies the refreshed cookie onto its own response instead.
 */
export function proxyAuth(): Promise<ProxyAuth> {
  holder.lascarProxyAuth ??= buildForProxy().catch((error: unknown) => {
    holder.lascarProxyAuth = undefined;
    throw error;
  });
  return holder.lascarProxyAuth;
}
