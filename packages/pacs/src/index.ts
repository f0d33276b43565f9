/**
 * @lascar/pacs: what the worker and the dashboard need of a PACS. The DICOMweb client works with
 * Orthanc and any other DICOMweb server; orthanc-rest is Orthanc-specific (its change feed). The
 * private Orthanc for the quick start, tests and benchmarks is its own entry, `@lascar/pacs/orthanc`,
 * so that servers (the dashboard) never load the launcher.
 */
export * from './types.js';
export * from './errors.js';
export * from './multipart.js';
export * from './dicomweb.js';
export * from './orthanc-rest.js';
export * from './instance-set.js';
