import type { Command } from 'commander';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('(coming: see the open issues)')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
