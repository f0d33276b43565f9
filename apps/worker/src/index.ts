export * from '@lascar/pacs';
export * from './config.js';
export * from './worker.js';
export { listJobs } from './service.js';
export {
  processSeries,
  classifyError,
  JOB_STAGES,
  PermanentJobError,
  RetryableJobError,
} from './process-series.js';
export { createLogger } from './log.js';
