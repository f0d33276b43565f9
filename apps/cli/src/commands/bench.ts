import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('(coming: see the open issues)')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
