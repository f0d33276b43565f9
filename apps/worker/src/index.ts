export * from './pacs/types.js';
