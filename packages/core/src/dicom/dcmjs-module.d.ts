// The slice of dcmjs 0.52 this package uses (dcmjs ships no type declarations).
declare module 'dcmjs' {
  /** DICOM JSON model: tag "GGGGEEEE" -> { vr, Value }. */
  export type DicomJsonDataset = Record<string, { vr: string; Value?: unknown[] }>;

  export class DicomDict {
    constructor(meta: DicomJsonDataset);
    meta: DicomJsonDataset;
    dict: DicomJsonDataset;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }

  export interface ReadOptions {
    ignoreErrors?: boolean;
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  interface DicomMessageStatic {
    readFile(buffer: ArrayBuffer, options?: ReadOptions): DicomDict;
  }

  interface DicomMetaDictionaryStatic {
    naturalizeDataset(dataset: DicomJsonDataset): Record<string, unknown>;
    denaturalizeDataset(dataset: Record<string, unknown>): DicomJsonDataset;
  }

  interface Log {
    setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void;
    getLevel(): number;
    getLogger(name: string): Log;
  }

  const dcmjs: {
    data: {
      DicomMessage: DicomMessageStatic;
      DicomMetaDictionary: DicomMetaDictionaryStatic;
      DicomDict: typeof DicomDict;
    };
    log: Log;
  };
  export default dcmjs;
}
