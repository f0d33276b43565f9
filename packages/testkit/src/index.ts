/** @lascar/testkit: the real components integration tests run against (never fakes). */
export * from './orthanc.js';
export * from './postgres.js';
export * from './browser.js';
