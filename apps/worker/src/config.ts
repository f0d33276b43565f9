/**
 * The worker's configuration: read from the environment here and nowhere else, validated at
 * start, with errors that name the variable. `describeConfig` prints it without secrets.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EXECUTION_PROVIDER_CHOICES,
  MethodSettingsError,
  isExecutionProviderChoice,
  parseMethodSettings,
  type ExecutionProviderChoice,
  type MethodSettingNames,
  type MethodSettings,
} from '@lascar/core';
import { redactDatabaseUrl } from '@lascar/db/config';
import {
  envReaders,
  pacsEndpointFromEnv,
  PACS_ENV_NAMES,
  type Env,
  type PacsEndpoint,
} from '@lascar/env';

/** The shipped weights: <repo>/models (this file is apps/worker/{src,dist}/config.{ts,js}). */
export const DEFAULT_MODELS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../models',
);

export interface WorkerConfig {
  readonly pacs: PacsEndpoint;
  /** Orthanc's REST root for its change feed; unset for a PACS that is not Orthanc. */
  readonly orthancUrl?: string;
  readonly database:
    | { readonly kind: 'postgres'; readonly url: string }
    | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number };
  readonly modelsDir: string;
  readonly executionProvider: ExecutionProviderChoice;
  /** JSON file with the LGE selection rules; unset = the built-in defaults. */
  readonly selectionRulesFile?: string;
  /** Jobs processed at once by this process. */
  readonly concurrency: number;
  /** Retries after the first attempt, with exponential backoff from retryDelaySeconds. */
  readonly retryLimit: number;
  readonly retryDelaySeconds: number;
  /** A job running longer (or whose worker died) is failed and retried after this. */
  readonly jobTimeoutSeconds: number;
  /** On SIGTERM, how long a running job may finish before it is handed back to the queue. */
  readonly shutdownGraceSeconds: number;
  /** How often pg-boss looks for expired jobs (a killed worker's job) and retries them. */
  readonly maintenanceSeconds: number;
  readonly webhookSecret?: string;
  /**
   * Bearer token for every HTTP route but /healthz, /readyz and the webhook. Unset only on a
   * loopback address, where the API stays open to this machine alone.
   */
  readonly apiToken?: string;
  readonly http: { readonly host: string; readonly port: number };
  /** Seconds between this process's heartbeats in the database (the admins' workers list). */
  readonly heartbeatSeconds: number;
  /** Seconds between reads of Orthanc's change feed (0 = off). */
  readonly changesPollSeconds: number;
  /** Seconds between QIDO-RS polls (0 = off), and the quiet time before a series counts as complete. */
  readonly qidoPollSeconds: number;
  readonly qidoQuietSeconds: number;
  readonly qidoWindowDays: number;
  /**
   * Quiet period before a series that failed for a gap or a single slice, or changed under its
   * job, is looked at again (then twice and four times as long); 0 = never.
   */
  readonly recheckSeconds: number;
  readonly logLevel: string;
  /** The method's settings (defaults: the paper's values, thresholds from the model manifests). */
  readonly method: MethodSettings;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Every environment variable the worker reads, the method settings' (METHOD_ENV) aside. The
 * readers below accept only these names, so the list cannot fall behind the code;
 * docker/compose.test.ts checks docker/compose.yaml and docker/.env.example against it.
 */
const WORKER_OWN_ENV = [
  ...PACS_ENV_NAMES,
  'LASCAR_ORTHANC_URL',
  'DATABASE_URL',
  'LASCAR_DATA_DIR',
  'LASCAR_EMBEDDED_DB_PORT',
  'LASCAR_MODELS_DIR',
  'LASCAR_EXECUTION_PROVIDER',
  'LASCAR_SELECTION_RULES',
  'LASCAR_CONCURRENCY',
  'LASCAR_RETRY_LIMIT',
  'LASCAR_RETRY_DELAY_SECONDS',
  'LASCAR_JOB_TIMEOUT_SECONDS',
  'LASCAR_SHUTDOWN_GRACE_SECONDS',
  'LASCAR_MAINTENANCE_SECONDS',
  'LASCAR_WEBHOOK_SECRET',
  'LASCAR_API_TOKEN',
  'LASCAR_HTTP_HOST',
  'LASCAR_HTTP_PORT',
  'LASCAR_CHANGES_POLL_SECONDS',
  'LASCAR_QIDO_POLL_SECONDS',
  'LASCAR_QIDO_QUIET_SECONDS',
  'LASCAR_QIDO_WINDOW_DAYS',
  'LASCAR_RECHECK_SECONDS',
  'LASCAR_HEARTBEAT_SECONDS',
  'LASCAR_LOG_LEVEL',
] as const;
type WorkerEnvName = (typeof WORKER_OWN_ENV)[number] | (typeof METHOD_ENV)[keyof typeof METHOD_ENV];

// Every URL form of a password (user:pw@, :pw@, ?password=), the database's own rule.
const redact = redactDatabaseUrl;
const { text, integer, httpUrl } = envReaders<WorkerEnvName>(
  (message) => new ConfigError(message),
  redact,
);

/** The method settings' environment variables. */
export const METHOD_ENV = {
  scarMinAreaMm2: 'LASCAR_SCAR_MIN_AREA_MM2',
  scarMaxAreaMm2: 'LASCAR_SCAR_MAX_AREA_MM2',
  laComponents: 'LASCAR_LA_COMPONENTS',
  boundaryBandMm: 'LASCAR_BOUNDARY_BAND_MM',
  wallThicknessMm: 'LASCAR_WALL_THICKNESS_MM',
  probabilityThreshold: 'LASCAR_PROBABILITY_THRESHOLD',
  laCrop: 'LASCAR_LA_CROP',
  qcLaMinVolumeMl: 'LASCAR_QC_LA_MIN_VOLUME_ML',
  qcLaMaxVolumeMl: 'LASCAR_QC_LA_MAX_VOLUME_ML',
  qcLaMinExtentMm: 'LASCAR_QC_LA_MIN_EXTENT_MM',
  qcScarWallDistanceMm: 'LASCAR_QC_SCAR_WALL_DISTANCE_MM',
  qcScarFarMaxPercent: 'LASCAR_QC_SCAR_FAR_MAX_PERCENT',
} as const satisfies MethodSettingNames;

/** Every environment variable `loadConfig` reads. */
export const WORKER_ENV_NAMES: readonly WorkerEnvName[] = [
  ...WORKER_OWN_ENV,
  ...Object.values(METHOD_ENV),
];

function methodSettings(env: Env): MethodSettings {
  const raw = Object.fromEntries(
    Object.entries(METHOD_ENV).map(([key, name]) => [key, text(env, name)]),
  );
  try {
    return parseMethodSettings(raw, METHOD_ENV);
  } catch (error) {
    if (error instanceof MethodSettingsError) throw new ConfigError(error.message);
    throw error;
  }
}

/** Minimum length of LASCAR_API_TOKEN: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const API_TOKEN_MIN_LENGTH = 32;

/** A host name or address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): WorkerConfig {
  const pacs = pacsEndpointFromEnv(env, (message) => new ConfigError(message));
  if (!pacs) {
    throw new ConfigError(
      'LASCAR_PACS_URL is not set: give the PACS DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web',
    );
  }
  const orthanc = text(env, 'LASCAR_ORTHANC_URL');
  const databaseUrl = text(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      `DATABASE_URL=${redact(databaseUrl)} must start with postgres:// or postgresql://`,
    );
  }
  const ep = text(env, 'LASCAR_EXECUTION_PROVIDER') ?? 'auto';
  if (!isExecutionProviderChoice(ep)) {
    throw new ConfigError(
      `LASCAR_EXECUTION_PROVIDER=${ep} is not one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}`,
    );
  }
  const logLevel = text(env, 'LASCAR_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LASCAR_LOG_LEVEL=${logLevel} is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const secret = text(env, 'LASCAR_WEBHOOK_SECRET');
  if (secret !== undefined && secret.length < 16) {
    throw new ConfigError('LASCAR_WEBHOOK_SECRET must be at least 16 characters');
  }
  const apiToken = text(env, 'LASCAR_API_TOKEN');
  if (apiToken !== undefined && apiToken.length < API_TOKEN_MIN_LENGTH) {
    throw new ConfigError(
      `LASCAR_API_TOKEN must be at least ${API_TOKEN_MIN_LENGTH} characters (e.g. openssl rand -hex 32)`,
    );
  }
  const httpHost = text(env, 'LASCAR_HTTP_HOST') ?? '127.0.0.1';
  if (apiToken === undefined && !isLoopbackHost(httpHost)) {
    throw new ConfigError(
      `LASCAR_HTTP_HOST=${httpHost} is reachable from other machines: set LASCAR_API_TOKEN ` +
        `(at least ${API_TOKEN_MIN_LENGTH} characters) so the job list, patient images and retries ` +
        'need it, or bind to 127.0.0.1',
    );
  }
  const jobTimeoutSeconds = integer(env, 'LASCAR_JOB_TIMEOUT_SECONDS', 900, 5, 86_400);
  const rules = text(env, 'LASCAR_SELECTION_RULES');
  return {
    pacs,
    ...(orthanc ? { orthancUrl: httpUrl('LASCAR_ORTHANC_URL', orthanc) } : {}),
    database: databaseUrl
      ? { kind: 'postgres', url: databaseUrl }
      : {
          kind: 'embedded',
          dataDir: path.resolve(text(env, 'LASCAR_DATA_DIR') ?? '.lascar/db'),
          port: integer(env, 'LASCAR_EMBEDDED_DB_PORT', 54329, 0, 65535),
        },
    modelsDir: path.resolve(text(env, 'LASCAR_MODELS_DIR') ?? DEFAULT_MODELS_DIR),
    executionProvider: ep,
    ...(rules ? { selectionRulesFile: path.resolve(rules) } : {}),
    concurrency: integer(env, 'LASCAR_CONCURRENCY', 1, 1, 64),
    retryLimit: integer(env, 'LASCAR_RETRY_LIMIT', 5, 0, 100),
    retryDelaySeconds: integer(env, 'LASCAR_RETRY_DELAY_SECONDS', 30, 1, 86_400),
    jobTimeoutSeconds,
    shutdownGraceSeconds: integer(env, 'LASCAR_SHUTDOWN_GRACE_SECONDS', 60, 1, 86_400),
    maintenanceSeconds: integer(env, 'LASCAR_MAINTENANCE_SECONDS', 30, 1, 3600),
    ...(secret ? { webhookSecret: secret } : {}),
    ...(apiToken ? { apiToken } : {}),
    http: {
      host: httpHost,
      port: integer(env, 'LASCAR_HTTP_PORT', 8300, 0, 65535),
    },
    heartbeatSeconds: integer(env, 'LASCAR_HEARTBEAT_SECONDS', 5, 1, 3600),
    changesPollSeconds: integer(env, 'LASCAR_CHANGES_POLL_SECONDS', 10, 0, 86_400),
    // On by default, also beside Orthanc: pushes and the change feed miss a series that became
    // stable while Orthanc could not write (a full disk records no StableSeries change).
    qidoPollSeconds: integer(env, 'LASCAR_QIDO_POLL_SECONDS', 300, 0, 86_400),
    qidoQuietSeconds: integer(env, 'LASCAR_QIDO_QUIET_SECONDS', 60, 0, 86_400),
    qidoWindowDays: integer(env, 'LASCAR_QIDO_WINDOW_DAYS', 2, 1, 3650),
    recheckSeconds: integer(env, 'LASCAR_RECHECK_SECONDS', 600, 0, 86_400),
    logLevel,
    method: methodSettings(env),
  };
}

/** The configuration as a log line can show it: no passwords, no secrets. */
export function describeConfig(c: WorkerConfig): Record<string, unknown> {
  return {
    pacsUrl: redact(c.pacs.url),
    pacsUser: c.pacs.username ?? null,
    orthancUrl: c.orthancUrl ? redact(c.orthancUrl) : null,
    database:
      c.database.kind === 'postgres' ? redact(c.database.url) : `embedded:${c.database.dataDir}`,
    modelsDir: c.modelsDir,
    executionProvider: c.executionProvider,
    selectionRules: c.selectionRulesFile ?? 'built-in',
    concurrency: c.concurrency,
    retryLimit: c.retryLimit,
    retryDelaySeconds: c.retryDelaySeconds,
    jobTimeoutSeconds: c.jobTimeoutSeconds,
    webhook: c.webhookSecret ? 'enabled' : 'disabled (LASCAR_WEBHOOK_SECRET unset)',
    http: `${c.http.host}:${c.http.port}`,
    api: c.apiToken ? 'bearer token required' : 'open to this machine (LASCAR_API_TOKEN unset)',
    changesPollSeconds: c.changesPollSeconds,
    qidoPollSeconds: c.qidoPollSeconds,
    recheckSeconds: c.recheckSeconds,
    method: c.method,
  };
}
