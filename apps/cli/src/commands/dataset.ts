// `lascar dataset`: LAScarQS-format cases -> training shards (training/SHARDS.md) for PyTorch.
// The tensors come from @lascar/core's own preprocessing, the one inference uses.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { laSamples, PREPROCESSING_VERSION, scarSamples, LA_INPUT_SIZE } from '@lascar/core';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { findLascarqsCases, readLascarqsCase } from '../lascarqs-io.js';

type Typed = Float32Array | Uint8Array | Int32Array;

/** Appends raw little-endian tensors to one file per role, counting samples. */
class ShardWriter {
  private readonly fds = new Map<string, number>();
  count = 0;
  constructor(
    readonly dir: string,
    readonly kind: 'la' | 'scar',
    readonly roles: Record<
      string,
      { file: string; dtype: 'float32' | 'uint8' | 'int32'; shape: number[] }
    >,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const [role, spec] of Object.entries(roles))
      this.fds.set(role, openSync(path.join(dir, spec.file), 'w'));
  }
  append(samples: number, tensors: Record<string, Typed>): void {
    for (const [role, data] of Object.entries(tensors)) {
      const fd = this.fds.get(role);
      if (fd === undefined) throw new Error(`unknown shard role ${role}`);
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    this.count += samples;
  }
  finish(manifest: { source: string; synthetic: boolean; cases: { id: string }[] }): void {
    for (const fd of this.fds.values()) closeSync(fd);
    const tensors = Object.fromEntries(
      Object.entries(this.roles).map(([role, spec]) => [
        role,
        { file: spec.file, dtype: spec.dtype, shape: [this.count, ...spec.shape] },
      ]),
    );
    const body = {
      format: 'lascar-shards',
      formatVersion: 1,
      kind: this.kind,
      preprocessing: PREPROCESSING_VERSION,
      source: manifest.source,
      synthetic: manifest.synthetic,
      count: this.count,
      cases: manifest.cases,
      tensors,
    };
    writeFileSync(path.join(this.dir, 'manifest.json'), `${JSON.stringify(body, null, 2)}\n`);
  }
}

export interface DatasetOptions {
  readonly out: string;
  /** Canvas size of the LA samples; 640 except in tiny tests. */
  readonly size?: number;
  readonly source?: string;
  /** Prepended to every case id (jobs run in parallel over separate folders stay distinct when merged). */
  readonly idPrefix?: string;
  readonly log?: (line: string) => void;
}

export interface DatasetSummary {
  readonly cases: number;
  readonly laSamples: number;
  readonly scarSamples: number;
  readonly scarCases: number;
  readonly synthetic: boolean;
}

export async function buildDataset(
  dataDir: string,
  options: DatasetOptions,
): Promise<DatasetSummary> {
  if (endianness() !== 'LE')
    throw new Error('shards are little-endian; this machine is big-endian');
  const cases = await findLascarqsCases(dataDir);
  if (cases.length === 0)
    throw new UsageError(
      `${dataDir}: no LAScarQS case folders (lgemri.nii.gz or enhanced.nii.gz) found`,
    );
  const size = options.size ?? LA_INPUT_SIZE;
  const la = new ShardWriter(path.join(options.out, 'la'), 'la', {
    full: { file: 'la-full.f32', dtype: 'float32', shape: [1, size, size] },
    half: { file: 'la-half.f32', dtype: 'float32', shape: [1, size / 2, size / 2] },
    label: { file: 'la-label.u8', dtype: 'uint8', shape: [1, size, size] },
    case: { file: 'la-case.i32', dtype: 'int32', shape: [] },
  });
  const scar = new ShardWriter(path.join(options.out, 'scar'), 'scar', {
    patches: { file: 'scar-patches.f32', dtype: 'float32', shape: [3, 64, 64] },
    label: { file: 'scar-label.u8', dtype: 'uint8', shape: [1, 64, 64] },
    case: { file: 'scar-case.i32', dtype: 'int32', shape: [] },
  });
  const laCases: { id: string }[] = [];
  const scarCases: { id: string }[] = [];
  let synthetic = cases.length > 0;
  for (const files of cases) {
    if (!files.laCavity) {
      options.log?.(`skipped ${files.id}: no ${'atriumSegImgMO'} label`);
      continue;
    }
    // Our phantoms carry a truth.json naming their generator: shards made only of them are synthetic.
    if (!files.truth || !(await readFile(files.truth, 'utf8')).includes('"generator"'))
      synthetic = false;
    const study = await readLascarqsCase(files);
    const c = {
      id: `${options.idPrefix ?? ''}${study.id}`,
      image: study.image,
      la: study.la!,
      ...(study.scar ? { scar: study.scar } : {}),
    };
    const laIndex = laCases.length;
    laCases.push({ id: c.id });
    let laCount = 0;
    for (const s of laSamples(c, { size })) {
      la.append(1, { full: s.full, half: s.half, label: s.label, case: Int32Array.of(laIndex) });
      laCount++;
    }
    let scarCount = 0;
    if (c.scar) {
      const scarIndex = scarCases.length;
      scarCases.push({ id: c.id });
      for (const b of scarSamples(c)) {
        scar.append(b.count, {
          patches: b.patches,
          label: b.labels,
          case: new Int32Array(b.count).fill(scarIndex),
        });
        scarCount += b.count;
      }
    }
    options.log?.(`${c.id}: ${laCount} LA slices, ${scarCount} scar patches`);
  }
  const source =
    options.source ??
    (synthetic ? `lascar phantoms in ${path.resolve(dataDir)}` : path.resolve(dataDir));
  la.finish({ source, synthetic, cases: laCases });
  scar.finish({ source, synthetic, cases: scarCases });
  return {
    cases: laCases.length,
    laSamples: la.count,
    scarSamples: scar.count,
    scarCases: scarCases.length,
    synthetic,
  };
}

export function registerDataset(program: Command): void {
  program
    .command('dataset')
    .description('turn LAScarQS-format cases into training shards for `python3 -m training train`')
    .argument('<data-dir>', 'a folder of case folders (task 1 and/or task 2 layout)')
    .requiredOption('--out <dir>', 'where to write <dir>/la and <dir>/scar shards')
    .option('--source <text>', 'describes the data in the model manifests (default: the folder)')
    .option(
      '--id-prefix <text>',
      'prefix for case ids (parallel jobs whose shards are merged later)',
    )
    .action(async (dataDir: string, opts: { out: string; source?: string; idPrefix?: string }) => {
      const summary = await buildDataset(dataDir, {
        out: opts.out,
        ...(opts.source ? { source: opts.source } : {}),
        ...(opts.idPrefix ? { idPrefix: opts.idPrefix } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(
        `${summary.cases} cases -> ${summary.laSamples} LA slices, ${summary.scarSamples} scar patches from ${summary.scarCases} task-1 cases` +
          `${summary.synthetic ? ' (synthetic phantoms)' : ''}\nshards in ${opts.out}/la and ${opts.out}/scar\n`,
      );
    });
}
