// Sessions end after the idle timeout (15 minutes in production; 6 s here through
// LASCAR_SESSION_IDLE_SECONDS) and stay alive while the user keeps working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardStack, type DashboardStack } from './dashboard-fixture.js';

const IDLE_SECONDS = 6;
let stack: DashboardStack;

beforeAll(async () => {
  stack = await startDashboardStack({
    dashboardEnv: { LASCAR_SESSION_IDLE_SECONDS: String(IDLE_SECONDS) },
  });
}, 600_000);

afterAll(async () => {
  await stack?.dispose();
});

describe('an idle session', () => {
  it('is kept alive by activity and ends after the idle timeout', async () => {
    const page = await stack.page(stack.accounts.cardiologist);
    // Working: a request every 2 s for twice the idle timeout keeps the session.
    for (let n = 0; n < IDLE_SECONDS; n++) {
      await page.waitForTimeout(2_000);
      await page.goto('/cohort');
      expect(new URL(page.url()).pathname, `request ${n + 1}`).toBe('/cohort');
    }
    // Idle past the timeout: the next request goes to the login page.
    await page.waitForTimeout((IDLE_SECONDS + 2) * 1000);
    await page.goto('/patients');
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.context().close();
  });
});
