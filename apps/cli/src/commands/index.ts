import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerConvert } from './convert.js';
import { registerDashboard } from './dashboard.js';
import { registerDataset } from './dataset.js';
import { registerEvaluate } from './evaluate.js';
import { registerPhantom } from './phantom.js';
import { registerSeg } from './seg.js';
import { registerSegment } from './segment.js';
import { registerUsers } from './users.js';
import { registerWorker } from './worker.js';

/** Every `lascar` sub-command, in the order `lascar --help` lists them. */
export function registerCommands(program: Command): void {
  registerPhantom(program);
  registerConvert(program);
  registerSeg(program);
  registerSegment(program);
  registerEvaluate(program);
  registerDataset(program);
  registerBench(program);
  registerWorker(program);
  registerDashboard(program);
  registerUsers(program);
}
