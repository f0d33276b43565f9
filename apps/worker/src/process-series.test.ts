import {
  DicomError,
  GeometryError,
  generatePhantom,
  LA_INPUT_SIZE,
  phantomDicomDescription,
  readDicomSeries,
  writeMrSeries,
  type LaNetwork,
  type ScarNetwork,
} from '@lascar/core';
import type { LoadedNetworks } from '@lascar/core/onnx';
import { describe, expect, it } from 'vitest';
import { PacsRequestError, requestFailure, type PacsClient } from '@lascar/pacs';
import { PacsUnavailableError } from '@lascar/pacs';
import {
  classifyError,
  InferenceRuntimeError,
  PacsConfigurationJobError,
  PermanentJobError,
  processSeries,
  RetryableJobError,
  type StageReport,
} from './process-series.js';
import { queueJobId } from './queue.js';

describe('classifyError', () => {
  it('retries a PACS that is down and anything unexpected', () => {
    expect(
      classifyError(new PacsUnavailableError('PACS unreachable: GET x'), 'retrieve'),
    ).toBeInstanceOf(RetryableJobError);
    const other = classifyError(new Error('socket hang up'), 'store');
    expect(other).toBeInstanceOf(RetryableJobError);
    expect(other.message).toBe('store: socket hang up');
  });

  it('does not retry a corrupt series or a PACS that refuses the request', () => {
    const dicom = classifyError(
      new DicomError('MISSING_TAG', 'ImagePositionPatient missing', 'a.dcm'),
      'load',
    );
    expect(dicom).toBeInstanceOf(PermanentJobError);
    expect(dicom.message).toBe(
      'load: unusable DICOM series (MISSING_TAG): ImagePositionPatient missing',
    );
    const gone = classifyError(new PacsRequestError('GET', 'http://pacs/x', 404), 'retrieve');
    expect(gone).toBeInstanceOf(PermanentJobError);
    expect(gone.message).toMatch(/no longer in the PACS/);
    expect(
      classifyError(new PacsRequestError('POST', 'http://pacs/s', 409), 'store'),
    ).toBeInstanceOf(PermanentJobError);
  });
});

describe('classifyError: data problems fail at once, outages are retried', () => {
  it('never retries a series the method cannot use', () => {
    const geometry = classifyError(
      new GeometryError('slices are not parallel (ImageOrientationPatient differs)'),
      'load',
    );
    expect(geometry).toBeInstanceOf(PermanentJobError);
    expect(geometry.message).toBe(
      'load: unusable series: slices are not parallel (ImageOrientationPatient differs)',
    );
    const nonFinite = classifyError(
      new RangeError('slice 3 contains non-finite intensities (NaN or Infinity)'),
      'la_model',
    );
    expect(nonFinite).toBeInstanceOf(PermanentJobError);
    expect(nonFinite.message).toBe(
      'la_model: unusable series: slice 3 contains non-finite intensities (NaN or Infinity)',
    );
    const syntax = classifyError(
      new DicomError('UNSUPPORTED_TRANSFER_SYNTAX', 'transfer syntax 1.2.840.10008.1.2.4.100'),
      'load',
    );
    expect(syntax).toBeInstanceOf(PermanentJobError);
    expect(syntax.message).toMatch(/^load: unusable DICOM series \(UNSUPPORTED_TRANSFER_SYNTAX\)/);
    // An orientation or any other refusal thrown by the pure stages, whatever its class.
    class UnsupportedOrientationError extends Error {}
    expect(
      classifyError(new UnsupportedOrientationError('a sagittal stack is refused'), 'scar_model'),
    ).toBeInstanceOf(PermanentJobError);
    expect(classifyError(new RangeError('bad SR value'), 'write')).toBeInstanceOf(
      PermanentJobError,
    );
  });

  it('retries what may pass: a reset socket, a PACS 5xx or timeout, a failing runtime', () => {
    expect(classifyError(new Error('read ECONNRESET'), 'retrieve')).toBeInstanceOf(
      RetryableJobError,
    );
    expect(
      classifyError(requestFailure('GET', 'http://pacs/dicom-web/studies', 503), 'retrieve'),
    ).toBeInstanceOf(RetryableJobError);
    expect(
      classifyError(requestFailure('POST', 'http://pacs/dicom-web/studies', 0, 'timeout'), 'store'),
    ).toBeInstanceOf(RetryableJobError);
    const runtime = classifyError(
      new InferenceRuntimeError('the LA network failed to run: CUDA out of memory'),
      'la_model',
    );
    expect(runtime).toBeInstanceOf(RetryableJobError);
    expect(runtime).not.toBeInstanceOf(PacsConfigurationJobError);
  });

  it('names a PACS that refuses the credentials as a configuration problem', () => {
    const refused = classifyError(
      requestFailure('GET', 'http://user:secret@pacs/dicom-web/studies/1/series/2', 401),
      'retrieve',
    );
    expect(refused).toBeInstanceOf(PacsConfigurationJobError);
    expect(refused.message).toBe(
      'retrieve: configuration: PACS refused the credentials (HTTP 401)',
    );
    expect(refused.message).not.toContain('secret');
    const forbidden = classifyError(requestFailure('POST', 'http://pacs/studies/1', 403), 'store');
    expect(forbidden).toBeInstanceOf(PacsConfigurationJobError);
    expect(forbidden.message).toMatch(/^store: configuration: PACS refused access/);
  });
});

describe('processSeries names the stage that failed', () => {
  const phantom = generatePhantom(21, { scale: 0.2 });
  const described = phantomDicomDescription(phantom.truth, 'phantom-21');
  const instances = writeMrSeries(phantom.image, described.identity, described.acquisition);
  const ref = {
    studyInstanceUid: described.identity.studyInstanceUid,
    seriesInstanceUid: readDicomSeries(instances).source.seriesInstanceUid,
  };
  const pacs: PacsClient = {
    ping: async () => undefined,
    seriesAttributes: async () => {
      throw new Error('not used');
    },
    retrieveSeries: async () => instances.map((bytes, n) => ({ name: `${n}.dcm`, bytes })),
    storeInstances: async () => undefined,
    searchSeries: async () => [],
  };
  /** An LA network that finds a disc in the middle of each canvas. */
  const disc: LaNetwork = async ({ count }) => {
    const size = LA_INPUT_SIZE;
    const out = new Float32Array(count * size * size);
    for (let b = 0; b < count; b++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++)
          if ((x - size / 2) ** 2 + (y - size / 2) ** 2 < 30 ** 2)
            out[b * size * size + y * size + x] = 0.9;
    return out;
  };
  const failing = async (): Promise<Float32Array> => {
    throw new Error('onnxruntime: Failed to allocate memory');
  };
  const run = async (la: LaNetwork, scar: ScarNetwork) => {
    const stages: StageReport[] = [];
    const networks = { networks: { la, scar } } as Pick<LoadedNetworks, 'networks'>;
    const error = await processSeries(ref, {
      pacs,
      networks: networks as LoadedNetworks,
      modelVersion: 'test',
      onStage: (s) => {
        stages.push(s);
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, failed: stages.filter((s) => s.error) };
  };

  it('an LA network failure is the LA model stage, and is retried', async () => {
    const { error, failed } = await run(failing, failing);
    expect(failed.map((s) => s.stage)).toEqual(['la_model']);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect((error as Error).message).toBe(
      'la_model: the LA network failed to run: onnxruntime: Failed to allocate memory',
    );
  });

  it('a scar network failure is the scar model stage', async () => {
    const { error, failed } = await run(disc, failing);
    expect(failed.map((s) => s.stage)).toEqual(['scar_model']);
    expect((error as Error).message).toMatch(/^scar_model: the scar network failed to run/);
  });

  it('a network answer of the wrong shape is a permanent failure of its stage', async () => {
    const { error, failed } = await run(async () => new Float32Array(7), failing);
    expect(failed.map((s) => s.stage)).toEqual(['la_model']);
    expect(error).toBeInstanceOf(PermanentJobError);
  });
});

describe('queueJobId', () => {
  it('is a UUID that depends only on the job key', () => {
    const a = queueJobId('1.2.3@la-1.scar-2');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(queueJobId('1.2.3@la-1.scar-2')).toBe(a);
    expect(queueJobId('1.2.3@la-1.scar-3')).not.toBe(a);
  });
});
