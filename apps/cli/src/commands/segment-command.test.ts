// The built `lascar segment` as a new user first runs it, with the shipped models: one plain line
// names the execution provider and why, and no onnxruntime or Vulkan error text reaches the
// terminal. A models folder whose weights were changed is refused with exit 2.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listDicomSeries, makeGeometry, writeNifti } from '@lascar/core';
import { builtLascar } from '@lascar/testkit/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePhantoms } from './phantom.js';

const MODELS = fileURLToPath(new URL('../../../../models', import.meta.url));
let work: string;
let series: string;
let bin: string;

beforeAll(async () => {
  bin = builtLascar();
  work = mkdtempSync(path.join(tmpdir(), 'lascar-segment-command-'));
  const [phantom] = await writePhantoms({
    out: path.join(work, 'phantoms'),
    cases: 1,
    seed: 5,
    format: 'dicom',
    generator: { scale: 0.15 },
  });
  series = path.join(phantom!.dir, 'dicom');
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const segment = (...args: string[]) => segmentInput(series, ...args);
const segmentInput = (input: string, ...args: string[]) =>
  spawnSync(process.execPath, [bin, 'segment', input, ...args], {
    encoding: 'utf8',
    // NO_COLOR would hide onnxruntime's colour codes; the check must see what a terminal sees.
    env: { ...process.env, NO_COLOR: '' },
  });

describe('lascar segment (built)', () => {
  it('with --ep auto says in one plain line which provider runs and why, and nothing alarming', () => {
    const run = segment('--out', path.join(work, 'auto'), '--ep', 'auto');
    expect(run.status, run.stderr).toBe(0);
    const providerLines = run.stderr.split('\n').filter((l) => l.startsWith('execution provider:'));
    expect(providerLines).toHaveLength(1);
    expect(providerLines[0]).toMatch(/^execution provider: (cpu|cuda|webgpu) \(.+\)$/);
    // What onnxruntime and Dawn print when a provider fails to load, and ANSI colour codes.
    expect(run.stderr).not.toMatch(
      /onnxruntime|ONNXRuntimeError|providers_shared|Vulkan|WebGPU adapter|\u001b\[/i,
    );
    const report = JSON.parse(readFileSync(path.join(work, 'auto', 'report.json'), 'utf8')) as {
      executionProvider: string;
    };
    expect(providerLines[0]).toContain(`execution provider: ${report.executionProvider} (`);
  });

  it('refuses a models folder whose weights do not match their manifest (exit 2)', () => {
    const models = path.join(work, 'models');
    cpSync(MODELS, models, { recursive: true });
    const onnx = path.join(models, 'scar.onnx');
    const bytes = readFileSync(onnx);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(onnx, bytes);
    const run = segment('--out', path.join(work, 'changed'), '--ep', 'cpu', '--models', models);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^lascar: .*scar\.onnx: its SHA-256 is [0-9a-f]{64} but the scar manifest says [0-9a-f]{64}; the model file was changed/,
    );
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('picks one series of a folder holding two with --series, as its error suggests', async () => {
    const [other] = await writePhantoms({
      out: path.join(work, 'other'),
      cases: 1,
      seed: 6,
      format: 'dicom',
      generator: { scale: 0.15 },
    });
    const both = path.join(work, 'two-series');
    mkdirSync(both);
    for (const [tag, dir] of [
      ['a', series],
      ['b', path.join(other!.dir, 'dicom')],
    ] as const)
      for (const f of readdirSync(dir)) cpSync(path.join(dir, f), path.join(both, `${tag}-${f}`));
    const mixed = segmentInput(both, '--out', path.join(work, 'two'), '--ep', 'cpu');
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(
      /^lascar: INPUT .*: the files hold 2 series; .*\(use --series UID\)$/m,
    );
    const uid = listDicomSeries(
      readdirSync(series).map((f) => new Uint8Array(readFileSync(path.join(series, f)))),
    )[0]!.seriesInstanceUid;
    const picked = segmentInput(
      both,
      '--out',
      path.join(work, 'two'),
      '--ep',
      'cpu',
      '--series',
      uid,
    );
    expect(picked.status, picked.stderr).toBe(0);
    const report = JSON.parse(readFileSync(path.join(work, 'two', 'report.json'), 'utf8')) as {
      seriesInstanceUid?: string;
    };
    expect(report.seriesInstanceUid).toBe(uid);
  });

  it('refuses a NIfTI holding NaN voxels with one line naming the first (exit 2)', () => {
    const data = new Float32Array(16 * 12 * 3).fill(100);
    data[16 * 12 + 5 * 16 + 7] = Number.NaN; // column 7, row 5, slice 1
    data[2 * 16 * 12] = Number.POSITIVE_INFINITY;
    const file = path.join(work, 'nan.nii.gz');
    writeFileSync(
      file,
      writeNifti(
        { geometry: makeGeometry({ dims: [16, 12, 3], spacing: [1, 1, 2] }), data },
        { gzip: true },
      ),
    );
    const run = segmentInput(file, '--out', path.join(work, 'nan'), '--ep', 'cpu');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'lascar: nan.nii.gz: 2 voxels are NaN or infinite (the first at column 7, row 5, slice 1); the image cannot be segmented',
    );
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });
});
