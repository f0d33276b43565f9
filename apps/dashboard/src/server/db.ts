import 'server-only';
/**
 * One database handle per dashboard process, kept on globalThis so that Next's module reloading
 * never opens a second pool (or a second embedded server).
 */
import { openDatabase, type Database } from '@lascar/db';
import { config } from './config';

const holder = globalThis as unknown as { lascarDatabase?: Promise<Database> };

export function database(): Promise<Database> {
  // `lascar dashboard` applied the migrations (and started or found the embedded database).
  holder.lascarDatabase ??= openDatabase(config().database, { migrate: false }).catch(
    (error: unknown) => {
      holder.lascarDatabase = undefined;
      throw error;
    },
  );
  return holder.lascarDatabase;
}

export async function prisma() {
  return (await database()).prisma;
}
