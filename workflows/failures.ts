/**
 * The closed set of failure types that cross the activity/workflow boundary as ApplicationFailure.type.
 * Permanent ones are raised non-retryable; the API maps them to problem codes in one switch.
 */
export const FailureTypes = {
  /** Something named by the input does not exist (in this tenant). Permanent. */
  NotFound: 'NotFound',
  /** The input contradicts existing state, e.g. a cycle or a different object under the same key. Permanent. */
  Conflict: 'Conflict',
  /** The input is malformed for the operation. Permanent. */
  InvalidInput: 'InvalidInput',
  /** An Update was refused by its validator; the failure's message is a DecisionRefusal or cancel refusal code. */
  Refused: 'Refused',
  /** A dependency was unavailable; retried with backoff. */
  Unavailable: 'Unavailable',
  /** A downstream system throttled the call; retried after the delay it asked for. */
  RateLimited: 'RateLimited',
  /** A downstream system refused the call for good (credentials, permissions, a request it cannot take). */
  DownstreamRefused: 'DownstreamRefused',
} as const;

export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];

/** Failure types that retrying cannot fix. */
export const nonRetryableFailureTypes: FailureType[] = [FailureTypes.NotFound, FailureTypes.Conflict, FailureTypes.InvalidInput, FailureTypes.DownstreamRefused];
