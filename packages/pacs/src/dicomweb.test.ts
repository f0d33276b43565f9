import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  DicomWebPacsClient,
  literalQuery,
  mediaStorageSopInstanceUid,
  seriesAttributesFromJson,
  stowFailures,
} from './dicomweb.js';
import { PacsRequestError, redactUrl, requestFailure } from './errors.js';
import { OrthancRest } from './orthanc-rest.js';
import { PacsUnavailableError } from './types.js';

describe('DICOMweb helpers', () => {
  it('sends query characters literally, as Orthanc 1.10 does not percent-decode', () => {
    expect(
      literalQuery(
        '/dicom-web/series?PatientName=DOE%5EJOHN&SeriesDescription=LGE%203D*&includefield=0008103E%2C00181030',
      ),
    ).toBe(
      '/dicom-web/series?PatientName=DOE^JOHN&SeriesDescription=LGE?3D*&includefield=0008103E,00181030',
    );
    // The path part and other escapes are left alone.
    expect(literalQuery('/a%20b/series?x=%26%3D')).toBe('/a%20b/series?x=%26%3D');
    expect(literalQuery('/studies')).toBe('/studies');
  });

  it('classifies failures: unreachable and 5xx retryable, 4xx not; no credentials in messages', () => {
    const down = requestFailure(
      'GET',
      'http://user:pw@pacs:8042/dicom-web/studies',
      0,
      'ECONNREFUSED',
    );
    expect(down).toBeInstanceOf(PacsUnavailableError);
    expect(down.message).toBe(
      'PACS unreachable: GET http://pacs:8042/dicom-web/studies (ECONNREFUSED)',
    );
    expect(requestFailure('POST', 'http://pacs/x', 503)).toBeInstanceOf(PacsUnavailableError);
    const refused = requestFailure(
      'POST',
      'http://pacs/dicom-web/studies/1.2',
      409,
      undefined,
      '{"Message": "study mismatch"}',
    );
    expect(refused).toBeInstanceOf(PacsRequestError);
    expect(refused.message).toBe(
      'PACS refused POST http://pacs/dicom-web/studies/1.2: HTTP 409 ({"Message": "study mismatch"})',
    );
    expect(redactUrl('https://a:b@h/p?q=1')).toBe('https://h/p?q=1');
  });

  it('reads series attributes from DICOM JSON', () => {
    const series = {
      '0020000D': { vr: 'UI', Value: ['1.2.3'] },
      '0020000E': { vr: 'UI', Value: ['1.2.3.4'] },
      '00080060': { vr: 'CS', Value: ['MR'] },
      '0008103E': { vr: 'LO', Value: ['LGE 3D'] },
      '00201209': { vr: 'IS', Value: [44] },
      '00080050': { vr: 'SH', Value: ['ACC123'] },
    };
    const instance = {
      '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'M', 'IR'] },
      '00180024': { vr: 'SH', Value: ['*tfl3d1_ns'] },
      '00180082': { vr: 'DS', Value: [300] },
      '00181020': { vr: 'LO', Value: ['syngo MR E11', 'lascar'] },
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] },
      '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 0, -1] },
    };
    expect(seriesAttributesFromJson(series, instance)).toEqual({
      studyInstanceUid: '1.2.3',
      seriesInstanceUid: '1.2.3.4',
      modality: 'MR',
      seriesDescription: 'LGE 3D',
      numberOfInstances: 44,
      accessionNumber: 'ACC123',
      imageType: ['ORIGINAL', 'PRIMARY', 'M', 'IR'],
      sequenceName: '*tfl3d1_ns',
      inversionTimeMs: 300,
      softwareVersions: 'syngo MR E11\\lascar',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      imageOrientationPatient: [1, 0, 0, 0, 0, -1],
    });
    expect(() => seriesAttributesFromJson({})).toThrow(
      /without StudyInstanceUID or SeriesInstanceUID/,
    );
  });

  it('lists STOW-RS failures', () => {
    const answer = JSON.stringify({
      '00081198': {
        vr: 'SQ',
        Value: [
          { '00081155': { vr: 'UI', Value: ['1.2.9'] }, '00081197': { vr: 'US', Value: [272] } },
        ],
      },
    });
    expect(stowFailures(answer)).toEqual(['1.2.9: failure reason 272']);
    expect(stowFailures('')).toEqual([]);
    expect(stowFailures({ '00081199': { vr: 'SQ', Value: [] } })).toEqual([]);
  });

  it('reads the SOP Instance UID from a Part-10 meta group', () => {
    expect(mediaStorageSopInstanceUid(part10('1.2.826.0.1.7.1'))).toBe('1.2.826.0.1.7.1');
    expect(mediaStorageSopInstanceUid(part10('1.2.826.0.1.7.22'))).toBe('1.2.826.0.1.7.22');
    expect(mediaStorageSopInstanceUid(new Uint8Array(4))).toBeUndefined();
  });
});

/** The smallest Part-10 file: preamble, DICM, a meta group with (0002,0003) only. */
function part10(sopInstanceUid: string): Uint8Array {
  const uid = Buffer.from(sopInstanceUid.length % 2 ? `${sopInstanceUid}\0` : sopInstanceUid);
  const element = Buffer.alloc(8);
  element.writeUInt16LE(0x0002, 0);
  element.writeUInt16LE(0x0003, 2);
  element.write('UI', 4, 'latin1');
  element.writeUInt16LE(uid.length, 6);
  return new Uint8Array(Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), element, uid]));
}

describe('DICOMweb client failure handling (local HTTP server standing in for a misbehaving PACS)', () => {
  async function server(
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ url: string; close(): Promise<void> }> {
    const s = createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    };
  }
  const ref = { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' };

  it('a PACS that never answers times out as PacsUnavailableError on every path', async () => {
    const hung = await server(() => {
      /* never answers */
    });
    try {
      const pacs = new DicomWebPacsClient({
        url: `${hung.url}/dicom-web`,
        username: 'u',
        password: 'secret-pw',
        timeoutMs: 300,
      });
      const rest = new OrthancRest({
        url: hung.url,
        username: 'u',
        password: 'secret-pw',
        timeoutMs: 300,
      });
      for (const call of [
        () => pacs.ping(),
        () => pacs.searchSeries({ Modality: 'MR' }),
        () => pacs.retrieveSeries(ref),
        () => rest.getJson('/changes'),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PacsUnavailableError);
        expect((err as Error).message).toMatch(/timed out/);
        expect((err as Error).message).toContain(hung.url);
        expect((err as Error).message).not.toContain('secret-pw');
      }
    } finally {
      await hung.close();
    }
  });

  it('5xx is retryable, 4xx is not, on every path', async () => {
    let status = 503;
    const s = await server((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"Message":"busy"}');
    });
    try {
      const pacs = new DicomWebPacsClient({ url: `${s.url}/dicom-web` });
      const rest = new OrthancRest({ url: s.url });
      const calls = [
        () => pacs.searchSeries({ Modality: 'MR' }),
        () => pacs.retrieveSeries(ref),
        () => pacs.storeInstances('1.2.3', [new Uint8Array(4)]),
        () => rest.getJson('/changes'),
      ];
      for (const call of calls)
        expect(await call().catch((e: unknown) => e)).toBeInstanceOf(PacsUnavailableError);
      status = 404;
      for (const call of calls) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PacsRequestError);
        expect((err as PacsRequestError).status).toBe(404);
      }
    } finally {
      await s.close();
    }
  });

  it('a STOW-RS success that does not reference every instance sent is retryable (a full disk)', async () => {
    let answer: object = {};
    const s = await server((req, res) => {
      req.resume();
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/dicom+json' })
          .end(JSON.stringify(answer)),
      );
    });
    const sent = [part10('1.2.826.0.1.7.1'), part10('1.2.826.0.1.7.22')];
    const referenced = (...uids: string[]) => ({
      '00081199': {
        vr: 'SQ',
        Value: uids.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] } })),
      },
    });
    try {
      const pacs = new DicomWebPacsClient({ url: `${s.url}/dicom-web` });
      // What Orthanc 1.10 answers when it cannot write: 200, both sequences empty.
      answer = { '00081198': { vr: 'SQ', Value: [] }, '00081199': { vr: 'SQ', Value: [] } };
      const none = await pacs.storeInstances('1.2.3', sent).catch((e: unknown) => e);
      expect(none).toBeInstanceOf(PacsUnavailableError);
      expect((none as Error).message).toMatch(
        /stored only 0 of 2 instance\(s\) \(not in its ReferencedSOPSequence: 1\.2\.826\.0\.1\.7\.1, 1\.2\.826\.0\.1\.7\.22\)/,
      );
      answer = referenced('1.2.826.0.1.7.22');
      const one = await pacs.storeInstances('1.2.3', sent).catch((e: unknown) => e);
      expect(one).toBeInstanceOf(PacsUnavailableError);
      expect((one as Error).message).toMatch(/stored only 1 of 2 .*: 1\.2\.826\.0\.1\.7\.1\)/);
      answer = referenced('1.2.826.0.1.7.22', '1.2.826.0.1.7.1');
      await expect(pacs.storeInstances('1.2.3', sent)).resolves.toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('a WADO-RS answer cut mid-series is retryable', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, {
        'content-type': 'multipart/related; type="application/dicom"; boundary=XyZ',
      });
      res.write('--XyZ\r\nContent-Type: application/dicom\r\n\r\n0123456789');
      res.destroy(); // connection dropped
    });
    try {
      const err = await new DicomWebPacsClient({ url: `${s.url}/dicom-web` })
        .retrieveSeries(ref)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PacsUnavailableError);
    } finally {
      await s.close();
    }
  });
});
