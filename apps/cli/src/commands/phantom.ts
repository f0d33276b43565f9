import type { Command } from 'commander';

export function registerPhantom(program: Command): void {
  program
    .command('phantom')
    .description('(coming: see the open issues)')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
