// The DICOMweb PACS client against a real Orthanc (Debian package) in a private network namespace.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCodecDecoders,
  decodeDicomFrames,
  listDicomSeries,
  readDicomSeries,
  SEGMENTATION_STORAGE,
  writeSegmentation,
} from '@lascar/core';
import { DicomWebPacsClient } from '@lascar/pacs';
import { PacsRequestError } from '@lascar/pacs';
import { PacsUnavailableError } from '@lascar/pacs';
import {
  phantomSeries,
  startOrthanc,
  type OrthancInstance,
  type PhantomSeries,
} from '@lascar/testkit';
import { PYDICOM_FILES, sampleFile } from '../../../packages/core/test-data/dicom-samples.js';

/** The file with new Study, Series and SOP Instance UIDs (dcmtk's dcmodify, as CI installs it). */
function newUids(bytes: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'lascar-uids-'));
  try {
    const file = join(dir, 'in.dcm');
    writeFileSync(file, bytes);
    execFileSync('dcmodify', ['-nb', '-gst', '-gse', '-gin', file], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('DICOMweb PACS client on a real Orthanc', () => {
  let orthanc: OrthancInstance;
  let pacs: DicomWebPacsClient;
  let lge: PhantomSeries;

  beforeAll(async () => {
    orthanc = await startOrthanc();
    pacs = new DicomWebPacsClient({
      url: orthanc.dicomWebUrl,
      username: orthanc.username,
      password: orthanc.password,
    });
    lge = phantomSeries(101, {
      acquisition: { seriesDescription: 'LGE 3D PSIR', protocolName: 'DE_3D_LA' },
      identity: { accessionNumber: 'ACC101' },
    });
    await pacs.storeInstances(lge.studyInstanceUid, lge.instances);
  });
  afterAll(async () => {
    await orthanc?.dispose();
  });

  it('answers ping', async () => {
    await expect(pacs.ping()).resolves.toBeUndefined();
  });

  it('finds the stored series by QIDO with Orthanc-safe wildcards and a caret', async () => {
    const byDescription = await pacs.searchSeries({ SeriesDescription: 'lge 3d*', Modality: 'MR' });
    expect(byDescription.map((s) => s.seriesInstanceUid)).toEqual([lge.seriesInstanceUid]);
    expect(byDescription[0]).toMatchObject({
      studyInstanceUid: lge.studyInstanceUid,
      modality: 'MR',
      seriesDescription: 'LGE 3D PSIR',
      numberOfInstances: lge.instances.length,
      // A study attribute, asked for with the series: a job that fails still shows it.
      accessionNumber: 'ACC101',
    });
    expect((await pacs.seriesAttributes(lge)).accessionNumber).toBe('ACC101');
    const none = await pacs.searchSeries({ SeriesDescription: 'CINE*' });
    expect(none).toEqual([]);
  });

  it('reads series attributes, instance-level ones included', async () => {
    const attrs = await pacs.seriesAttributes(lge);
    expect(attrs).toMatchObject({
      studyInstanceUid: lge.studyInstanceUid,
      seriesInstanceUid: lge.seriesInstanceUid,
      modality: 'MR',
      seriesDescription: 'LGE 3D PSIR',
      protocolName: 'DE_3D_LA',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      numberOfInstances: lge.instances.length,
    });
    expect(attrs.imageType?.[0]).toBe('ORIGINAL');
    expect(attrs.sequenceName).toBeTruthy();
    expect(attrs.inversionTimeMs).toBeGreaterThan(0);
  });

  it('retrieves every instance byte-identical, streamed and through dicomweb-client', async () => {
    const sorted = (files: { bytes: Uint8Array }[]): string[] =>
      files.map((f) => Buffer.from(f.bytes).toString('base64')).sort();
    const expected = sorted(lge.instances.map((bytes) => ({ bytes })));
    const streamed = await pacs.retrieveSeries(lge);
    expect(streamed).toHaveLength(lge.instances.length);
    expect(sorted(streamed)).toEqual(expected);
    const buffered = await pacs.retrieveSeriesWithDicomwebClient(lge);
    expect(sorted(buffered)).toEqual(expected);
    // What we retrieved is a readable volume.
    expect(readDicomSeries(streamed).volume.geometry.dims[2]).toBe(lge.instances.length);
  });

  it('retrieves compressed series as stored (JPEG 2000, JPEG-LS, RLE), decoded in Node', async () => {
    const reference = decodeDicomFrames(sampleFile(`${PYDICOM_FILES}/MR_small.dcm`)).data;
    const decoders = await createCodecDecoders();
    for (const [name, transferSyntax] of [
      ['MR_small_jp2klossless.dcm', '1.2.840.10008.1.2.4.90'],
      ['MR_small_jpeg_ls_lossless.dcm', '1.2.840.10008.1.2.4.80'],
      ['MR_small_RLE.dcm', '1.2.840.10008.1.2.5'],
    ] as const) {
      // The three samples share their UIDs: give each its own series.
      const sample = { name, bytes: newUids(sampleFile(`${PYDICOM_FILES}/${name}`).bytes) };
      const [{ seriesInstanceUid }] = listDicomSeries([sample]) as [{ seriesInstanceUid: string }];
      // Orthanc's REST upload: the file's study is not known here.
      const upload = await fetch(`${orthanc.url}/instances`, {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`,
        },
        body: sample.bytes,
      });
      expect(upload.status).toBe(200);
      const [ref] = await pacs.searchSeries({ SeriesInstanceUID: seriesInstanceUid });
      // Orthanc 1.10 answered HTTP 500 for JPEG 2000 when asked for its default transfer syntax.
      const [file] = await pacs.retrieveSeries(ref!);
      expect(Buffer.from(file!.bytes).includes(Buffer.from(transferSyntax)), name).toBe(true);
      expect(Array.from(decodeDicomFrames(file!, decoders).data)).toEqual(Array.from(reference));
    }
  });

  it('converts a 12-bit JPEG series to Explicit VR Little Endian when asked (the codecs fall back on it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lascar-jpx-'));
    let bytes: Uint8Array;
    try {
      writeFileSync(join(dir, 'in.dcm'), lge.instances[0]!);
      execFileSync('dcmcjpeg', ['+ee', join(dir, 'in.dcm'), join(dir, 'out.dcm')], {
        stdio: 'pipe',
      });
      bytes = newUids(new Uint8Array(readFileSync(join(dir, 'out.dcm'))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const [{ seriesInstanceUid }] = listDicomSeries([{ name: 'jpx', bytes }]) as [
      { seriesInstanceUid: string },
    ];
    const upload = await fetch(`${orthanc.url}/instances`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${orthanc.username}:${orthanc.password}`).toString('base64')}`,
      },
      body: bytes,
    });
    expect(upload.status).toBe(200);
    const [ref] = await pacs.searchSeries({ SeriesInstanceUID: seriesInstanceUid });
    const [stored] = await pacs.retrieveSeries(ref!);
    expect(Buffer.from(stored!.bytes).includes(Buffer.from('1.2.840.10008.1.2.4.51'))).toBe(true);
    const [converted] = await pacs.retrieveSeries(ref!, { transferSyntax: '1.2.840.10008.1.2.1' });
    // Decoded without any codec: the PACS sent it uncompressed, on the same grid.
    const frame = decodeDicomFrames(converted!);
    const original = decodeDicomFrames({ name: 'lge', bytes: lge.instances[0]! });
    expect(frame.data.length).toBe(original.data.length);
  });

  it('stores a SEG with STOW-RS and finds it by QIDO Modality=SEG', async () => {
    const source = readDicomSeries(lge.instances).source;
    const voxels = source.geometry.dims[0] * source.geometry.dims[1] * source.geometry.dims[2];
    const empty = { geometry: source.geometry, data: new Uint8Array(voxels) };
    const seg = writeSegmentation(
      source,
      { la: empty, scar: empty },
      { name: 'test model', version: '0.0.1' },
    );
    await pacs.storeInstances(lge.studyInstanceUid, [seg]);
    const segs = await pacs.searchSeries({
      StudyInstanceUID: lge.studyInstanceUid,
      Modality: 'SEG',
    });
    expect(segs).toHaveLength(1);
    const attrs = await pacs.seriesAttributes(segs[0]!);
    expect(attrs.sopClassUid).toBe(SEGMENTATION_STORAGE);
    expect(attrs.modality).toBe('SEG');
    // Storing the same SEG again is accepted (Orthanc keeps one copy).
    await pacs.storeInstances(lge.studyInstanceUid, [seg]);
    expect(
      await pacs.searchSeries({ StudyInstanceUID: lge.studyInstanceUid, Modality: 'SEG' }),
    ).toHaveLength(1);
  });

  it('rejects a STOW-RS of non-DICOM bytes with a non-retryable error naming the request', async () => {
    const err = await pacs
      .storeInstances(lge.studyInstanceUid, [new TextEncoder().encode('not dicom')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PacsRequestError);
    expect((err as PacsRequestError).status).toBe(400);
    expect((err as Error).message).toContain(
      `POST ${orthanc.dicomWebUrl}/studies/${lge.studyInstanceUid}`,
    );
    expect((err as Error).message).not.toContain(orthanc.password);
  });

  it('names a missing series with a non-retryable error', async () => {
    const err = await pacs
      .seriesAttributes({ studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: '1.2.3.4.5' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PacsRequestError);
    expect((err as Error).message).toContain('1.2.3.4.5');
    const wado = await pacs
      .retrieveSeries({ studyInstanceUid: lge.studyInstanceUid, seriesInstanceUid: '1.2.3.4.5' })
      .catch((e: unknown) => e);
    expect(wado).toBeInstanceOf(PacsRequestError);
  });

  it('reports wrong credentials as a refused request, without the password', async () => {
    const wrong = new DicomWebPacsClient({
      url: orthanc.dicomWebUrl,
      username: orthanc.username,
      password: 'wrong-pass',
    });
    const err = await wrong.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PacsRequestError);
    expect((err as PacsRequestError).status).toBe(401);
    expect((err as Error).message).not.toContain('wrong-pass');
  });

  it('turns a stopped Orthanc into PacsUnavailableError for every call, then recovers', async () => {
    await orthanc.stop();
    try {
      for (const call of [
        () => pacs.ping(),
        () => pacs.searchSeries({ Modality: 'MR' }),
        () => pacs.seriesAttributes(lge),
        () => pacs.retrieveSeries(lge),
        () => pacs.storeInstances(lge.studyInstanceUid, lge.instances.slice(0, 1)),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PacsUnavailableError);
        expect((err as Error).message).toContain(`127.0.0.1:${orthanc.port}`);
        expect((err as Error).message).toMatch(/ECONNREFUSED/);
        expect((err as Error).message).not.toContain(orthanc.password);
      }
    } finally {
      await orthanc.restart();
    }
    const found = await pacs.searchSeries({ SeriesInstanceUID: lge.seriesInstanceUid });
    expect(found).toHaveLength(1);
  });
});
