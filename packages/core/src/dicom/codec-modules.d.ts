// The slice of the WASM codec packages (Emscripten + embind builds) and jpeg-lossless-decoder-js
// that codecs.ts uses; none ships usable type declarations.
interface EmscriptenDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  };
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
type EmscriptenFactory = (options?: {
  print?: (text: string) => void;
  printErr?: (text: string) => void;
}) => Promise<Record<string, new () => EmscriptenDecoder>>;

declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: EmscriptenFactory;
  export default factory;
}
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    decompress(buffer: ArrayBuffer | Uint8Array, offset?: number, length?: number): ArrayBuffer;
  }
}
