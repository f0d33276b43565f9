/**
 * @lascar/db: the one database layer of the worker and the dashboard. One generated Prisma client
 * (prisma/schema.prisma), one migrator, the embedded PostgreSQL for machines without a server,
 * and the queries both apps run. No app imports another app; both import this.
 */
export * from './client.js';
export * from './config.js';
export * from './embedded.js';
export * from './migrate.js';
export * from './records.js';
export { Prisma } from './generated/prisma/client.js';
export type * from './generated/prisma/models.js';
export type { JobState, StageName, ReviewState } from './generated/prisma/enums.js';
export * from './clinical.js';
export * from './seed-scale.js';
export * from './operations.js';
export * from './workers.js';
