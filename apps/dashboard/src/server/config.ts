/**
 * The dashboard's configuration: read from the environment here and nowhere else, validated once
 * at first use, with errors that name the variable. Secrets never leave this module in logs.
 */
import { DEFAULT_IDLE_SECONDS, DEFAULT_MAX_AGE_SECONDS } from '@lascar/auth';
import {
  DATABASE_ENV_NAMES,
  databaseConfigFromEnv,
  DatabaseConfigError,
  type DatabaseConfig,
} from '@lascar/db';
import {
  envReaders,
  pacsEndpointFromEnv,
  PACS_ENV_NAMES,
  type Env,
  type PacsEndpoint,
} from '@lascar/env';

export interface DashboardConfig {
  readonly database: DatabaseConfig;
  /** Public URL of the dashboard (cookies, Origin checks, links). */
  readonly baseURL: string;
  readonly authSecret: string;
  readonly sessionIdleSeconds: number;
  readonly sessionMaxAgeSeconds: number;
  /** Opens a study in the hospital's viewer: {StudyInstanceUID} and {SeriesInstanceUID} are filled in. */
  readonly viewerUrlTemplate: string;
  /** Where sign-off stores the VERIFIED report; unset: sign-off is refused with that reason. */
  readonly pacs?: PacsEndpoint;
  /** The verifying organisation written into signed reports. */
  readonly institution: string;
  /** Failed sign-ins (per email or client address) in the window before sign-in is refused. */
  readonly loginMaxFailures: number;
  readonly loginWindowSeconds: number;
}

export class DashboardConfigError extends Error {
  override name = 'DashboardConfigError';
}

/** The dashboard's own variables; the readers below accept only these names. */
const DASHBOARD_OWN_ENV = [
  'LASCAR_AUTH_SECRET',
  'LASCAR_DASHBOARD_PORT',
  'LASCAR_DASHBOARD_URL',
  'LASCAR_VIEWER_URL_TEMPLATE',
  ...PACS_ENV_NAMES,
  'LASCAR_SESSION_IDLE_SECONDS',
  'LASCAR_SESSION_MAX_HOURS',
  'LASCAR_INSTITUTION',
  'LASCAR_LOGIN_MAX_FAILURES',
  'LASCAR_LOGIN_WINDOW_SECONDS',
] as const;
type DashboardEnvName = (typeof DASHBOARD_OWN_ENV)[number];

/**
 * Every environment variable `loadDashboardConfig` reads (the database's included);
 * docker/compose.test.ts checks docker/compose.yaml and docker/.env.example against it.
 */
export const DASHBOARD_ENV_NAMES: readonly string[] = [...DATABASE_ENV_NAMES, ...DASHBOARD_OWN_ENV];

const { text, integer, httpUrl } = envReaders<DashboardEnvName>(
  (message) => new DashboardConfigError(message),
);

export const DEFAULT_VIEWER_URL_TEMPLATE =
  'http://127.0.0.1:8042/ohif/viewer?StudyInstanceUIDs={StudyInstanceUID}';

export function loadDashboardConfig(env: Env = process.env): DashboardConfig {
  let database: DatabaseConfig;
  try {
    database = databaseConfigFromEnv(env);
  } catch (error) {
    if (error instanceof DatabaseConfigError) throw new DashboardConfigError(error.message);
    throw error;
  }
  if (database.kind !== 'postgres') {
    // The embedded database is started (or found) and migrated by `lascar dashboard`, which then
    // hands this server its URL: the web server never opens the data folder itself.
    throw new DashboardConfigError(
      'DATABASE_URL is not set: start the dashboard with `npx lascar dashboard`, which uses DATABASE_URL or the embedded database in LASCAR_DATA_DIR',
    );
  }
  const secret = text(env, 'LASCAR_AUTH_SECRET');
  if (!secret || secret.length < 32) {
    throw new DashboardConfigError(
      'LASCAR_AUTH_SECRET must be set to at least 32 random characters (e.g. `openssl rand -hex 32`); every dashboard instance uses the same one',
    );
  }
  const port = integer(env, 'LASCAR_DASHBOARD_PORT', 3000, 1, 65535);
  const viewer = text(env, 'LASCAR_VIEWER_URL_TEMPLATE') ?? DEFAULT_VIEWER_URL_TEMPLATE;
  if (!viewer.includes('{StudyInstanceUID}')) {
    throw new DashboardConfigError('LASCAR_VIEWER_URL_TEMPLATE must contain {StudyInstanceUID}');
  }
  const pacs = pacsEndpointFromEnv(env, (message) => new DashboardConfigError(message));
  return {
    database,
    baseURL: httpUrl(
      'LASCAR_DASHBOARD_URL',
      text(env, 'LASCAR_DASHBOARD_URL') ?? `http://127.0.0.1:${port}`,
    ),
    authSecret: secret,
    sessionIdleSeconds: integer(
      env,
      'LASCAR_SESSION_IDLE_SECONDS',
      DEFAULT_IDLE_SECONDS,
      5,
      24 * 3600,
    ),
    sessionMaxAgeSeconds:
      integer(env, 'LASCAR_SESSION_MAX_HOURS', DEFAULT_MAX_AGE_SECONDS / 3600, 1, 24 * 7) * 3600,
    viewerUrlTemplate: viewer,
    ...(pacs ? { pacs } : {}),
    institution: text(env, 'LASCAR_INSTITUTION') ?? 'LA Scar',
    loginMaxFailures: integer(env, 'LASCAR_LOGIN_MAX_FAILURES', 5, 1, 1000),
    loginWindowSeconds: integer(env, 'LASCAR_LOGIN_WINDOW_SECONDS', 15 * 60, 1, 86_400),
  };
}

let cached: DashboardConfig | undefined;

/** The configuration of this process (validated on first use). */
export function config(): DashboardConfig {
  cached ??= loadDashboardConfig();
  return cached;
}
