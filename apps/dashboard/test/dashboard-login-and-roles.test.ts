// Login, logout, roles and the first door: patient data is never served without a session, a
// cardiologist is refused admin pages (403, also on a direct URL), sign-in is rate limited, a
// disabled account loses its sessions at once, and every page is accessible in light and dark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible } from './accessibility.js';
import {
  screenshots,
  signIn,
  startDashboardStack,
  type DashboardStack,
} from './dashboard-fixture.js';

let stack: DashboardStack;

beforeAll(async () => {
  stack = await startDashboardStack();
}, 600_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('the dashboard door', () => {
  it('sends an unauthenticated page request to /login and answers API requests with 401', async () => {
    for (const path of [
      '/patients',
      '/cohort',
      '/admin/users',
      '/studies/00000000-0000-4000-8000-000000000000',
    ]) {
      const res = await fetch(`${stack.url}${path}`, { redirect: 'manual' });
      expect([302, 303, 307, 308], path).toContain(res.status);
      expect(new URL(res.headers.get('location')!, stack.url).pathname, path).toBe('/login');
    }
    for (const path of [
      '/api/export/results',
      '/api/overlays/00000000-0000-4000-8000-000000000000/1.png',
    ]) {
      const res = await fetch(`${stack.url}${path}`, { redirect: 'manual' });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('cache-control')).toContain('no-store');
    }
  });

  it('signs a cardiologist in and out; pages carry Cache-Control: no-store', async () => {
    const page = await stack.page();
    await page.goto('/login');
    await expectAccessible(page);
    await screenshots(page, 'login');
    await signIn(page, stack.accounts.cardiologist);
    expect(new URL(page.url()).pathname).toBe('/patients');
    await expect
      .poll(() => page.getByTestId('signed-in-as').textContent())
      .toContain('cardiologist');
    const response = await page.goto('/patients');
    expect(response!.headers()['cache-control']).toContain('no-store');
    await expectAccessible(page);
    const sessions = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "session" s JOIN "user" u ON u.id = s."userId" WHERE u.email = $1`,
      [stack.accounts.cardiologist.email],
    );
    expect(sessions[0]!.n).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login');
    await page.goto('/patients');
    expect(new URL(page.url()).pathname).toBe('/login');
    const after = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "session" s JOIN "user" u ON u.id = s."userId" WHERE u.email = $1`,
      [stack.accounts.cardiologist.email],
    );
    expect(after[0]!.n).toBe(0);
    const audit = await stack.query<{ action: string }>(
      `SELECT action FROM "AuditEvent" WHERE "userEmail" = $1 ORDER BY at`,
      [stack.accounts.cardiologist.email],
    );
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['login.success', 'patients.list', 'logout']),
    );
    await page.context().close();
  });

  it('refuses a cardiologist every admin page with 403, even by direct URL', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect.poll(() => nav.getByRole('link').allTextContents()).not.toContain('Users');
    const response = await page.goto('/admin/users');
    expect(response!.status()).toBe(403);
    await expect.poll(() => page.locator('h1').textContent()).toContain('403');
    await page.context().close();
  });

  it('lets an admin create users; a disabled user is signed out at once and cannot sign in', async () => {
    const admin = await stack.page(stack.accounts.admin);
    await admin.goto('/admin/users');
    await expectAccessible(admin);
    await admin.getByLabel('Email').fill('temp@test.local');
    await admin.getByLabel('Name').fill('Tim Temp');
    await admin.getByLabel('Role').selectOption('cardiologist');
    await admin.getByLabel('Initial password').fill('a-long-temporary-password');
    await admin.getByRole('button', { name: 'Create user' }).click();
    // Creating an account hashes its password (scrypt): over a second on a busy machine.
    await expect
      .poll(() => admin.getByRole('status').allTextContents(), { timeout: 15_000 })
      .toContain('Created temp@test.local (cardiologist).');
    await screenshots(admin, 'admin-users');

    const temp = await stack.page({
      email: 'temp@test.local',
      password: 'a-long-temporary-password',
    } as never);
    expect(new URL(temp.url()).pathname).toBe('/patients');
    await admin.reload();
    await admin.getByRole('button', { name: 'Disable temp@test.local' }).click();
    await expect
      .poll(
        async () =>
          (
            await stack.query<{ banned: boolean }>(
              `SELECT banned FROM "user" WHERE email = 'temp@test.local'`,
            )
          )[0]!.banned,
      )
      .toBe(true);
    await temp.goto('/patients');
    expect(new URL(temp.url()).pathname).toBe('/login');
    await temp.getByLabel('Email').fill('temp@test.local');
    await temp.getByLabel('Password').fill('a-long-temporary-password');
    await temp.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => temp.getByRole('alert').filter({ hasText: /\S/ }).textContent())
      .toContain('disabled');
    const audit = await stack.query<{ action: string; outcome: string; role: string }>(
      `SELECT action, outcome, role FROM "AuditEvent" WHERE "userEmail" = $1 AND action LIKE 'user.%' ORDER BY at`,
      [stack.accounts.admin.email],
    );
    expect(audit).toEqual([
      { action: 'user.create', outcome: 'ok', role: 'admin' },
      { action: 'user.disable', outcome: 'ok', role: 'admin' },
    ]);
    await admin.context().close();
    await temp.context().close();
  });

  it('slows and then refuses sign-in after repeated failures for one email', async () => {
    const page = await stack.page();
    const attempt = async (password: string) => {
      await page.goto('/login');
      await page.getByLabel('Email').fill(stack.accounts.admin.email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Next's route announcer is an (empty) alert too: read the form's own.
      const alert = page.getByRole('alert').filter({ hasText: /\S/ });
      await alert.waitFor();
      return alert.textContent();
    };
    for (let n = 0; n < 5; n++) expect(await attempt(`wrong-password-${n}`)).toContain('incorrect');
    // The right password no longer helps inside the window.
    expect(await attempt(stack.accounts.admin.password)).toContain('Too many failed sign-ins');
    const rows = await stack.query<{ outcome: string }>(
      `SELECT outcome FROM "AuditEvent" WHERE action = 'login.failure' AND "userEmail" = $1 ORDER BY at`,
      [stack.accounts.admin.email],
    );
    expect(rows.map((r) => r.outcome)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'denied',
    ]);
    await page.context().close();
  });
});
