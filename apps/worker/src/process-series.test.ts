import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkMethodSettings,
  DicomError,
  GeometryError,
  UnsupportedOrientationError,
  type LaNetwork,
  type ScarNetwork,
} from '@lascar/core';
import { describe, expect, it } from 'vitest';
import { PacsRequestError, requestFailure } from '@lascar/pacs';
import { discLaNetwork, fakeNetworks, phantomPacs } from './fakes.test-helper.js';
import { PacsUnavailableError, type PacsClient } from '@lascar/pacs';
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

  it('does not retry a stack the pipeline refuses for its slice orientation', () => {
    const coronal = classifyError(
      new UnsupportedOrientationError(
        'slice normal 90° from axial (coronal slices): only axial LGE stacks, tilted at most 45°, are supported',
      ),
      'la_model',
    );
    expect(coronal).toBeInstanceOf(PermanentJobError);
    expect(coronal.message).toBe(
      'la_model: unsupported series: slice normal 90° from axial (coronal slices): only axial LGE stacks, tilted at most 45°, are supported',
    );
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
  const { pacs, ref } = phantomPacs(21);
  const failing = async (): Promise<Float32Array> => {
    throw new Error('onnxruntime: Failed to allocate memory');
  };
  const run = async (la: LaNetwork, scar: ScarNetwork) => {
    const stages: StageReport[] = [];
    const error = await processSeries(ref, {
      pacs,
      networks: fakeNetworks(la, scar),
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
    const { error, failed } = await run(discLaNetwork, failing);
    expect(failed.map((s) => s.stage)).toEqual(['scar_model']);
    expect((error as Error).message).toMatch(/^scar_model: the scar network failed to run/);
  });

  it('a network answer of the wrong shape is a permanent failure of its stage', async () => {
    const { error, failed } = await run(async () => new Float32Array(7), failing);
    expect(failed.map((s) => s.stage)).toEqual(['la_model']);
    expect(error).toBeInstanceOf(PermanentJobError);
  });
});

describe('processSeries quality control', () => {
  const noLaNetwork: LaNetwork = async ({ count }) => new Float32Array(count * 640 * 640);

  it('stores no SEG and no SR when no LA is found, and says so in the outcome and the flags', async () => {
    const phantom = phantomPacs(22);
    const out = await processSeries(phantom.ref, {
      pacs: phantom.pacs,
      networks: fakeNetworks(noLaNetwork),
      modelVersion: 'test',
    });
    expect(phantom.stored).toBe(0);
    expect(out.segSeriesInstanceUid).toBeUndefined();
    expect(out.srSeriesInstanceUid).toBeUndefined();
    expect(out.report).toBeUndefined();
    expect(out.overlays).toEqual([]);
    expect(out.outcome).toMatch(/^completed without a result: no LA cavity found/);
    expect(out.measurement.laVolumeMl).toBe(0);
    expect(out.measurement.provenance).toMatchObject({ segSeriesInstanceUid: null });
    expect(out.measurement.qcFlags).toEqual([
      'no-la: no LA cavity found: nothing to measure (no SEG or SR is stored)',
    ]);
    expect(Object.keys(out.stageMs).sort()).toEqual(['la_model', 'load', 'retrieve', 'scar_model']);
  });

  it('stores SEG and SR for a flagged result, with the reasons in the SR and the flags on the row', async () => {
    const phantom = phantomPacs(23);
    // The fake LA disc is small: flag it with a volume range it cannot meet.
    const out = await processSeries(phantom.ref, {
      pacs: phantom.pacs,
      networks: fakeNetworks(discLaNetwork),
      modelVersion: 'test',
      method: checkMethodSettings({ qcLaMinVolumeMl: 5000, qcLaMaxVolumeMl: 6000 }),
    });
    expect(phantom.stored).toBe(2);
    expect(out.outcome).toBeUndefined();
    const volume = out.measurement.laVolumeMl.toFixed(1);
    const reason = `LA volume ${volume} mL is outside the plausible range 5000-6000 mL`;
    expect(out.measurement.qcFlags).toContain(`la-volume: ${reason}`);
    expect(out.report?.needsReview).toBe(true);
    expect(out.report?.reviewReasons).toContain(reason);
    expect(out.measurement.provenance).toMatchObject({
      method: { qcLaMinVolumeMl: 5000, qcLaMaxVolumeMl: 6000 },
      qc: { limits: { qcLaMinVolumeMl: 5000, qcLaMaxVolumeMl: 6000 } },
    });
  });
});

describe('processSeries reads compressed series as the PACS stores them', () => {
  it('decodes a JPEG-LS series (dcmtk dcmcjpls) in the load stage', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lascar-jpls-'));
    const jpegLs = (instances: Uint8Array[]): Uint8Array[] =>
      instances.map((bytes, n) => {
        const input = join(work, `${n}.dcm`);
        const output = join(work, `${n}.jls.dcm`);
        writeFileSync(input, bytes);
        execFileSync('dcmcjpls', [input, output], { stdio: 'pipe' });
        return new Uint8Array(readFileSync(output));
      });
    try {
      const { pacs, ref } = phantomPacs(23, jpegLs);
      const [first] = await pacs.retrieveSeries(ref);
      expect(Buffer.from(first!.bytes).includes(Buffer.from('1.2.840.10008.1.2.4.80'))).toBe(true);
      const stages: StageReport[] = [];
      await processSeries(ref, {
        pacs,
        networks: fakeNetworks(discLaNetwork),
        modelVersion: 'test',
        onStage: (s) => {
          stages.push(s);
        },
      });
      expect(stages.filter((s) => s.error)).toEqual([]);
      expect(stages.map((s) => s.stage)).toContain('store');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('processSeries asks the PACS to convert what the codecs do not decode', () => {
  // 12-bit JPEG (Extended, process 4): the 8-bit libjpeg-turbo codec can't; Orthanc can convert it.
  const twelveBitJpeg = (work: string) => (instances: Uint8Array[]) =>
    instances.map((bytes, n) => {
      const input = join(work, `${n}.dcm`);
      const output = join(work, `${n}.jpg.dcm`);
      writeFileSync(input, bytes);
      execFileSync('dcmcjpeg', ['+ee', input, output], { stdio: 'pipe' });
      return new Uint8Array(readFileSync(output));
    });

  it('retrieves a 12-bit JPEG series again as Explicit VR Little Endian and segments it', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lascar-jpx-'));
    try {
      const plain = phantomPacs(23);
      const { pacs, ref } = phantomPacs(23, twelveBitJpeg(work));
      const asked: (string | undefined)[] = [];
      const converting: PacsClient = {
        ...pacs,
        retrieveSeries: async (r, options) => {
          asked.push(options?.transferSyntax);
          return options?.transferSyntax ? plain.pacs.retrieveSeries(r) : pacs.retrieveSeries(r);
        },
      };
      const stages: StageReport[] = [];
      await processSeries(ref, {
        pacs: converting,
        networks: fakeNetworks(discLaNetwork),
        modelVersion: 'test',
        onStage: (s) => {
          stages.push(s);
        },
      });
      expect(asked).toEqual([undefined, '1.2.840.10008.1.2.1']);
      expect(stages.filter((s) => s.error)).toEqual([]);
      expect(stages.map((s) => s.stage)).toContain('store');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('keeps the specific, permanent error when the PACS cannot convert either', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lascar-jpx-'));
    try {
      const { pacs, ref } = phantomPacs(23, twelveBitJpeg(work));
      const refusing: PacsClient = {
        ...pacs,
        retrieveSeries: async (r, options) => {
          if (options?.transferSyntax) throw new Error('HTTP 500 from the PACS');
          return pacs.retrieveSeries(r);
        },
      };
      const error = await processSeries(ref, {
        pacs: refusing,
        networks: fakeNetworks(discLaNetwork),
        modelVersion: 'test',
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentJobError);
      expect(String((error as Error).message)).toMatch(/1\.2\.840\.10008\.1\.2\.4\.51/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
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
