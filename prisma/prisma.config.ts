// Prisma CLI configuration for operators with Prisma's schema engine (internet access):
//   DATABASE_URL=postgres://... npx prisma migrate deploy --config prisma/prisma.config.ts
// applies the same migrations the worker applies itself at start (packages/db/src/migrate.ts).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
