import type { Command } from 'commander';

export function registerSeg(program: Command): void {
  program
    .command('seg')
    .description('(coming: see the open issues)')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
