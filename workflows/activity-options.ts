import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { nonRetryableFailureTypes } from './failures';

/**
 * A short, idempotent PostgreSQL transaction: fast attempts, then one every 30 seconds for as long as the
 * database is away. No attempt limit: the workflows writing through it live for months (a lifecycle, a
 * time-bound grant waiting for its expiry), and a run that failed on an outage would lose what it holds
 * (scheduled runs, a pending revocation) with nothing left to resume it. A refusal (a non-retryable failure
 * type) still ends at once; anything else retrying shows in the Temporal UI as a pending activity with its
 * attempt count and last failure.
 */
const databaseWrite = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
} as const;

/**
 * Named activity option profiles. Every profile bounds each attempt and the retries; permanent failure
 * types never retry.
 */
export const ActivityProfiles = {
  databaseWrite,
  /**
   * One call (or a short sequence) against a downstream system. The heartbeat notices a dead worker within
   * seconds; 429s and 5xx retry with backoff (a 429's Retry-After sets the next delay through the failure's
   * nextRetryDelay); refusals never retry. Each attempt appends its own evidence.
   */
  connectorCall: {
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '5 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 5,
      nonRetryableErrorTypes: nonRetryableFailureTypes,
    },
  },
} satisfies Record<string, ActivityOptions>;

/**
 * Local-activity profiles: short PostgreSQL transactions run inside the worker's workflow task, without a
 * round trip through the task queue. Used on latency-sensitive paths (an approval that grants access).
 * Every such activity is idempotent, since a worker that dies mid-task makes the next one run it again.
 */
export const LocalActivityProfiles = {
  databaseWrite,
} satisfies Record<string, LocalActivityOptions>;
