// `lascar`: the command line over @lascar/core. Each command lives in its own module under
// commands/ and registers itself here; this file only wires them together.
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { UsageError } from './errors.js';

const program = new Command()
  .name('lascar')
  .description('Left-atrial scar quantification from LGE cardiac MRI')
  .showHelpAfterError()
  // A wrong or missing flag is a usage error like any other: exit 2 (help and --version exit 0).
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
registerCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  // Input problems are the user's to fix: say what is wrong, exit 2, no stack trace.
  if (error instanceof UsageError) {
    process.stderr.write(`lascar: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `lascar: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
