import type { ActivityOptions } from '@temporalio/workflow';
import { failureTypes } from './contracts.ts';

/**
 * Timeout presets for activity proxies. Every Granary activity heartbeats while it runs, so a
 * worker that dies (SIGKILL, lost machine) is noticed after `heartbeatTimeout` and the activity
 * moves to another worker; infrastructure outages (Redis, S3, PostgreSQL down) are retried
 * without limit, backing off to `maximumInterval`.
 */
const retry = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  nonRetryableErrorTypes: Object.values(failureTypes),
};

/** Registry look-ups and small writes. */
export const shortActivity: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry,
};

/** Reading and writing offline objects, writing Redis: minutes, resumable from heartbeats. */
export const longActivity: ActivityOptions = {
  startToCloseTimeout: '4h',
  heartbeatTimeout: '10s',
  retry,
};
