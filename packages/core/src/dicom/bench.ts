// A benchmark that `lascar bench` can call: read an LGE-sized series from buffers and write its
// SEG. Inputs are made first (not timed): an MR series of the requested size and two masks.
import { makeGeometry, type Mask } from '../volume.js';
import { writeMrSeries } from './mr-writer.js';
import { writeSegmentation } from './seg-writer.js';
import { readDicomSeries } from './series.js';

export interface DicomBenchmarkResult {
  readonly dims: readonly [number, number, number];
  /** Bytes of the DICOM series read. */
  readonly seriesBytes: number;
  readonly segBytes: number;
  /** readDicomSeries on the buffers. */
  readonly readMs: number;
  /** writeSegmentation of two masks. */
  readonly segMs: number;
  readonly totalMs: number;
}

/** Times series-to-volume and the SEG writer on a synthetic series (default 640 x 640 x 88). */
export function benchmarkDicomSeriesAndSeg(
  dims: readonly [number, number, number] = [640, 640, 88],
): DicomBenchmarkResult {
  const geometry = makeGeometry({
    dims: [...dims],
    spacing: [0.625, 0.625, 1.25],
    origin: [-200, -180, -60],
  });
  const n = dims[0] * dims[1] * dims[2];
  const data = new Float32Array(n);
  for (let v = 0; v < n; v++) data[v] = (v * 2654435761) % 4096;
  const files = writeMrSeries(
    { geometry, data },
    { studyInstanceUid: '1.2.826.0.1.3680043.8.498.4242' },
  );
  const la: Mask = { geometry, data: new Uint8Array(n) };
  const scar: Mask = { geometry, data: new Uint8Array(n) };
  for (let v = 0; v < n; v += 7) la.data[v] = 1;
  for (let v = 0; v < n; v += 31) scar.data[v] = 1;

  const t0 = performance.now();
  const series = readDicomSeries(files);
  const t1 = performance.now();
  const seg = writeSegmentation(series.source, { la, scar }, { name: 'benchmark', version: '0' });
  const t2 = performance.now();
  return {
    dims: [dims[0], dims[1], dims[2]],
    seriesBytes: files.reduce((s, f) => s + f.length, 0),
    segBytes: seg.length,
    readMs: t1 - t0,
    segMs: t2 - t1,
    totalMs: t2 - t0,
  };
}
