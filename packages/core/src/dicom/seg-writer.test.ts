import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { dciodvfy } from '../../test-data/dciodvfy.js';
import { NIBABEL_FILES, sampleFile } from '../../test-data/dicom-samples.js';
import { makeGeometry, type Geometry, type Mask, type Vec3 } from '../volume.js';
import { writeMrSeries } from './mr-writer.js';
import { writeSegmentation, type SegmentationModel } from './seg-writer.js';
import { readDicomSeries, type DicomSeries } from './series.js';

const MODEL: SegmentationModel = { name: 'MSWS-Net + Boundary2Patches', version: '1.2.0' };
const identity = {
  studyInstanceUid: '1.2.826.0.1.3680043.8.498.77',
  patientName: 'Phantom^Seg',
  patientId: 'PHSEG',
  studyDate: '20260102',
  studyTime: '080000',
  studyId: 'S77',
  accessionNumber: 'A77',
};

function rotation(axis: Vec3, degrees: number): [Vec3, Vec3, Vec3] {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((c) => c / n) as [number, number, number];
  const t = (degrees * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const C = 1 - c;
  return [
    [c + x * x * C, y * x * C + z * s, z * x * C - y * s],
    [x * y * C - z * s, c + y * y * C, z * y * C + x * s],
    [x * z * C + y * s, y * z * C - x * s, c + z * z * C],
  ];
}

const AXIAL = makeGeometry({
  dims: [13, 9, 6],
  spacing: [0.625, 0.625, 1.25],
  origin: [-60.5, -80.25, 12.5],
});
const OBLIQUE = makeGeometry({
  dims: [13, 9, 6],
  spacing: [1.1, 1.2, 2.5],
  origin: [30.1, -70.7, 55.3],
  direction: rotation([-0.4, 0.7, 0.2], 52),
});

/** A source series written to DICOM and read back, as the worker would have it. */
function sourceSeries(geometry: Geometry): { series: DicomSeries; files: Uint8Array[] } {
  const data = new Float32Array(geometry.dims[0] * geometry.dims[1] * geometry.dims[2]).map(
    (_, n) => n % 4000,
  );
  const files = writeMrSeries({ geometry, data }, identity);
  return { series: readDicomSeries(files), files };
}

/** Pseudo-random masks with an empty slice in each, so empty frames are exercised. */
function masks(geometry: Geometry, seed: number): { la: Mask; scar: Mask } {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const n = geometry.dims[0] * geometry.dims[1] * geometry.dims[2];
  const perSlice = geometry.dims[0] * geometry.dims[1];
  const la = new Uint8Array(n).map((_, v) =>
    Math.floor(v / perSlice) === 1 ? 0 : next() < 0.4 ? 1 : 0,
  );
  const scar = new Uint8Array(n).map((_, v) =>
    Math.floor(v / perSlice) === 3 ? 0 : next() < 0.15 ? 1 : 0,
  );
  return { la: { geometry, data: la }, scar: { geometry, data: scar } };
}

type Natural = Record<string, unknown>;
const seq = (ds: Natural, key: string): Natural[] => {
  const v = ds[key];
  return (Array.isArray(v) ? v : [v]) as Natural[];
};

/**
 * An independent reader: dcmjs's naturalized dataset and plain bit unpacking, mapping each frame
 * to its source slice through ReferencedSOPInstanceUID and checking its plane position.
 */
function readBack(seg: Uint8Array, series: DicomSeries): { la: Uint8Array; scar: Uint8Array } {
  const copy = seg.slice();
  const dict = dcmjs.data.DicomMessage.readFile(copy.buffer);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  const [nx, ny, nz] = series.volume.geometry.dims;
  const perFrame = nx * ny;
  expect(ds.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.66.4');
  expect(ds.SegmentationType).toBe('BINARY');
  expect(Number(ds.NumberOfFrames)).toBe(2 * nz);
  expect(ds.Rows).toBe(ny);
  expect(ds.Columns).toBe(nx);
  const referenced = seq(seq(ds, 'ReferencedSeriesSequence')[0]!, 'ReferencedInstanceSequence').map(
    (r) => r.ReferencedSOPInstanceUID,
  );
  expect(new Set(referenced)).toEqual(new Set(series.source.slices.map((s) => s.sopInstanceUid)));
  expect(seq(ds, 'ReferencedSeriesSequence')[0]!.SeriesInstanceUID).toBe(
    series.source.seriesInstanceUid,
  );
  const pixels = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
  const out = { la: new Uint8Array(perFrame * nz), scar: new Uint8Array(perFrame * nz) };
  seq(ds, 'PerFrameFunctionalGroupsSequence').forEach((frame, f) => {
    const segment = seq(frame, 'SegmentIdentificationSequence')[0]!.ReferencedSegmentNumber;
    const source = seq(seq(frame, 'DerivationImageSequence')[0]!, 'SourceImageSequence')[0]!;
    const frameNumber =
      source.ReferencedFrameNumber === undefined ? undefined : Number(source.ReferencedFrameNumber);
    const k = series.source.slices.findIndex(
      (s) => s.sopInstanceUid === source.ReferencedSOPInstanceUID && s.frameNumber === frameNumber,
    );
    expect(k).toBeGreaterThanOrEqual(0);
    const position = seq(frame, 'PlanePositionSequence')[0]!.ImagePositionPatient as number[];
    series.source.slices[k]!.position.forEach((c, axis) =>
      expect(Math.abs(position[axis]! - c)).toBeLessThan(1e-9),
    );
    const target = segment === 1 ? out.la : out.scar;
    for (let p = 0; p < perFrame; p++) {
      const bit = f * perFrame + p;
      target[k * perFrame + p] = (pixels[bit >> 3]! >> (bit & 7)) & 1;
    }
  });
  return out;
}

const PYDICOM_READER = `
import json, sys, pydicom
seg = pydicom.dcmread(sys.argv[1])
frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
out = []
for f, group in enumerate(seg.PerFrameFunctionalGroupsSequence):
    src = group.DerivationImageSequence[0].SourceImageSequence[0]
    out.append({
        "segment": int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        "sop": src.ReferencedSOPInstanceUID,
        "position": [float(x) for x in group.PlanePositionSequence[0].ImagePositionPatient],
        "ones": [int(i) for i in frames[f].flatten().nonzero()[0]],
    })
print(json.dumps(out))
`;

/** pydicom (Debian python3-pydicom) reads the SEG: per frame, segment, source and set pixels. */
function readWithPydicom(
  seg: Uint8Array,
  series: DicomSeries,
): { la: Uint8Array; scar: Uint8Array } {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-seg-'));
  try {
    writeFileSync(join(dir, 'seg.dcm'), seg);
    writeFileSync(join(dir, 'read.py'), PYDICOM_READER);
    const run = spawnSync('/usr/bin/python3', [join(dir, 'read.py'), join(dir, 'seg.dcm')], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    if (run.status !== 0)
      throw new Error(`pydicom reader failed: ${run.stderr}${run.error?.message ?? ''}`);
    const frames = JSON.parse(run.stdout) as {
      segment: number;
      sop: string;
      position: number[];
      ones: number[];
    }[];
    const [nx, ny, nz] = series.volume.geometry.dims;
    const out = { la: new Uint8Array(nx * ny * nz), scar: new Uint8Array(nx * ny * nz) };
    for (const frame of frames) {
      const k = series.source.slices.findIndex((s) => s.sopInstanceUid === frame.sop);
      expect(k).toBeGreaterThanOrEqual(0);
      series.source.slices[k]!.position.forEach((c, axis) =>
        expect(Math.abs(frame.position[axis]! - c)).toBeLessThan(1e-9),
      );
      for (const p of frame.ones) (frame.segment === 1 ? out.la : out.scar)[k * nx * ny + p] = 1;
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('writeSegmentation', () => {
  it.each([
    ['axial', AXIAL],
    ['oblique', OBLIQUE],
  ])(
    '%s: passes dciodvfy and reads back to exactly the masks (dcmjs and pydicom)',
    (_, geometry) => {
      const { series } = sourceSeries(geometry);
      const m = masks(geometry, 7);
      const seg = writeSegmentation(series.source, m, MODEL, {
        createdAt: new Date('2026-03-01T10:00:00Z'),
      });

      const validation = dciodvfy(seg);
      expect(validation.errors, validation.output).toEqual([]);
      expect(validation.warnings, validation.output).toEqual([]);

      const viaDcmjs = readBack(seg, series);
      expect(Array.from(viaDcmjs.la)).toEqual(Array.from(m.la.data));
      expect(Array.from(viaDcmjs.scar)).toEqual(Array.from(m.scar.data));
      const viaPydicom = readWithPydicom(seg, series);
      expect(Array.from(viaPydicom.la)).toEqual(Array.from(m.la.data));
      expect(Array.from(viaPydicom.scar)).toEqual(Array.from(m.scar.data));
    },
  );

  it('codes the segments as the domain notes say', () => {
    const { series } = sourceSeries(AXIAL);
    const seg = writeSegmentation(series.source, masks(AXIAL, 3), MODEL);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(seg.slice().buffer).dict,
    );
    const segments = seq(ds, 'SegmentSequence');
    const codeOf = (s: Natural, key: string): string => {
      const c = seq(s, key)[0]!;
      return `${c.CodingSchemeDesignator as string}:${c.CodeValue as string}`;
    };
    expect(segments.map((s) => s.SegmentNumber)).toEqual([1, 2]);
    expect(segments.map((s) => codeOf(s, 'SegmentedPropertyCategoryCodeSequence'))).toEqual([
      'SCT:91723000',
      'SCT:49755003',
    ]);
    expect(segments.map((s) => codeOf(s, 'SegmentedPropertyTypeCodeSequence'))).toEqual([
      'SCT:82471001',
      'SCT:263756000',
    ]);
    expect(codeOf(segments[1]!, 'AnatomicRegionSequence')).toBe('SCT:82471001');
    for (const s of segments) {
      expect(s.SegmentAlgorithmType).toBe('AUTOMATIC');
      expect(s.SegmentAlgorithmName).toBe(MODEL.name);
      const algorithm = seq(s, 'SegmentationAlgorithmIdentificationSequence')[0]!;
      expect(codeOf(algorithm, 'AlgorithmFamilyCodeSequence')).toBe('DCM:123110');
      expect(algorithm.AlgorithmVersion).toBe(MODEL.version);
    }
    expect(ds.Manufacturer).toBe('LA Scar');
    expect(ds.DeviceSerialNumber).toBeTruthy();
    expect(ds.StudyInstanceUID).toBe(identity.studyInstanceUid);
    expect(ds.FrameOfReferenceUID).toBe(series.source.frameOfReferenceUid);
  });

  it('derives its UIDs from the source series and the model version (idempotent)', () => {
    const { series } = sourceSeries(AXIAL);
    const m = masks(AXIAL, 5);
    const uidOf = (bytes: Uint8Array): [string, string] => {
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict,
      );
      return [ds.SOPInstanceUID as string, ds.SeriesInstanceUID as string];
    };
    const at = { createdAt: new Date('2026-03-01T10:00:00Z') };
    const a = writeSegmentation(series.source, m, MODEL, at);
    const b = writeSegmentation(series.source, m, MODEL, at);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(uidOf(writeSegmentation(series.source, m, MODEL))).toEqual(uidOf(a));
    const other = uidOf(writeSegmentation(series.source, m, { ...MODEL, version: '1.3.0' }));
    expect(other[0]).not.toBe(uidOf(a)[0]);
    expect(other[1]).not.toBe(uidOf(a)[1]);
  });

  it('rejects a mask that is not on the source grid', () => {
    const { series } = sourceSeries(AXIAL);
    const m = masks(AXIAL, 1);
    const shifted = makeGeometry({
      ...AXIAL,
      origin: [AXIAL.origin[0] + 0.5, AXIAL.origin[1], AXIAL.origin[2]],
    });
    expect(() =>
      writeSegmentation(series.source, { la: m.la, scar: { ...m.scar, geometry: shifted } }, MODEL),
    ).toThrow(/scar mask is not on the source series' grid.*origins differ/);
    const bigger = makeGeometry({ ...AXIAL, dims: [13, 9, 7] });
    expect(() =>
      writeSegmentation(
        series.source,
        { la: { geometry: bigger, data: new Uint8Array(13 * 9 * 7) }, scar: m.scar },
        MODEL,
      ),
    ).toThrow(expect.objectContaining({ code: 'GRID_MISMATCH' }));
  });

  it('references frames of an Enhanced MR multi-frame source (real Philips file)', () => {
    const series = readDicomSeries([sampleFile(`${NIBABEL_FILES}/philips_mprage.dcm.gz`)]);
    const g = series.volume.geometry;
    const la = new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2]);
    la[5 + g.dims[0] * (7 + g.dims[1] * 100)] = 1;
    const seg = writeSegmentation(
      series.source,
      { la: { geometry: g, data: la }, scar: { geometry: g, data: new Uint8Array(la.length) } },
      MODEL,
    );
    const validation = dciodvfy(seg);
    expect(validation.errors, validation.output).toEqual([]);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(seg.slice().buffer).dict,
    );
    const frame = seq(ds, 'PerFrameFunctionalGroupsSequence')[100]!;
    const source = seq(seq(frame, 'DerivationImageSequence')[0]!, 'SourceImageSequence')[0]!;
    expect(Number(source.ReferencedFrameNumber)).toBe(series.source.slices[100]!.frameNumber);
    const back = readBack(seg, series);
    expect(back.la.indexOf(1)).toBe(5 + g.dims[0] * (7 + g.dims[1] * 100));
  });
});
