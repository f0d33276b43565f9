/**
 * Which instances a series holds: its SOP Instance UIDs, read from a QIDO-RS listing or from the
 * Part-10 files a retrieve returned. The job processor compares the two (by fingerprint) to find a
 * series that changed under a job.
 */
import { PacsResponseError } from './errors.js';

const TEXT = new TextDecoder('latin1');
/** VRs whose Part-10 meta element has a 2-byte reserved field and a 4-byte length. */
const LONG_VRS = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);

/**
 * The MediaStorageSOPInstanceUID (0002,0003) of a Part-10 file: the File Meta group is always
 * explicit VR little endian, so this reads the preamble's next few hundred bytes only, not the
 * data set (the reader proper runs later, in the load stage).
 */
export function sopInstanceUidOfPart10(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 132 || TEXT.decode(bytes.subarray(128, 132)) !== 'DICM') {
    throw new PacsResponseError('a retrieved instance is not a Part-10 DICOM file');
  }
  let at = 132;
  while (at + 8 <= bytes.length) {
    const group = view.getUint16(at, true);
    const element = view.getUint16(at + 2, true);
    if (group !== 0x0002) break;
    const vr = TEXT.decode(bytes.subarray(at + 4, at + 6));
    let length: number;
    let value: number;
    if (LONG_VRS.has(vr)) {
      length = view.getUint32(at + 8, true);
      value = at + 12;
    } else {
      length = view.getUint16(at + 6, true);
      value = at + 8;
    }
    if (value + length > bytes.length) break;
    if (element === 0x0003) {
      return TEXT.decode(bytes.subarray(value, value + length)).replace(/[\0 ]+$/, '');
    }
    at = value + length;
  }
  throw new PacsResponseError(
    'a retrieved instance has no MediaStorageSOPInstanceUID (0002,0003) in its file meta header',
  );
}
