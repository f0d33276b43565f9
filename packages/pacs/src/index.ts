/**
 * @lascar/pacs: what the worker and the dashboard need of a PACS. The DICOMweb client works with
 * Orthanc and any other DICOMweb server; orthanc-rest and orthanc-process are Orthanc-specific
 * (its change feed; a private Orthanc for the quick start, tests and benchmarks).
 */
export * from './types.js';
export * from './errors.js';
export * from './multipart.js';
export * from './dicomweb.js';
export * from './orthanc-rest.js';
export * from './orthanc-process.js';
