// `lascar bench dicom` and `lascar bench segment`: the DICOM edge and the whole method with the
// shipped networks, on synthetic studies, printed as numbers with their floors.
import os from 'node:os';
import {
  benchmarkDicomSeriesAndSeg,
  EXECUTION_PROVIDER_CHOICES,
  generatePhantom,
  isExecutionProviderChoice,
  PIPELINE_STAGES,
  segmentStudy,
} from '@lascar/core';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_MODELS_DIR, loadNetworks } from './segment.js';

/** Reading an 88-slice 640 x 640 series from buffers plus writing its SEG (2-core machine). */
const DICOM_FLOOR_MS = 2000;
/** The whole method on one 88 x 640 x 640 study on CPU with the shipped weights (2-core machine). */
const SEGMENT_FLOOR_MS = 90_000;

/** Samples resident memory every 50 ms; returns a stop function giving the peak in MiB. */
function peakRss(): () => number {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss) / 2 ** 20;
  };
}

const machine = (): string =>
  `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, load ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}`;

export function registerBenchDicom(bench: Command): void {
  bench
    .command('dicom')
    .description('read an 88-slice 640 x 640 MR series from buffers and write its DICOM SEG')
    .option('--runs <n>', 'repetitions (the first includes JIT warm-up)', '3')
    .action((opts: { runs: string }) => {
      const runs = Number(opts.runs);
      if (!Number.isInteger(runs) || runs < 1)
        throw new UsageError(`--runs ${opts.runs} is not a positive integer`);
      process.stdout.write(`machine: ${machine()}\n`);
      let best = Infinity;
      for (let r = 0; r < runs; r++) {
        const stop = peakRss();
        const result = benchmarkDicomSeriesAndSeg();
        const mib = stop();
        best = Math.min(best, result.totalMs);
        process.stdout.write(
          `run ${r + 1}: read ${result.readMs.toFixed(0)} ms (${(result.seriesBytes / 2 ** 20).toFixed(1)} MiB), ` +
            `SEG ${result.segMs.toFixed(0)} ms (${(result.segBytes / 2 ** 20).toFixed(1)} MiB), total ${result.totalMs.toFixed(0)} ms, peak RSS ${mib.toFixed(0)} MiB\n`,
        );
      }
      process.stdout.write(
        `best: ${best.toFixed(0)} ms (${best < DICOM_FLOOR_MS ? 'within' : 'OVER'} the ${DICOM_FLOOR_MS} ms floor)\n`,
      );
      if (best >= DICOM_FLOOR_MS) process.exitCode = 1;
    });
}

export function registerBenchSegment(bench: Command): void {
  bench
    .command('segment')
    .description('the whole method on an 88 x 640 x 640 phantom with the shipped networks')
    .option(
      '--models <dir>',
      'folder with la.onnx/scar.onnx and their manifests',
      DEFAULT_MODELS_DIR,
    )
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDER_CHOICES.join('|')}`, 'cpu')
    .option('--slices <n>', 'slices of the phantom', '88')
    .option('--matrix <n>', 'rows and columns of the phantom', '640')
    .action(async (opts: { models: string; ep: string; slices: string; matrix: string }) => {
      if (!isExecutionProviderChoice(opts.ep))
        throw new UsageError(
          `--ep ${opts.ep} is not one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}`,
        );
      const phantom = generatePhantom(20261127, {
        matrix: Number(opts.matrix),
        slices: Number(opts.slices),
      });
      const stop = peakRss();
      const t0 = performance.now();
      const networks = await loadNetworks(opts.models, opts.ep);
      const loadMs = performance.now() - t0;
      const t1 = performance.now();
      const result = await segmentStudy(phantom.image, networks.networks);
      const totalMs = performance.now() - t1;
      const mib = stop();
      await networks.release();
      process.stdout.write(
        `machine: ${machine()}\nstudy: ${phantom.image.geometry.dims.join(' x ')} phantom; ` +
          `${networks.providerSummary}; models: width ${networks.manifests.la.width} / ${networks.manifests.scar.width}` +
          `${networks.synthetic ? ' (trained on SYNTHETIC phantoms)' : ''}\n` +
          `model load: ${loadMs.toFixed(0)} ms\n`,
      );
      for (const stage of PIPELINE_STAGES) {
        process.stdout.write(
          `  ${stage.name.padEnd(15)} ${result.stageMs[stage.name].toFixed(0).padStart(7)} ms\n`,
        );
      }
      process.stdout.write(
        `end to end: ${totalMs.toFixed(0)} ms for ${result.patchCount} scar patches, peak RSS ${mib.toFixed(0)} MiB ` +
          `(${totalMs < SEGMENT_FLOOR_MS ? 'within' : 'OVER'} the ${SEGMENT_FLOOR_MS / 1000} s CPU floor)\n`,
      );
      if (opts.ep === 'cpu' && totalMs >= SEGMENT_FLOOR_MS) process.exitCode = 1;
    });
}
