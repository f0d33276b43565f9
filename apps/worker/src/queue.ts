/**
 * The queue lives in @lascar/queue, shared with the dashboard (one implementation of send,
 * retry and cancel); this module keeps the worker's imports short.
 */
export {
  SEGMENT_QUEUE,
  queueJobId,
  sendSegmentJob,
  startQueue,
  type QueueSettings,
  type SegmentJobData,
} from '@lascar/queue';
