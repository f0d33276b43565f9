// `lascar bench <what>`: speed and memory of the pipeline on synthetic studies, printed as numbers
// (speed goals are checked here, not by timed unit tests). Each benchmark is a sub-command
// registered below; later ones (`bench segment`, `bench worker`) add a register function.
import os from 'node:os';
import type { Command } from 'commander';
import {
  LA_INPUT_SIZE,
  PIPELINE_STAGES,
  SCAR_PATCH_SIZE,
  canvasPlacement,
  evaluateSegmentation,
  makeGeometry,
  makeVolume,
  segmentStudy,
  writeCanvas,
  type LaNetwork,
  type Mask,
  type ScarNetwork,
  type StageName,
  type StudySegmentation,
  type Volume,
} from '@lascar/core';
import { UsageError } from '../errors.js';
import { registerBenchDicom, registerBenchSegment } from './bench-pipeline.js';

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('measure the speed and memory of the pipeline on synthetic studies');
  registerBenchCore(bench);
  registerBenchDicom(bench);
  registerBenchSegment(bench);
}

/** The non-network stages must take under this long for one 88 x 640 x 640 study (2-core machine). */
const CORE_FLOOR_MS = 3000;
/** evaluateSegmentation on two such LA masks. */
const EVALUATE_FLOOR_MS = 5000;
const NETWORK_STAGES: ReadonlySet<StageName> = new Set(['la-network', 'scar-network']);

function registerBenchCore(bench: Command): void {
  bench
    .command('core')
    .description(
      'time every non-network stage on a synthetic study (networks replaced by cheap stand-ins, not counted)',
    )
    .option('--slices <n>', 'slices in the synthetic study', '88')
    .option('--size <n>', 'rows and columns of each slice', '640')
    .option(
      '--runs <n>',
      'how many times to run the pipeline (the first includes JIT warm-up)',
      '2',
    )
    .option('--json', 'print the measurements as JSON')
    .action(async (opts: { slices: string; size: string; runs: string; json?: boolean }) => {
      const slices = parseCount('--slices', opts.slices, 1, 2000);
      const size = parseCount('--size', opts.size, 64, 4096);
      const runs = parseCount('--runs', opts.runs, 1, 100);
      const report = await benchCore(slices, size, runs);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(formatCoreReport(report));
      if (!report.withinFloors) process.exitCode = 1;
    });
}

function parseCount(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

interface SyntheticStudy {
  image: Volume<Int16Array>;
  /** The LA blood pool the image was drawn from. */
  la: Mask;
  /** A second LA mask, 1 mm larger all round, to evaluate against. */
  laLarger: Mask;
}

/**
 * A blob LA with a wall and some scar; no realism needed. 0.625 x 0.625 x 1.25 mm voxels (the
 * LAScarQS grid), an ellipsoidal cavity of ~90 mL (intensity ~400), a 2.5 mm wall (~150) with a
 * bright scar sector (~1500) on the middle slices, textured background (~100 +- 20).
 */
function syntheticStudy(slices: number, size: number): SyntheticStudy {
  const spacing = [0.625, 0.625, 1.25] as const;
  const geometry = makeGeometry({ dims: [size, size, slices], spacing });
  const n = size * size * slices;
  const data = new Int16Array(n);
  const la = new Uint8Array(n);
  const larger = new Uint8Array(n);
  const [cx, cy, cz] = [
    (size / 2) * spacing[0],
    (size / 2) * spacing[1],
    (slices / 2) * spacing[2],
  ];
  const radii = [32, 26, 26]; // mm
  let seed = 12345;
  for (let k = 0; k < slices; k++) {
    const dz = (k * spacing[2] - cz) / radii[2]!;
    for (let j = 0; j < size; j++) {
      const dy = (j * spacing[1] - cy) / radii[1]!;
      const row = size * (j + size * k);
      for (let i = 0; i < size; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const noise = (seed >>> 24) / 6.4 - 20; // -20 .. +20
        const dx = (i * spacing[0] - cx) / radii[0]!;
        // Distance from the surface in mm, approximated through the mean radius.
        const r = Math.sqrt(dx * dx + dy * dy + dz * dz);
        const depthMm = (r - 1) * 28;
        let value = 100 + noise;
        if (depthMm <= 0) {
          value = 400 + noise;
          la[row + i] = 1;
        } else if (depthMm <= 2.5) {
          const angle = Math.atan2(dy, dx);
          const scar = angle > 0.2 && angle < 1.4 && Math.abs(k - slices / 2) < slices / 5;
          value = (scar ? 1500 : 150) + noise;
        }
        if (depthMm <= 1) larger[row + i] = 1;
        data[row + i] = Math.round(value);
      }
    }
  }
  return {
    image: makeVolume(geometry, data),
    la: makeVolume(geometry, la),
    laLarger: makeVolume(geometry, larger),
  };
}

/** LA stand-in: the true cavity placed on the canvas (a copy, far cheaper than a network). */
function laStandIn(truth: Mask): LaNetwork {
  const [nx, ny] = truth.geometry.dims;
  const placement = canvasPlacement(nx, ny, LA_INPUT_SIZE);
  const canvas = LA_INPUT_SIZE * LA_INPUT_SIZE;
  return async ({ firstSlice, count }) => {
    const out = new Float32Array(count * canvas);
    for (let b = 0; b < count; b++) {
      writeCanvas(truth.data, truth.geometry.dims, firstSlice + b, placement, out, b * canvas);
    }
    return out;
  };
}

/** Scar stand-in: 1 where the histogram channel says the pixel is among the band's brightest 3 %. */
const scarStandIn: ScarNetwork = async ({ count, patches }) => {
  const pixels = SCAR_PATCH_SIZE * SCAR_PATCH_SIZE;
  const out = new Float32Array(count * pixels);
  for (let t = 0; t < count; t++) {
    const histogram = t * 3 * pixels + pixels;
    for (let q = 0; q < pixels; q++) out[t * pixels + q] = patches[histogram + q]! > 0.97 ? 1 : 0;
  }
  return out;
};

interface StageMeasurement {
  stage: StageName;
  /** Wall-clock time. */
  ms: number;
  /** CPU time (user + system) of this process during the stage. */
  cpuMs: number;
  /** Highest resident set size seen at the end of any piece of this stage, MiB. */
  peakRssMiB: number;
  counted: boolean;
}

interface RunMeasurement {
  run: number;
  stages: StageMeasurement[];
  /** Sum of the non-network stages, wall clock. */
  coreMs: number;
  /** The same, CPU time. */
  coreCpuMs: number;
  networkStandInMs: number;
  peakRssMiB: number;
  patches: number;
}

interface CoreReport {
  study: { dims: [number, number, number]; spacingMm: [number, number, number]; laVoxels: number };
  /** 1-minute load average when the runs ended, and the core count: context for wall times. */
  loadAverage: number;
  cores: number;
  baselineRssMiB: number;
  runs: RunMeasurement[];
  bestCoreMs: number;
  bestCoreCpuMs: number;
  coreFloorMs: number;
  evaluate: {
    ms: number;
    cpuMs: number;
    floorMs: number;
    dice: number;
    hausdorffMm: number | null;
  };
  processMaxRssMiB: number;
  quantification: { laVolumeMl: number; scarVolumeMl: number; scarBurdenPercent: number | null };
  withinFloors: boolean;
}

const MiB = 1024 * 1024;

function cpuMsSince(mark: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(mark);
  return (used.user + used.system) / 1000;
}

async function benchCore(slices: number, size: number, runs: number): Promise<CoreReport> {
  const study = syntheticStudy(slices, size);
  const la = laStandIn(study.la);
  const baselineRss = process.memoryUsage().rss;
  const results: RunMeasurement[] = [];
  let last: StudySegmentation | undefined;
  for (let run = 1; run <= runs; run++) {
    const peaks = new Map<StageName, number>();
    const cpu = new Map<StageName, number>();
    let peak = process.memoryUsage().rss;
    last = undefined; // let the previous run's masks go before this one allocates
    // CPU time as well as wall time: on a machine shared with other jobs, wall time also counts
    // the time this process waited for a core.
    let cpuMark = process.cpuUsage();
    const result = await segmentStudy(
      study.image,
      { la, scar: scarStandIn },
      {
        onStage: ({ stage }) => {
          cpu.set(stage, (cpu.get(stage) ?? 0) + cpuMsSince(cpuMark));
          cpuMark = process.cpuUsage();
          const rss = process.memoryUsage().rss;
          peak = Math.max(peak, rss);
          peaks.set(stage, Math.max(peaks.get(stage) ?? 0, rss));
        },
      },
    );
    last = result;
    const stages = PIPELINE_STAGES.map(({ name }) => ({
      stage: name,
      ms: result.stageMs[name],
      cpuMs: cpu.get(name) ?? 0,
      peakRssMiB: (peaks.get(name) ?? 0) / MiB,
      counted: !NETWORK_STAGES.has(name),
    }));
    const counted = stages.filter((s) => s.counted);
    results.push({
      run,
      stages,
      coreMs: counted.reduce((a, s) => a + s.ms, 0),
      coreCpuMs: counted.reduce((a, s) => a + s.cpuMs, 0),
      networkStandInMs: stages.filter((s) => !s.counted).reduce((a, s) => a + s.ms, 0),
      peakRssMiB: peak / MiB,
      patches: result.patchCount,
    });
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const metrics = evaluateSegmentation(study.laLarger, study.la);
  const evaluateMs = performance.now() - t0;
  const evaluateCpuMs = cpuMsSince(c0);
  const bestCoreMs = Math.min(...results.map((r) => r.coreMs));
  const q = last!.quantification;
  return {
    study: { dims: [size, size, slices], spacingMm: [0.625, 0.625, 1.25], laVoxels: q.laVoxels },
    loadAverage: os.loadavg()[0]!,
    cores: os.availableParallelism(),
    baselineRssMiB: baselineRss / MiB,
    runs: results,
    bestCoreMs,
    bestCoreCpuMs: Math.min(...results.map((r) => r.coreCpuMs)),
    coreFloorMs: CORE_FLOOR_MS,
    evaluate: {
      ms: evaluateMs,
      cpuMs: evaluateCpuMs,
      floorMs: EVALUATE_FLOOR_MS,
      dice: metrics.dice,
      hausdorffMm: metrics.hausdorffMm,
    },
    processMaxRssMiB: process.resourceUsage().maxRSS / 1024,
    quantification: {
      laVolumeMl: q.laVolumeMl,
      scarVolumeMl: q.scarVolumeMl,
      scarBurdenPercent: q.scarBurdenPercent,
    },
    withinFloors: bestCoreMs < CORE_FLOOR_MS && evaluateMs < EVALUATE_FLOOR_MS,
  };
}

function formatCoreReport(r: CoreReport): string {
  const lines: string[] = [];
  const [nx, ny, nz] = r.study.dims;
  lines.push(
    `synthetic study ${nz} slices x ${ny} x ${nx}, ${r.study.spacingMm.join(' x ')} mm; networks replaced by stand-ins (not counted)`,
  );
  lines.push(
    `load average ${r.loadAverage.toFixed(1)} on ${r.cores} cores (wall times include waiting for a core)`,
  );
  lines.push(
    `resident memory before the runs: ${r.baselineRssMiB.toFixed(0)} MiB (study and truth masks included)`,
  );
  const row = (name: string, wall: number, cpu: number, rss: number, note = ''): string =>
    `  ${name.padEnd(16)}${wall.toFixed(1).padStart(9)}${cpu.toFixed(0).padStart(9)}${rss.toFixed(0).padStart(14)}${note}`;
  for (const run of r.runs) {
    lines.push('');
    lines.push(
      `run ${run.run}${run.run === 1 ? ' (includes JIT warm-up)' : ''}: ${run.patches} scar patches`,
    );
    lines.push(
      `  ${'stage'.padEnd(16)}${'wall ms'.padStart(9)}${'CPU ms'.padStart(9)}${'peak RSS MiB'.padStart(14)}`,
    );
    for (const s of run.stages) {
      lines.push(
        row(s.stage, s.ms, s.cpuMs, s.peakRssMiB, s.counted ? '' : '  (stand-in, not counted)'),
      );
    }
    lines.push(row('all non-network', run.coreMs, run.coreCpuMs, run.peakRssMiB));
  }
  lines.push('');
  const verdict = (ms: number, floor: number): string => (ms < floor ? 'within' : 'OVER');
  lines.push(
    `non-network stages, best run: ${r.bestCoreMs.toFixed(0)} ms wall, ${r.bestCoreCpuMs.toFixed(0)} ms CPU (${verdict(r.bestCoreMs, r.coreFloorMs)} the ${r.coreFloorMs} ms floor)`,
  );
  lines.push(
    `evaluateSegmentation on two LA masks: ${r.evaluate.ms.toFixed(0)} ms wall, ${r.evaluate.cpuMs.toFixed(0)} ms CPU (${verdict(r.evaluate.ms, r.evaluate.floorMs)} the ${r.evaluate.floorMs} ms floor; Dice ${r.evaluate.dice.toFixed(3)}, Hausdorff ${r.evaluate.hausdorffMm?.toFixed(2) ?? 'n/a'} mm)`,
  );
  lines.push(`process peak RSS (whole run, getrusage): ${r.processMaxRssMiB.toFixed(0)} MiB`);
  const q = r.quantification;
  lines.push(
    `result: LA ${q.laVolumeMl.toFixed(1)} mL, scar ${q.scarVolumeMl.toFixed(2)} mL, burden ${q.scarBurdenPercent?.toFixed(1) ?? 'n/a'} %`,
  );
  return `${lines.join('\n')}\n`;
}
