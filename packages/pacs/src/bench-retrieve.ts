/**
 * WADO-RS series retrieval, two ways, from a real Orthanc on loopback: dicomweb-client's
 * retrieveSeries (xhr2 buffers the whole answer, then splits it) and our streamed node:http
 * multipart reader. Prints MB/s per run and the medians.
 *
 *   npm run build -w @lascar/worker   # or npx turbo run build
 *   bash scripts/orthanc/in-private-network.sh node apps/worker/dist/pacs/bench-retrieve.js [slices] [matrix] [runs]
 */
import { deterministicUid, writeMrSeries, type Volume } from '@lascar/core';
import { DicomWebPacsClient } from './dicomweb.js';
import { startOrthanc } from './orthanc-process.js';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  const slices = Number(process.argv[2] ?? 44);
  const matrix = Number(process.argv[3] ?? 576);
  const runs = Number(process.argv[4] ?? 5);
  for (const [name, v] of [
    ['slices', slices],
    ['matrix', matrix],
    ['runs', runs],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`${name} must be a positive whole number, got ${v}`);
  }

  // A noise volume: realistic size, incompressible, written as our MR series writer writes LGE.
  const data = new Int16Array(matrix * matrix * slices);
  let x = 12345;
  for (let n = 0; n < data.length; n++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[n] = x >>> 20;
  }
  const volume: Volume<Int16Array> = {
    geometry: {
      dims: [matrix, matrix, slices],
      spacing: [0.625, 0.625, 2.5],
      origin: [-180, -180, -50],
      direction: [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
    },
    data,
  };
  const studyInstanceUid = deterministicUid('bench-retrieve', String(slices), String(matrix));
  const instances = writeMrSeries(volume, { studyInstanceUid, patientId: 'BENCH' });
  const bytes = instances.reduce((sum, b) => sum + b.length, 0);
  const mb = bytes / 1e6;

  const orthanc = await startOrthanc({ name: 'lascar-bench' });
  try {
    const pacs = new DicomWebPacsClient({
      url: orthanc.dicomWebUrl,
      username: orthanc.username,
      password: orthanc.password,
    });
    let t = performance.now();
    await pacs.storeInstances(studyInstanceUid, instances);
    const stowS = (performance.now() - t) / 1000;
    const [series] = await pacs.searchSeries({ StudyInstanceUID: studyInstanceUid });
    if (!series) throw new Error('the stored series is not found by QIDO-RS');

    console.log(
      `series: ${slices} slices of ${matrix} x ${matrix} x 16 bit, ${instances.length} instances, ${mb.toFixed(1)} MB`,
    );
    console.log(
      `STOW-RS (dicomweb-client): ${stowS.toFixed(2)} s, ${(mb / stowS).toFixed(0)} MB/s`,
    );

    const ways = {
      'dicomweb-client retrieveSeries': () => pacs.retrieveSeriesWithDicomwebClient(series),
      'streamed node:http multipart': () => pacs.retrieveSeriesStreamed(series),
    };
    const rates: Record<string, number[]> = {};
    // Warm-up once each (Orthanc's file cache, JIT), then alternate.
    for (const run of Object.values(ways)) await run();
    for (let r = 0; r < runs; r++) {
      for (const [name, run] of Object.entries(ways)) {
        t = performance.now();
        const files = await run();
        const s = (performance.now() - t) / 1000;
        const got = files.reduce((sum, f) => sum + f.bytes.length, 0);
        if (files.length !== instances.length || got !== bytes) {
          throw new Error(
            `${name}: got ${files.length} instances / ${got} bytes, expected ${instances.length} / ${bytes}`,
          );
        }
        (rates[name] ??= []).push(mb / s);
      }
    }
    for (const [name, r] of Object.entries(rates)) {
      console.log(
        `${name.padEnd(32)} median ${median(r).toFixed(0).padStart(5)} MB/s  (${r.map((v) => v.toFixed(0)).join(', ')})`,
      );
    }
  } finally {
    await orthanc.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
