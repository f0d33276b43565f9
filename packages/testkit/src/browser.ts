/**
 * Debian's Chromium (apt-get install chromium) driven by playwright-core: never a browser
 * download. Flags keep it offline and quiet; playwright gives each launch a fresh temporary
 * profile (it refuses a --user-data-dir flag) and removes it on close.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface LaunchedBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** `host`: the one address names may resolve to (the pages' host; loopback by default). */
export async function launchChromium(host = '127.0.0.1'): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: apt-get install chromium (scripts/install-system-deps.sh)`,
    );
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE ${host}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
