// The encoder half of OpenJPEG's WebAssembly build (the product only loads its decoder half).
declare module '@cornerstonejs/codec-openjpeg/wasmjs' {
  const factory: (options?: {
    print?: (text: string) => void;
    printErr?: (text: string) => void;
  }) => Promise<Record<string, unknown>>;
  export default factory;
}
