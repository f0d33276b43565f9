import { DicomError, UnsupportedOrientationError } from '@lascar/core';
import { describe, expect, it } from 'vitest';
import { PacsRequestError } from './pacs/errors.js';
import { PacsUnavailableError } from './pacs/types.js';
import { classifyError, PermanentJobError, RetryableJobError } from './process-series.js';
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

describe('queueJobId', () => {
  it('is a UUID that depends only on the job key', () => {
    const a = queueJobId('1.2.3@la-1.scar-2');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(queueJobId('1.2.3@la-1.scar-2')).toBe(a);
    expect(queueJobId('1.2.3@la-1.scar-3')).not.toBe(a);
  });
});
