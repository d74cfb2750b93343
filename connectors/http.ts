import type { z } from 'zod';
import { classifyStatus, ConnectorError, retryAfterMs } from './errors';

/**
 * One call to a downstream system as evidence records it: method, URL path (never the query, which may carry
 * filters with personal data, and never headers or bodies, which carry credentials), status and the vendor's
 * request id.
 */
export interface CallRecord {
  method: string;
  path: string;
  /** Null when no response arrived (timeout, connection refused). */
  status: number | null;
  vendorRequestId: string | null;
  startedAt: string;
  durationMs: number;
}

export interface VendorRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded (OAuth token endpoints). */
  form?: Record<string, string>;
}

export interface VendorResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or null when the body is empty or not JSON. */
  body: unknown;
}

export interface VendorHttpOptions {
  requestIdHeaders?: string[];
  vendorErrorCode?: (body: unknown) => string | null;
  /** Per-call timeout; a call that exceeds it is `unavailable` (retryable). */
  timeoutMs?: number;
  now?: () => Date;
}

/**
 * The HTTP client every connector uses: Node's fetch plus evidence. It throws only for transport failures;
 * statuses are the connector's to interpret (a 404 on delete is success), with `fail` to classify the rest.
 */
export class VendorHttp {
  /** Every call made through this client, in order. */
  readonly calls: CallRecord[] = [];
  private readonly requestIdHeaders: string[];
  private readonly timeoutMs: number;
  private readonly now: () => Date;

  constructor(private readonly options: VendorHttpOptions = {}) {
    this.requestIdHeaders = options.requestIdHeaders ?? ['request-id', 'x-request-id'];
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Sends one request and records it. Transport failures throw `unavailable`. */
  async request(req: VendorRequest): Promise<VendorResponse> {
    const url = new URL(req.url);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    const started = this.now();
    const record: CallRecord = { method: req.method, path: url.pathname, status: null, vendorRequestId: null, startedAt: started.toISOString(), durationMs: 0 };
    this.calls.push(record);
    let response: Response;
    try {
      response = await fetch(url, { method: req.method, headers, body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
    } catch (cause) {
      record.durationMs = this.now().getTime() - started.getTime();
      throw new ConnectorError({ kind: 'unavailable', message: `${req.method} ${url.pathname}: no response (${(cause as Error).name})`, cause });
    }
    const text = await response.text();
    record.durationMs = this.now().getTime() - started.getTime();
    record.status = response.status;
    record.vendorRequestId = this.requestIdHeaders.map((h) => response.headers.get(h)).find((v) => v !== null) ?? null;
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /** The classified error for a response the connector did not expect. */
  fail(res: VendorResponse, what: string): ConnectorError {
    const vendorCode = this.options.vendorErrorCode?.(res.body) ?? null;
    const kind = classifyStatus(res.status, vendorCode);
    return new ConnectorError({
      kind,
      status: res.status,
      vendorCode,
      retryAfterMs: kind === 'rate_limited' || kind === 'unavailable' ? retryAfterMs(res.headers, this.now()) : null,
      message: `${what}: HTTP ${res.status}${vendorCode ? ` (${vendorCode})` : ''}`,
    });
  }

  /** Sends a request, requires one of `ok` statuses (default any 2xx), and parses the body with `schema`. */
  async json<T>(req: VendorRequest, schema: z.ZodType<T>, what: string, ok?: number[]): Promise<T> {
    const res = await this.request(req);
    const accepted = ok ? ok.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!accepted) throw this.fail(res, what);
    return parseVendorBody(schema, res.body, what);
  }
}

/** Parses a vendor response body; a body that does not match is `unexpected_response` (terminal). */
export function parseVendorBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new ConnectorError({ kind: 'unexpected_response', message: `${what}: unexpected response (${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'})` });
  }
  return result.data;
}
