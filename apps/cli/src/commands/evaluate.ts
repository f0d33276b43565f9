import type { Command } from 'commander';

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('compare a predicted mask with a ground truth (LAScarQS metrics)')
    .action(() => {
      throw new Error('not implemented yet');
    });
}
