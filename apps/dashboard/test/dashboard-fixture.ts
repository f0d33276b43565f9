/**
 * The stack the dashboard's browser tests run against, all real: a private PostgreSQL cluster, a
 * private Orthanc with the Lua webhook, the worker and the dashboard as the `lascar` processes an
 * operator starts, accounts made with `lascar users add`, and Debian Chromium. Only inside the
 * tests' private network namespace (npm run test:integration).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedUrl, readServerInfo, SERVER_INFO_FILE } from '@lascar/db';
import { DicomWebPacsClient } from '@lascar/pacs';
import {
  freePort,
  launchChromium,
  startOrthanc,
  startPostgres,
  storeInOrthanc,
  waitFor,
  workerPacsEnv,
  type LaunchedBrowser,
  type OrthancInstance,
  type PostgresCluster,
} from '@lascar/testkit';
import pg from 'pg';
import type { Page } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LASCAR = path.join(REPO, 'apps/cli/bin/lascar.js');
/** Screenshots of the main pages, committed and shown in the README. */
export const DOCS = path.join(REPO, 'docs/screenshots');

export interface Account {
  readonly email: string;
  readonly password: string;
  readonly role: 'admin' | 'cardiologist';
  readonly name: string;
}

export interface DashboardStack {
  readonly postgres: PostgresCluster;
  readonly orthanc?: OrthancInstance;
  readonly pacs?: DicomWebPacsClient;
  readonly url: string;
  readonly accounts: { readonly admin: Account; readonly cardiologist: Account };
  readonly chromium: LaunchedBrowser;
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  store(instances: readonly Uint8Array[]): Promise<void>;
  /** A fresh browser context signed in as this account (or not signed in). */
  page(account?: Account): Promise<Page>;
  dispose(): Promise<void>;
}

export interface DashboardStackOptions {
  /** Start Orthanc and a worker process (for tests that need real results). */
  readonly withWorker?: boolean;
  /**
   * No DATABASE_URL: every process uses the embedded database in one data folder (the worker
   * owns its server, the CLI and the dashboard attach), as the quick start runs them.
   */
  readonly embedded?: boolean;
  /** Extra dashboard environment (e.g. a short idle timeout). */
  readonly dashboardEnv?: Record<string, string>;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return child.exitCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

export function addAccount(databaseEnv: Record<string, string>, account: Account): void {
  const run = spawnSync(
    process.execPath,
    [
      LASCAR,
      'users',
      'add',
      '--email',
      account.email,
      '--role',
      account.role,
      '--name',
      account.name,
    ],
    {
      input: `${account.password}\n`,
      env: { ...process.env, ...databaseEnv },
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`lascar users add failed: ${run.stderr}`);
}

export async function startDashboardStack(
  options: DashboardStackOptions = {},
): Promise<DashboardStack> {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const postgres = await startPostgres();
  const dataDir = options.embedded ? await mkdtemp(path.join(tmpdir(), 'lascar-embedded-')) : '';
  // Where every process finds the database: the server's URL, or the embedded data folder.
  const databaseEnv: Record<string, string> = options.embedded
    ? { LASCAR_DATA_DIR: dataDir, LASCAR_EMBEDDED_DB_PORT: '0' }
    : { DATABASE_URL: postgres.url };
  let db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  let orthanc: OrthancInstance | undefined;
  let chromium: LaunchedBrowser | undefined;
  const secret = randomBytes(18).toString('hex');
  const spawnLascar = (args: string[], env: Record<string, string>) => {
    const child = spawn(process.execPath, [LASCAR, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      logs.push(chunk.toString());
      if (logs.length > 400) logs.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(child);
    return child;
  };
  try {
    let pacsEnv: Record<string, string> = {};
    if (options.withWorker) {
      const workerPort = await freePort();
      orthanc = await startOrthanc({
        webhookUrl: `http://127.0.0.1:${workerPort}/webhook/orthanc`,
        secret,
        stableAgeSeconds: 1,
      });
      pacsEnv = workerPacsEnv(orthanc, secret);
      const worker = spawnLascar(['worker'], {
        ...pacsEnv,
        ...databaseEnv,
        LASCAR_MODELS_DIR: path.join(REPO, 'models'),
        LASCAR_EXECUTION_PROVIDER: 'cpu',
        LASCAR_HTTP_PORT: String(workerPort),
        LASCAR_CHANGES_POLL_SECONDS: '1',
        LASCAR_LOG_LEVEL: 'warn',
      });
      if (options.embedded) {
        // The worker owns the embedded server: wait for it, then read it as any client would.
        const info = await waitFor(
          'the worker to serve the embedded database',
          async () => {
            if (worker.exitCode !== null) throw new Error(`the worker exited:\n${logs.join('')}`);
            return readServerInfo(path.join(dataDir, SERVER_INFO_FILE));
          },
          120_000,
        );
        await db.end();
        db = new pg.Pool({ connectionString: embeddedUrl(info), max: 1 });
        // An idle connection the server drops (it stops with the worker) is not a test failure.
        db.on('error', () => undefined);
      }
    }
    // The worker applies the migrations at start; without one, `lascar users add` does.
    const accounts = {
      admin: {
        email: 'admin@test.local',
        password: randomBytes(12).toString('hex'),
        role: 'admin',
        name: 'Ada Admin',
      },
      cardiologist: {
        email: 'cardio@test.local',
        password: randomBytes(12).toString('hex'),
        role: 'cardiologist',
        name: 'Carla Cardio',
      },
    } as const satisfies Record<string, Account>;
    addAccount(databaseEnv, accounts.admin);
    addAccount(databaseEnv, accounts.cardiologist);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dashboard = spawnLascar(['dashboard'], {
      ...pacsEnv,
      ...databaseEnv,
      LASCAR_AUTH_SECRET: randomBytes(32).toString('hex'),
      LASCAR_DASHBOARD_PORT: String(port),
      LASCAR_DASHBOARD_URL: url,
      ...options.dashboardEnv,
    });
    await waitFor(
      'the dashboard to answer /login',
      async () => {
        if (dashboard.exitCode !== null) {
          throw new Error(`the dashboard exited (${dashboard.exitCode}):\n${logs.join('')}`);
        }
        try {
          return (await fetch(`${url}/login`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      180_000,
    );
    chromium = await launchChromium();
    const browser = chromium;
    await mkdir(DOCS, { recursive: true });
    const pacs = orthanc
      ? new DicomWebPacsClient({
          url: orthanc.dicomWebUrl,
          username: orthanc.username,
          password: orthanc.password,
        })
      : undefined;
    return {
      postgres,
      ...(orthanc ? { orthanc } : {}),
      ...(pacs ? { pacs } : {}),
      url,
      accounts,
      chromium: browser,
      async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
        return (await db.query<T>(sql, params)).rows;
      },
      async store(instances) {
        if (!orthanc) throw new Error('this stack has no Orthanc (withWorker: true)');
        await storeInOrthanc(orthanc, instances);
      },
      async page(account) {
        const context = await browser.browser.newContext({
          baseURL: url,
          viewport: { width: 1360, height: 900 },
        });
        const page = await context.newPage();
        if (account) await signIn(page, account);
        return page;
      },
      async dispose() {
        await chromium?.close().catch(() => undefined);
        // Our own connections first: the embedded server goes away with the worker.
        await db.end();
        for (const c of children) c.kill('SIGTERM');
        await Promise.all(children.map(waitForExit));
        await orthanc?.dispose();
        await postgres.stop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await chromium?.close().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await db.end();
    await orthanc?.dispose().catch(() => undefined);
    await postgres.stop();
    throw error;
  }
}

/** Signs in through the login form, as a person does. */
export async function signIn(
  page: Page,
  account: Pick<Account, 'email' | 'password'>,
): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 30_000 });
}

/** Light and dark screenshots of the page as it is now, for docs/. */
export async function screenshots(page: Page, name: string): Promise<void> {
  for (const theme of ['light', 'dark'] as const) {
    await page.evaluate((t) => {
      document.documentElement.classList.toggle('dark', t === 'dark');
    }, theme);
    await page.waitForTimeout(400);
    await page.screenshot({ path: path.join(DOCS, `${name}-${theme}.png`), fullPage: true });
  }
  await page.evaluate(() => document.documentElement.classList.remove('dark'));
}
