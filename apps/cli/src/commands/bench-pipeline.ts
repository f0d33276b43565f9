// `lascar bench dicom` and `lascar bench segment`: the DICOM edge and the whole method with the
// shipped networks, on synthetic studies, printed as numbers with their floors.
import os from 'node:os';
import {
  benchmarkDicomSeriesAndSeg,
  EXECUTION_PROVIDER_CHOICES,
  generatePhantom,
  isExecutionProviderChoice,
  dice,
  LA_INPUT_SIZE,
  PIPELINE_STAGES,
  segmentStudy,
  type StudySegmentation,
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

/** Crop-to-atrium LA inference must make the whole method at least this many times faster. */
const CROP_SPEEDUP_FLOOR = 2;

export function registerBenchSegment(bench: Command): void {
  bench
    .command('segment')
    .description(
      'the whole method on an 88 x 640 x 640 phantom with the shipped networks, LA crop off and on (same study, same process)',
    )
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
      const t0 = performance.now();
      const networks = await loadNetworks(opts.models, opts.ep);
      const loadMs = performance.now() - t0;
      process.stdout.write(
        `machine: ${machine()}\nstudy: ${phantom.image.geometry.dims.join(' x ')} phantom; ` +
          `${networks.providerSummary}; models: width ${networks.manifests.la.width} / ${networks.manifests.scar.width}` +
          `${networks.synthetic ? ' (trained on SYNTHETIC phantoms)' : ''}\n` +
          `model load: ${loadMs.toFixed(0)} ms\n`,
      );
      // One untimed whole-canvas call first, so neither timed run pays the runtime's first-call setup.
      const side = LA_INPUT_SIZE;
      await networks.networks.la({
        firstSlice: 0,
        count: 1,
        width: side,
        height: side,
        full: new Float32Array(side * side),
        half: new Float32Array((side * side) / 4),
      });
      const runs: Array<{ label: string; ms: number; mib: number; result: StudySegmentation }> = [];
      for (const laCrop of [false, true]) {
        const stop = peakRss();
        const t1 = performance.now();
        const result = await segmentStudy(phantom.image, networks.networks, {
          method: { laCrop },
        });
        const ms = performance.now() - t1;
        runs.push({ label: laCrop ? 'LA crop on' : 'LA crop off', ms, mib: stop(), result });
      }
      await networks.release();
      const [off, on] = runs as [(typeof runs)[0], (typeof runs)[0]];
      process.stdout.write(
        `${'stage'.padEnd(17)} ${off.label.padStart(12)} ${on.label.padStart(12)}\n`,
      );
      for (const stage of PIPELINE_STAGES) {
        process.stdout.write(
          `  ${stage.name.padEnd(15)} ${`${off.result.stageMs[stage.name].toFixed(0)} ms`.padStart(12)} ${`${on.result.stageMs[stage.name].toFixed(0)} ms`.padStart(12)}\n`,
        );
      }
      for (const run of runs) {
        process.stdout.write(
          `end to end, ${run.label}: ${run.ms.toFixed(0)} ms for ${run.result.patchCount} scar patches, peak RSS ${run.mib.toFixed(0)} MiB ` +
            `(${run.ms < SEGMENT_FLOOR_MS ? 'within' : 'OVER'} the ${SEGMENT_FLOOR_MS / 1000} s CPU floor)\n`,
        );
      }
      const crop = on.result.laCrop;
      const w = crop.window;
      process.stdout.write(
        `LA crop: ${crop.reason}${w ? `; window ${w.x1 - w.x0} x ${w.y1 - w.y0} at (${w.x0}, ${w.y0}) of ${side} x ${side}` : ''}; ` +
          `${crop.probeSlices.length} probe + ${crop.edgeFallbacks.length} edge-fallback whole-canvas slices, ${crop.croppedSlices} cropped\n`,
      );
      const laDice = (r: StudySegmentation): string => dice(r.la, phantom.la).toFixed(4);
      process.stdout.write(
        `LA Dice against the phantom's truth: off ${laDice(off.result)}, on ${laDice(on.result)}; ` +
          `LA masks off vs on: Dice ${dice(on.result.la, off.result.la).toFixed(4)}; ` +
          `scar burden off ${fmtBurden(off.result)} %, on ${fmtBurden(on.result)} %\n`,
      );
      const ratio = off.ms / on.ms;
      process.stdout.write(
        `speed-up end to end: ${ratio.toFixed(2)}x (${ratio >= CROP_SPEEDUP_FLOOR ? 'meets' : 'BELOW'} the ${CROP_SPEEDUP_FLOOR}x floor)\n`,
      );
      const over = runs.some((r) => r.ms >= SEGMENT_FLOOR_MS);
      if (opts.ep === 'cpu' && (over || ratio < CROP_SPEEDUP_FLOOR)) process.exitCode = 1;
    });
}

function fmtBurden(r: StudySegmentation): string {
  const b = r.quantification.scarBurdenPercent;
  return b === null ? 'none' : b.toFixed(2);
}
