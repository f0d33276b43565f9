/**
 * The first door: a request without a live session goes to /login (pages) or gets 401 (API).
 * It also slides the idle timeout: each request refreshes the session (at most once per
 * updateAge) and the refreshed cookie is copied onto the response. Roles and the absolute session
 * limit are checked again in the data layer (src/server/session.ts), never only here.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { proxyAuth } from './server/auth';

const PUBLIC = ['/login', '/_next/', '/favicon.ico', '/fonts/'];

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl;
  if (PUBLIC.some((p) => pathname === p || pathname.startsWith(p))) return NextResponse.next();
  const auth = await proxyAuth();
  const { headers: authHeaders, response: session } = await auth.api.getSession({
    headers: request.headers,
    returnHeaders: true,
  });
  if (!session) {
    if (pathname.startsWith('/api/')) {
      return NextResponse.json(
        { error: 'sign in first' },
        { status: 401, headers: { 'Cache-Control': 'no-store' } },
      );
    }
    const login = new URL('/login', request.url);
    if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
    return NextResponse.redirect(login);
  }
  const response = NextResponse.next();
  for (const cookie of authHeaders.getSetCookie()) response.headers.append('set-cookie', cookie);
  return response;
}

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
