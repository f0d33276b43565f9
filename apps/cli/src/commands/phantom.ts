// `lascar phantom`: synthetic post-ablation LGE studies with ground truth (LAScarQS layout and/or
// a DICOM MR series), and `--preview` to look at one as a picture.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  LASCARQS_FILES,
  PHANTOM_STYLES,
  caseSeed,
  generatePhantom,
  phantomDicomDescription,
  renderPreview,
  writeMrSeries,
  writeNifti,
  type PhantomCase,
  type PhantomOptions,
  type PhantomStyle,
} from '@lascar/core';
import type { Command } from 'commander';
import { PNG } from 'pngjs';
import { UsageError } from '../errors.js';
import { findLascarqsCases, readLascarqsCase } from '../lascarqs-io.js';

export type PhantomFormat = 'lascarqs' | 'dicom' | 'both';

export interface PhantomRunOptions {
  readonly out: string;
  readonly cases: number;
  readonly seed: number;
  readonly format: PhantomFormat;
  readonly generator?: PhantomOptions;
  /** Called after each case is written (progress lines). */
  readonly onCase?: (line: string) => void;
}

export interface WrittenCase {
  readonly name: string;
  readonly dir: string;
  readonly seed: number;
  readonly files: readonly string[];
}

/** Folder name of case `index` (zero-padded so folders sort in generation order). */
export function phantomCaseName(index: number): string {
  return `case_${String(index).padStart(3, '0')}`;
}

/** Generates and writes `cases` phantoms; case i uses caseSeed(seed, i). */
export async function writePhantoms(options: PhantomRunOptions): Promise<WrittenCase[]> {
  const written: WrittenCase[] = [];
  for (let index = 0; index < options.cases; index++) {
    const name = phantomCaseName(index);
    const seed = caseSeed(options.seed, index);
    const started = performance.now();
    const phantom = generatePhantom(seed, options.generator ?? {});
    const generatedS = (performance.now() - started) / 1000;
    const dir = path.join(options.out, name);
    await mkdir(dir, { recursive: true });
    const files: string[] = [];
    if (options.format !== 'dicom') files.push(...(await writeLascarqs(dir, phantom)));
    if (options.format !== 'lascarqs') files.push(...(await writeDicom(dir, name, phantom)));
    const truthFile = path.join(dir, LASCARQS_FILES.truth);
    await writeFile(truthFile, `${JSON.stringify({ case: name, ...phantom.truth }, null, 2)}\n`);
    files.push(truthFile);
    written.push({ name, dir, seed, files });
    options.onCase?.(`${summaryLine(name, phantom)}  (generated in ${generatedS.toFixed(1)} s)`);
  }
  return written;
}

async function writeLascarqs(dir: string, phantom: PhantomCase): Promise<string[]> {
  const items = [
    [LASCARQS_FILES.image, phantom.image, 'lascar phantom LGE'],
    [LASCARQS_FILES.laCavity, phantom.la, 'lascar phantom LA cavity'],
    [LASCARQS_FILES.scar, phantom.scar, 'lascar phantom LA scar'],
  ] as const;
  const files: string[] = [];
  for (const [name, volume, description] of items) {
    const file = path.join(dir, name);
    // Node's gzip writes no timestamp: the same seed gives byte-identical files.
    await writeFile(file, gzipSync(writeNifti(volume, { gzip: false, description }), { level: 6 }));
    files.push(file);
  }
  return files;
}

async function writeDicom(dir: string, name: string, phantom: PhantomCase): Promise<string[]> {
  const { identity, acquisition } = phantomDicomDescription(phantom.truth, name);
  const instances = writeMrSeries(phantom.image, identity, acquisition);
  const dicomDir = path.join(dir, 'dicom');
  await mkdir(dicomDir, { recursive: true });
  const files: string[] = [];
  const width = Math.max(4, String(instances.length).length);
  for (const [n, bytes] of instances.entries()) {
    const file = path.join(dicomDir, `IM${String(n + 1).padStart(width, '0')}.dcm`);
    await writeFile(file, bytes);
    files.push(file);
  }
  return files;
}

function summaryLine(name: string, p: PhantomCase): string {
  const g = p.image.geometry;
  const q = p.truth.quantities;
  const mm = g.spacing.map((s) => Number(s.toFixed(3))).join(' x ');
  return (
    `${name}  seed ${p.seed}  ${g.dims.join(' x ')} voxels  ${mm} mm  ` +
    `LA ${q.laVolumeMl.toFixed(1)} mL  scar ${q.scarVolumeMl.toFixed(2)} mL  burden ${q.scarBurdenPercent.toFixed(1)} %`
  );
}

/** Renders a LAScarQS-layout case folder (image + masks) to a PNG: three planes, overlays. */
export async function previewCaseToPng(
  caseDir: string,
  pngFile: string,
): Promise<{ width: number; height: number }> {
  const found = await findLascarqsCases(caseDir);
  if (found.length !== 1 || path.resolve(found[0]!.dir) !== path.resolve(caseDir)) {
    throw new UsageError(
      `--preview ${caseDir}: not one case folder (expected ${LASCARQS_FILES.image} with ${LASCARQS_FILES.laCavity} and ${LASCARQS_FILES.scar} in it)`,
    );
  }
  const c = await readLascarqsCase(found[0]!);
  const picture = renderPreview(c.image, c.la, c.scar);
  const png = new PNG({ width: picture.width, height: picture.height });
  png.data = Buffer.from(picture.rgba.buffer, picture.rgba.byteOffset, picture.rgba.byteLength);
  await mkdir(path.dirname(path.resolve(pngFile)), { recursive: true });
  await writeFile(pngFile, PNG.sync.write(png));
  return { width: picture.width, height: picture.height };
}

interface CliOptions {
  out?: string;
  cases: string;
  seed: string;
  format: string;
  scale?: string;
  matrix?: string;
  slices?: string;
  style?: string;
  preview?: string;
  png?: string;
}

export function registerPhantom(program: Command): void {
  program
    .command('phantom')
    .description(
      'write synthetic post-ablation LGE studies with ground truth (LA cavity, scar, volumes, burden), or --preview one as a PNG',
    )
    .option('--out <dir>', 'folder to write the cases into (one sub-folder per case)')
    .option('--cases <n>', 'number of cases', '1')
    .option(
      '--seed <s>',
      'batch seed (integer 0..4294967295); case i uses a seed derived from it and i',
      '1',
    )
    .option(
      '--format <format>',
      'lascarqs (NIfTI, challenge names) | dicom (MR series) | both',
      'lascarqs',
    )
    .option(
      '--scale <f>',
      'shrink every matrix dimension by this factor, keeping the field of view (0 < f <= 1; quick tests)',
    )
    .option('--matrix <n>', 'force the in-plane matrix (e.g. 640), for benchmarks')
    .option('--slices <n>', 'force the number of slices (e.g. 88), for benchmarks')
    .option(
      '--style <style>',
      'classic (the look the shipped models were trained on and the product tests use) | randomised (domain-randomised, for training) | shift (held-out look outside the randomised ranges; never for training or choosing checkpoints)',
      'classic',
    )
    .option(
      '--preview <caseDir>',
      'render this case folder (lgemri + atriumSegImgMO + scarSegImgM) to --png',
    )
    .option('--png <file>', 'PNG file written by --preview')
    .action(async (opts: CliOptions) => {
      if (opts.preview !== undefined) {
        if (!opts.png) throw new UsageError('--preview needs --png OUT.png');
        const size = await previewCaseToPng(opts.preview, opts.png);
        process.stdout.write(`${opts.png}: ${size.width} x ${size.height} px\n`);
        return;
      }
      if (!opts.out)
        throw new UsageError('phantom needs --out DIR (or --preview CASE_DIR --png OUT.png)');
      const format = opts.format;
      if (format !== 'lascarqs' && format !== 'dicom' && format !== 'both') {
        throw new UsageError(`--format must be lascarqs, dicom or both, got "${format}"`);
      }
      const style = (opts.style ?? 'classic') as PhantomStyle;
      if (!PHANTOM_STYLES.includes(style))
        throw new UsageError(`--style must be ${PHANTOM_STYLES.join(', ')}, got "${opts.style}"`);
      const generator: { scale?: number; matrix?: number; slices?: number; style: PhantomStyle } = {
        style,
      };
      if (opts.scale !== undefined)
        generator.scale = parseNumber('--scale', opts.scale, (x) => x > 0 && x <= 1, 'in (0, 1]');
      if (opts.matrix !== undefined)
        generator.matrix = parseInteger('--matrix', opts.matrix, 16, 2048);
      if (opts.slices !== undefined)
        generator.slices = parseInteger('--slices', opts.slices, 8, 512);
      const started = performance.now();
      const written = await writePhantoms({
        out: opts.out,
        cases: parseInteger('--cases', opts.cases, 1, 100_000),
        seed: parseInteger('--seed', opts.seed, 0, 0xffffffff),
        format,
        generator,
        onCase: (line) => process.stdout.write(`${line}\n`),
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `${written.length} case(s) in ${path.resolve(opts.out)} (${format}), ${seconds} s\n`,
      );
    });
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function parseNumber(
  flag: string,
  value: string,
  ok: (x: number) => boolean,
  range: string,
): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n))
    throw new UsageError(`${flag} must be a number ${range}, got "${value}"`);
  return n;
}
