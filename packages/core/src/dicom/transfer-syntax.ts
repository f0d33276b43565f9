import { DicomError } from './errors.js';

/** Transfer syntaxes by UID, with what this package can do with their pixel data. */
export interface TransferSyntax {
  readonly uid: string;
  readonly name: string;
  /** Pixel data stored as fragments (compressed, or encapsulated uncompressed). */
  readonly encapsulated: boolean;
  readonly bigEndian: boolean;
}

const SYNTAXES: readonly TransferSyntax[] = [
  {
    uid: '1.2.840.10008.1.2',
    name: 'Implicit VR Little Endian',
    encapsulated: false,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.1',
    name: 'Explicit VR Little Endian',
    encapsulated: false,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.1.99',
    name: 'Deflated Explicit VR Little Endian',
    encapsulated: false,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.2',
    name: 'Explicit VR Big Endian (retired)',
    encapsulated: false,
    bigEndian: true,
  },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encapsulated: true, bigEndian: false },
  {
    uid: '1.2.840.10008.1.2.4.50',
    name: 'JPEG Baseline (Process 1)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.51',
    name: 'JPEG Extended (Process 2 & 4)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.57',
    name: 'JPEG Lossless, Non-Hierarchical (Process 14)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.70',
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    encapsulated: true,
    bigEndian: false,
  },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encapsulated: true, bigEndian: false },
  {
    uid: '1.2.840.10008.1.2.4.81',
    name: 'JPEG-LS Lossy (Near-Lossless)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.90',
    name: 'JPEG 2000 Image Compression (Lossless Only)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.91',
    name: 'JPEG 2000 Image Compression',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.201',
    name: 'High-Throughput JPEG 2000 (Lossless Only)',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.4.203',
    name: 'High-Throughput JPEG 2000',
    encapsulated: true,
    bigEndian: false,
  },
  {
    uid: '1.2.840.10008.1.2.1.98',
    name: 'Encapsulated Uncompressed Explicit VR Little Endian',
    encapsulated: true,
    bigEndian: false,
  },
];

const BY_UID = new Map(SYNTAXES.map((s) => [s.uid, s]));

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

export function transferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid);
}

/** A readable name for a transfer syntax UID, for error messages. */
export function transferSyntaxName(uid: string): string {
  return BY_UID.get(uid)?.name ?? 'unknown transfer syntax';
}

/** How one frame's stored values are laid out. */
export interface PixelFormat {
  readonly rows: number;
  readonly columns: number;
  readonly bitsAllocated: 8 | 16 | 32;
  readonly bitsStored: number;
  readonly signed: boolean;
}

/**
 * Decodes one compressed frame into its native little-endian bytes (rows x columns x
 * bitsAllocated / 8). Callers may register decoders per transfer syntax UID.
 */
export type FrameDecoder = (fragment: Uint8Array, format: PixelFormat) => Uint8Array;
export type FrameDecoders = Readonly<Record<string, FrameDecoder>>;

/** Decoders that ship with this package (no WASM): RLE Lossless and encapsulated uncompressed. */
export const BUILT_IN_DECODERS: FrameDecoders = {
  [RLE_LOSSLESS]: decodeRle,
  '1.2.840.10008.1.2.1.98': (fragment) => fragment,
};

/**
 * DICOM RLE Lossless (PS3.5 annex G): a 64-byte header of up to 15 segment offsets, one segment
 * per byte plane (most significant byte first), each a PackBits run-length stream.
 */
export function decodeRle(fragment: Uint8Array, format: PixelFormat): Uint8Array {
  const bytesPerSample = format.bitsAllocated / 8;
  const pixels = format.rows * format.columns;
  if (fragment.length < 64)
    throw new Error(`RLE frame of ${fragment.length} bytes has no 64-byte header`);
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== bytesPerSample) {
    throw new Error(
      `RLE frame has ${segments} segments; ${bytesPerSample} expected for ${format.bitsAllocated}-bit single-sample pixels`,
    );
  }
  const out = new Uint8Array(pixels * bytesPerSample);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : fragment.length;
    // Segment s holds byte (bytesPerSample - 1 - s) of each little-endian sample.
    const byteIndex = bytesPerSample - 1 - s;
    let p = start;
    let o = 0;
    while (p < end && o < pixels) {
      const n = (fragment[p++]! << 24) >> 24; // signed header byte
      if (n >= 0) {
        for (let c = 0; c <= n && o < pixels; c++)
          out[o++ * bytesPerSample + byteIndex] = fragment[p++]!;
      } else if (n !== -128) {
        const value = fragment[p++]!;
        for (let c = 0; c < 1 - n && o < pixels; c++) out[o++ * bytesPerSample + byteIndex] = value;
      }
    }
    if (o < pixels)
      throw new Error(`RLE segment ${s + 1} decodes to ${o} of ${pixels} pixels (truncated)`);
  }
  return out;
}

export function unsupportedTransferSyntax(uid: string, file?: string): DicomError {
  return new DicomError(
    'UNSUPPORTED_TRANSFER_SYNTAX',
    `unsupported transfer syntax ${uid} (${transferSyntaxName(uid)})${file ? ` in ${file}` : ''}`,
    file,
  );
}
