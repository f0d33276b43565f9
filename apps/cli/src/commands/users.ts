// `lascar users add|disable`: accounts for the dashboard from the command line (the first admin
// has no dashboard to be created in). The password is read from standard input, never from a
// flag (flags end up in shell history and process lists). Database: DATABASE_URL, or the
// embedded database in LASCAR_DATA_DIR.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** Reads all of standard input (one line: the password; a trailing newline is dropped). */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password (input is not hidden; end with Enter, then Ctrl-D): ');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function withAccounts<T>(
  work: (
    auth: import('@lascar/auth').AuthApi,
    prisma: import('@lascar/db').PrismaClient,
  ) => Promise<T>,
): Promise<T> {
  const { databaseConfigFromEnv, DatabaseConfigError, openDatabase } = await import('@lascar/db');
  const { createAuth, DEFAULT_IDLE_SECONDS, DEFAULT_MAX_AGE_SECONDS } =
    await import('@lascar/auth');
  let config;
  try {
    config = databaseConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof DatabaseConfigError) throw new UsageError(error.message);
    throw error;
  }
  const db = await openDatabase(config);
  try {
    // Creating an account signs nothing: any secret of the right length serves here.
    const auth = createAuth(db.prisma, {
      secret: process.env.LASCAR_AUTH_SECRET ?? 'lascar-users-command-creates-accounts-only',
      baseURL: 'http://127.0.0.1',
      idleSeconds: DEFAULT_IDLE_SECONDS,
      maxAgeSeconds: DEFAULT_MAX_AGE_SECONDS,
    });
    return await work(auth, db.prisma);
  } finally {
    await db.close();
  }
}

export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('dashboard accounts: add (password from standard input) or disable');
  users
    .command('add')
    .description(
      'create an account; reads its password (at least 12 characters) from standard input',
    )
    .requiredOption('--email <email>', 'the sign-in email')
    .requiredOption('--role <role>', 'admin | cardiologist')
    .option('--name <name>', 'the name shown in the dashboard (default: the email)')
    .action(async (opts: { email: string; role: string; name?: string }) => {
      const { addUser, validateNewUser, UserAdminError } = await import('@lascar/auth');
      const password = await readPassword();
      try {
        validateNewUser({ email: opts.email, role: opts.role, password });
        const user = await withAccounts((auth, prisma) =>
          addUser(auth, prisma, { ...opts, password }),
        );
        process.stdout.write(`created ${user.email} (${user.role})\n`);
      } catch (error) {
        if (error instanceof UserAdminError) throw new UsageError(error.message);
        throw error;
      }
    });
  users
    .command('disable')
    .description('disable an account and end its sessions')
    .requiredOption('--email <email>', 'the account to disable')
    .action(async (opts: { email: string }) => {
      const { disableUser, UserAdminError } = await import('@lascar/auth');
      try {
        await withAccounts((_auth, prisma) => disableUser(prisma, opts.email));
        process.stdout.write(`disabled ${opts.email.trim().toLowerCase()}; its sessions ended\n`);
      } catch (error) {
        if (error instanceof UserAdminError) throw new UsageError(error.message);
        throw error;
      }
    });
}
