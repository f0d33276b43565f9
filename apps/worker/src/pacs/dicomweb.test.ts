import { describe, expect, it } from 'vitest';
import { literalQuery, seriesAttributesFromJson, stowFailures } from './dicomweb.js';
import { PacsRequestError, redactUrl, requestFailure } from './errors.js';
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
    };
    const instance = {
      '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'M', 'IR'] },
      '00180024': { vr: 'SH', Value: ['*tfl3d1_ns'] },
      '00180082': { vr: 'DS', Value: [300] },
      '00181020': { vr: 'LO', Value: ['syngo MR E11', 'lascar'] },
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] },
    };
    expect(seriesAttributesFromJson(series, instance)).toEqual({
      studyInstanceUid: '1.2.3',
      seriesInstanceUid: '1.2.3.4',
      modality: 'MR',
      seriesDescription: 'LGE 3D',
      numberOfInstances: 44,
      imageType: ['ORIGINAL', 'PRIMARY', 'M', 'IR'],
      sequenceName: '*tfl3d1_ns',
      inversionTimeMs: 300,
      softwareVersions: 'syngo MR E11\\lascar',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
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
});
