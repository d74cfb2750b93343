import { z } from 'zod';

/**
 * The stable error codes of the API. Clients branch on `code`; titles and details are for people and may
 * change. Every error response is RFC 9457 problem+json carrying one of these.
 */
export const ProblemCodes = {
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  validation_failed: { status: 400, title: 'The request does not match the schema' },
  invalid_cursor: { status: 400, title: 'The pagination cursor is not valid' },
  credentials_required: { status: 400, title: 'Changing where a connector sends its calls needs its credentials in the same request' },
  unauthenticated: { status: 401, title: 'A valid API token is required' },
  forbidden: { status: 403, title: 'The token lacks the permission this needs' },
  permission_escalation: { status: 403, title: 'A token cannot grant permissions it does not hold' },
  not_found: { status: 404, title: 'No such resource' },
  tenant_not_found: { status: 404, title: 'No such tenant, or not one this token may act on' },
  route_not_found: { status: 404, title: 'No such endpoint' },
  person_required: { status: 403, title: 'This needs a token that acts as a person' },
  not_requester: { status: 403, title: 'Only the requester (or an administrator) may do this' },
  self_approval: { status: 403, title: 'Nobody may decide their own request' },
  not_an_approver: { status: 403, title: 'The caller is not an approver of the current stage' },
  already_decided_in_earlier_stage: { status: 403, title: 'This approver has decided in an earlier stage of this request' },
  attribute_read_only: { status: 403, title: 'The attribute is written only by its sources (source_only)' },
  attribute_not_self_editable: { status: 403, title: 'A person may edit only the self-editable attributes of their own profile' },
  conflict: { status: 409, title: 'The request conflicts with existing state' },
  duplicate_decision: { status: 409, title: 'This approver has already decided this stage' },
  request_closed: { status: 409, title: 'The request is no longer open' },
  request_exists: { status: 409, title: 'An open or granted request for this bundle and person exists' },
  idempotency_key_reused: { status: 409, title: 'The Idempotency-Key was used for a request with a different body' },
  name_taken: { status: 409, title: 'The name is already in use' },
  group_cycle: { status: 409, title: 'A group cannot contain itself' },
  issue_resolved: { status: 409, title: 'The resolution issue is already resolved' },
  attribute_in_use: { status: 409, title: 'People hold values of this attribute' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  reference_not_found: { status: 422, title: 'The request names resources that do not exist in this tenant' },
  not_eligible: { status: 422, title: 'The person may not request this bundle' },
  hold_closed: { status: 409, title: 'The hold has already been decided' },
  duration_too_long: { status: 422, title: 'The requested duration exceeds the bundle maximum' },
  plan_running: { status: 409, title: 'The plan is executing; retry when it has finished' },
  plan_not_retryable: { status: 409, title: 'Only a plan that completed with failures can be retried' },
  callback_token_invalid: { status: 401, title: 'The callback token is not one Portal issued for this step' },
  callback_token_used: { status: 409, title: 'The callback token has been used already' },
  callback_token_expired: { status: 410, title: 'The step stopped waiting for this callback' },
  callback_too_early: { status: 409, title: 'The step is not waiting for its callback yet; repeat the callback shortly' },
  connector_kind_unknown: { status: 422, title: 'Portal has no connector of this kind' },
  capability_not_supported: { status: 422, title: 'The target does not support this operation' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'A dependency is unavailable; retry later' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof ProblemCodes;

export interface FieldError {
  path: string;
  message: string;
}

/** An error the API answers with as problem+json; anything else thrown becomes `internal`. */
export class ApiError extends Error {
  constructor(readonly code: ProblemCode, detail?: string, readonly errors?: FieldError[]) {
    super(detail ?? ProblemCodes[code].title);
  }
}

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.enum(Object.keys(ProblemCodes) as [ProblemCode, ...ProblemCode[]]),
  detail: z.string(),
  requestId: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
}).meta({ id: 'Problem', description: 'RFC 9457 problem details with a stable code' });

/** The problem+json body for an ApiError. */
export function problemBody(err: ApiError, requestId: string) {
  const def = ProblemCodes[err.code];
  return {
    type: `https://portal.dev/problems/${err.code.replace(/_/g, '-')}`,
    title: def.title,
    status: def.status,
    code: err.code,
    detail: err.message,
    requestId,
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

/** Field errors from a zod failure, paths prefixed with where the value came from. */
export function fieldErrors(where: 'body' | 'query' | 'params' | 'header', error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
}

const NUL = '\u0000';

/** A key as it appears in a field error's path: a NUL inside it is shown escaped, not sent raw. */
function pathKey(key: string): string {
  return key.split(NUL).join('\\u0000');
}

/**
 * Field errors for every string of a parsed request (object keys and values, at any depth) that holds the NUL
 * character. PostgreSQL's `text` and `jsonb` cannot store it, so such input would otherwise fail at the insert:
 * a `500` that an HR system or any other client retries forever. Walks with its own stack: a 64 KiB body
 * can nest deeper than the call stack allows.
 */
export function nulCharacterErrors(where: string, value: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const message = 'must not contain the NUL character (U+0000)';
  const pending: [unknown, string][] = [[value, where]];
  while (pending.length > 0) {
    const [v, path] = pending.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (v.includes(NUL)) errors.push({ path, message });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => pending.push([item, `${path}.${i}`]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes(NUL)) errors.push({ path: `${path}.${pathKey(k)}`, message: 'keys must not contain the NUL character (U+0000)' });
        pending.push([item, `${path}.${pathKey(k)}`]);
      }
    }
  }
  return errors.sort((a, b) => a.path.localeCompare(b.path));
}
