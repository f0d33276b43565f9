// Decoders for compressed transfer syntaxes, from maintained packages: CharLS (JPEG-LS),
// OpenJPEG (JPEG 2000) and libjpeg-turbo (8-bit JPEG) as WebAssembly builds from the
// Cornerstone project, and jpeg-lossless-decoder-js (JPEG lossless, process 14). Loaded on demand
// (WASM start-up costs ~100 ms each), so importing @lascar/core stays cheap.
import { DicomError } from './errors.js';
import {
  transferSyntaxName,
  type FrameDecoder,
  type FrameDecoders,
  type PixelFormat,
} from './transfer-syntax.js';

const quiet = { print: (): void => undefined, printErr: (): void => undefined };

/** Transfer syntaxes the codec decoders cover. */
export const CODEC_TRANSFER_SYNTAXES = {
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless: '1.2.840.10008.1.2.4.57',
  jpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  jpeg2000: '1.2.840.10008.1.2.4.91',
} as const;

function checkDecoded(
  what: string,
  info: { width: number; height: number; componentCount: number },
  format: PixelFormat,
): void {
  if (info.width !== format.columns || info.height !== format.rows || info.componentCount !== 1) {
    throw new Error(
      `${what} frame is ${info.width} x ${info.height} x ${info.componentCount} components; the header says ${format.columns} x ${format.rows} x 1`,
    );
  }
}

function emscripten(
  module: Record<string, new () => EmscriptenDecoder>,
  className: string,
  what: string,
): FrameDecoder {
  const Decoder = module[className];
  if (!Decoder) throw new Error(`${what} codec has no ${className}`);
  return (fragment, format) => {
    const decoder = new Decoder();
    try {
      decoder.getEncodedBuffer(fragment.length).set(fragment);
      decoder.decode();
      checkDecoded(what, decoder.getFrameInfo(), format);
      // The decoded buffer is a view on WASM memory: copy it out before the decoder is freed.
      return decoder.getDecodedBuffer().slice();
    } finally {
      decoder.delete();
    }
  };
}

function only8Bit(uid: string, decode: FrameDecoder): FrameDecoder {
  return (fragment, format) => {
    if (format.bitsAllocated !== 8) {
      throw new DicomError(
        'UNSUPPORTED_TRANSFER_SYNTAX',
        `unsupported transfer syntax ${uid} (${transferSyntaxName(uid)}) with ${format.bitsStored}-bit pixels: only 8-bit JPEG is decoded`,
      );
    }
    return decode(fragment, format);
  };
}

/** Loads the codec packages and returns decoders to pass to readDicomSeries / decodeDicomFrames. */
export async function createCodecDecoders(): Promise<FrameDecoders> {
  const [charls, openjpeg, turbo, lossless] = await Promise.all([
    import('@cornerstonejs/codec-charls/decodewasmjs'),
    import('@cornerstonejs/codec-openjpeg/decodewasmjs'),
    import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'),
    import('jpeg-lossless-decoder-js'),
  ]);
  const [ls, j2k, jpeg] = await Promise.all([
    charls.default(quiet),
    openjpeg.default(quiet),
    turbo.default(quiet),
  ]);
  const jpegLs = emscripten(ls, 'JpegLSDecoder', 'JPEG-LS');
  const jpeg2000 = emscripten(j2k, 'J2KDecoder', 'JPEG 2000');
  const jpeg8 = emscripten(jpeg, 'JPEGDecoder', 'JPEG');
  const jpegLossless: FrameDecoder = (fragment, format) => {
    const out = new Uint8Array(new lossless.Decoder().decompress(fragment, 0, fragment.length));
    const expected = format.rows * format.columns * (format.bitsAllocated / 8);
    if (out.length < expected)
      throw new Error(`JPEG lossless frame decoded to ${out.length} bytes, ${expected} expected`);
    return out.subarray(0, expected);
  };
  const t = CODEC_TRANSFER_SYNTAXES;
  return {
    [t.jpegBaseline]: only8Bit(t.jpegBaseline, jpeg8),
    [t.jpegExtended]: only8Bit(t.jpegExtended, jpeg8),
    [t.jpegLossless]: jpegLossless,
    [t.jpegLosslessSv1]: jpegLossless,
    [t.jpegLsLossless]: jpegLs,
    [t.jpegLsNearLossless]: jpegLs,
    [t.jpeg2000Lossless]: jpeg2000,
    [t.jpeg2000]: jpeg2000,
  };
}

let shared: Promise<FrameDecoders> | undefined;

/** createCodecDecoders, loaded once per process on first use (a failed load is tried again). */
export function codecDecoders(): Promise<FrameDecoders> {
  shared ??= createCodecDecoders().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
