import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** axe-core on the page as it is: no serious or critical violation, in light and in dark. */
export async function expectAccessible(page: Page): Promise<void> {
  for (const dark of [false, true]) {
    await page.evaluate((d) => document.documentElement.classList.toggle('dark', d), dark);
    // Let colour transitions finish: axe must see the theme's colours, not a blend.
    await page.waitForTimeout(400);
    const { violations } = await new AxeBuilder({ page }).analyze();
    const serious = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}, ${dark ? 'dark' : 'light'}): ${v.help} — ${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join('; ')}`,
      );
    expect(serious, `${page.url()}`).toEqual([]);
  }
  await page.evaluate(() => document.documentElement.classList.remove('dark'));
}
