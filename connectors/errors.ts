/**
 * One classification of downstream failures for every connector (rule 13 of STYLE.md): HTTP status and the
 * vendor's error code decide whether a step retries, and how soon.
 */
export const ConnectorErrorKinds = [
  /** 429 or a vendor throttling code: retry after `retryAfterMs`. */
  'rate_limited',
  /** 5xx, a timeout or a dropped connection: retry with backoff. */
  'unavailable',
  /** 401, or credentials the token endpoint refused. Terminal until an operator fixes the credentials. */
  'unauthorized',
  /** 403: the credentials lack a permission or scope. Terminal. */
  'forbidden',
  /** 404 on something that must exist. Terminal. */
  'not_found',
  /** 409 or the vendor's "already exists". On create the framework reads the object and may adopt it. */
  'conflict',
  /** 400/422: the request is malformed for this vendor. Terminal. */
  'invalid',
  /** The vendor answered with something Portal cannot interpret (schema mismatch). Terminal. */
  'unexpected_response',
  /**
   * The connector failed on its own side, before or without a vendor answer to classify: a key that does
   * not sign, a plugin defect. Repeating the same code with the same configuration fails the same way:
   * terminal.
   */
  'connector_fault',
] as const;
export type ConnectorErrorKind = (typeof ConnectorErrorKinds)[number];

const retryableKinds: ReadonlySet<ConnectorErrorKind> = new Set(['rate_limited', 'unavailable']);

/** A failed call to a downstream system. Carries no secrets: only status, vendor code and a short message. */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  readonly kind: ConnectorErrorKind;
  readonly status: number | null;
  readonly vendorCode: string | null;
  /** For `rate_limited`: how long the vendor asked us to wait, when it said. */
  readonly retryAfterMs: number | null;

  constructor(options: { kind: ConnectorErrorKind; message: string; status?: number | null; vendorCode?: string | null; retryAfterMs?: number | null; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
    this.status = options.status ?? null;
    this.vendorCode = options.vendorCode ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }

  get retryable(): boolean {
    return retryableKinds.has(this.kind);
  }
}

/**
 * Any failure of a connector as a ConnectorError: a ConnectorError as it is, anything else (a plain Error
 * from `crypto`, a TypeError) as `connector_fault`. The message names only the error's class and Node's
 * code (`ERR_OSSL_UNSUPPORTED`), never its own message, which may quote configuration or key material;
 * the original is the `cause`, for logs that never leave the worker.
 */
export function asConnectorError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const name = err instanceof Error ? err.name : typeof err;
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(err.code) ? err.code : null;
  return new ConnectorError({ kind: 'connector_fault', message: `the connector failed without a vendor answer (${code ? `${name} ${code}` : name})`, vendorCode: null, cause: err });
}

/**
 * The shared map from an HTTP status (and the vendor's own code, which wins where a vendor reports
 * throttling or a conflict under another status) to a kind.
 */
export function classifyStatus(status: number, vendorCode: string | null = null): ConnectorErrorKind {
  if (vendorCode !== null) {
    const byCode = vendorCodeKinds[vendorCode];
    if (byCode) return byCode;
  }
  if (status === 429) return 'rate_limited';
  if (status >= 500 || status === 408) return 'unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 409) return 'conflict';
  return 'invalid';
}

/**
 * Vendor error codes whose meaning differs from their HTTP status. Keys are what `vendorErrorCode` returns.
 * Graph: https://learn.microsoft.com/en-us/graph/errors ; Google: https://cloud.google.com/apis/design/errors ;
 * SCIM: RFC 7644 §3.12 `scimType`; Zoho: `data.errorCode` of its `{status, data}` envelope.
 */
const vendorCodeKinds: Record<string, ConnectorErrorKind> = {
  // Graph answers some throttling and service faults under 503/504 with these codes, and 403 for quota.
  activityLimitReached: 'rate_limited',
  TooManyRequests: 'rate_limited',
  serviceNotAvailable: 'unavailable',
  // Google reports per-user and per-project quota exhaustion as 403 with these reasons / statuses.
  rateLimitExceeded: 'rate_limited',
  userRateLimitExceeded: 'rate_limited',
  quotaExceeded: 'rate_limited',
  RESOURCE_EXHAUSTED: 'rate_limited',
  // SCIM: a uniqueness violation is a conflict whatever status carries it.
  uniqueness: 'conflict',
  // Zoho reports an expired or revoked access token in `data.errorCode`, not always under a 401.
  INVALID_OAUTHTOKEN: 'unauthorized',
};

/**
 * Milliseconds to wait from `Retry-After` (delta-seconds or an HTTP date, RFC 9110 §10.2.3), else from
 * GitHub-style `x-ratelimit-remaining: 0` + `x-ratelimit-reset` (epoch seconds). Null when neither says.
 */
export function retryAfterMs(headers: Headers, now: Date = new Date()): number | null {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    const trimmed = retryAfter.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
    const date = Date.parse(trimmed);
    if (!Number.isNaN(date)) return Math.max(0, date - now.getTime());
  }
  if (headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now.getTime());
  }
  return null;
}

/** The value, or a terminal `not_found` naming what is missing. */
export function mustExist<T>(value: T | null, what: string): T {
  if (value === null) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no ${what}` });
  return value;
}
