// Login, logout, roles and the first door: patient data is never served without a session, a
// cardiologist is refused admin pages (403, also on a direct URL), sign-in is rate limited, a
// disabled account loses its sessions at once, an admin changes a role and resets a password
// (audited, the old password and its sessions gone at once), and every page is accessible in
// light and dark.
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
    await admin.getByLabel('Role', { exact: true }).selectOption('cardiologist');
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

  it("lets an admin change a user's role and reset their password, audited", async () => {
    const admin = await stack.page(stack.accounts.admin);
    await admin.goto('/admin/users');
    await admin.getByLabel('Email').fill('promoted@test.local');
    await admin.getByLabel('Role', { exact: true }).selectOption('cardiologist');
    await admin.getByLabel('Initial password').fill('first-password-of-promoted');
    await admin.getByRole('button', { name: 'Create user' }).click();
    await expect
      .poll(() => admin.getByRole('status').allTextContents(), { timeout: 15_000 })
      .toContain('Created promoted@test.local (cardiologist).');
    const user = await stack.page({
      email: 'promoted@test.local',
      password: 'first-password-of-promoted',
    } as never);
    expect((await user.goto('/admin/overview'))!.status()).toBe(403);

    await admin.reload();
    // The admin's own account is not offered: nobody demotes or locks out themselves here.
    const offered = await admin
      .getByLabel('Account for the role change')
      .locator('option')
      .allTextContents();
    expect(offered.some((o) => o.startsWith(stack.accounts.admin.email))).toBe(false);
    expect(offered).toContain('promoted@test.local (cardiologist)');
    await admin.getByLabel('Account for the role change').selectOption('promoted@test.local');
    await admin.getByLabel('New role').selectOption('admin');
    await admin.getByRole('button', { name: 'Change role' }).click();
    await expect
      .poll(() => admin.getByRole('status').allTextContents(), { timeout: 15_000 })
      .toContain('promoted@test.local is now admin.');
    const role = async () =>
      (
        await stack.query<{ role: string }>(
          `SELECT role FROM "user" WHERE email = 'promoted@test.local'`,
        )
      )[0]!.role;
    expect(await role()).toBe('admin');
    // The same session, at its next request: the new role applies without signing in again.
    expect((await user.goto('/admin/overview'))!.status()).toBe(200);

    await admin.getByLabel('Account for the password reset').selectOption('promoted@test.local');
    await admin.getByLabel('New password').fill('short');
    await admin.getByRole('button', { name: 'Reset password' }).click();
    // The browser refuses a password under 12 characters before it is sent (minLength).
    expect(
      await admin
        .getByLabel('New password')
        .evaluate((e) => (e as HTMLInputElement).validity.valid),
    ).toBe(false);
    await admin.getByLabel('New password').fill('second-password-of-promoted');
    await admin.getByRole('button', { name: 'Reset password' }).click();
    await expect
      .poll(() => admin.getByRole('status').allTextContents(), { timeout: 15_000 })
      .toContain('New password set for promoted@test.local; their sessions were ended.');
    await expectAccessible(admin);
    await screenshots(admin, 'admin-users-manage');
    const [sessions] = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM session s JOIN "user" u ON u.id = s."userId"
        WHERE u.email = 'promoted@test.local'`,
    );
    expect(sessions!.n).toBe(0);
    // Signed out at once; the old password no longer works, the new one does.
    await user.goto('/patients');
    expect(new URL(user.url()).pathname).toBe('/login');
    await user.getByLabel('Email').fill('promoted@test.local');
    await user.getByLabel('Password').fill('first-password-of-promoted');
    await user.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => user.getByRole('alert').filter({ hasText: /\S/ }).textContent())
      .toContain('incorrect');
    await signIn(user, { email: 'promoted@test.local', password: 'second-password-of-promoted' });
    expect((await user.goto('/admin/users'))!.status()).toBe(200);

    const audit = await stack.query<{ action: string; outcome: string; detail: string }>(
      `SELECT action, outcome, detail FROM "AuditEvent"
        WHERE "userEmail" = $1 AND action IN ('user.role', 'user.password') ORDER BY at`,
      [stack.accounts.admin.email],
    );
    expect(audit).toEqual([
      { action: 'user.role', outcome: 'ok', detail: 'promoted@test.local: cardiologist -> admin' },
      { action: 'user.password', outcome: 'ok', detail: 'promoted@test.local' },
    ]);
    const leaked = await stack.query(
      `SELECT 1 FROM "AuditEvent" WHERE detail LIKE '%second-password%' OR detail LIKE '%first-password%'`,
    );
    expect(leaked).toHaveLength(0);
    await admin.context().close();
    await user.context().close();
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
