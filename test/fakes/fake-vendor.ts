/**
 * The shared harness of every vendor fake: an Express app on loopback that records each exchange (so a test
 * can check the traffic against the vendor's published API description), counts side effects (so a test can
 * prove each happened once), and injects latency, throttling and server errors the way the vendor sends them.
 * Each vendor's fake adds its routes and its own error body format on top.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';

export interface Exchange {
  method: string;
  /** The path as the vendor sees it (the mount prefix included). */
  path: string;
  query: Record<string, unknown>;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
  responseHeaders: Record<string, string>;
}

export interface FakeVendorOptions {
  /** Added before every response (benchmarks use 20 ms). */
  latencyMs?: number;
  /** Probability of answering any request with a throttling response (benchmarks use 0.01). */
  throttleRate?: number;
  /** The Retry-After, in seconds, of injected throttling responses. */
  retryAfterSeconds?: number;
  /** Keep every exchange for spec checks (off in benchmarks). */
  recordExchanges?: boolean;
  /** A source of randomness (tests pass a seeded one). */
  random?: () => number;
}

/** How a vendor formats its own error responses (status, vendor code, message). */
export type ErrorWriter = (res: Response, status: number, code: string, message: string, headers?: Record<string, string>) => void;

interface Fault {
  status: number;
  retryAfterSeconds: number | null;
}

export class FakeVendor {
  readonly app = express();
  readonly exchanges: Exchange[] = [];
  private readonly sideEffectCounts = new Map<string, number>();
  private readonly faults: Fault[] = [];
  private server: Server | null = null;
  private requestSeq = 0;
  url = '';

  constructor(private readonly writeError: ErrorWriter, readonly options: FakeVendorOptions = {}) {
    this.app.disable('x-powered-by');
    this.app.use(express.json({ type: ['application/json', 'application/scim+json'], limit: '1mb' }));
    this.app.use(express.urlencoded({ extended: false }));
    this.app.use((req, res, next) => this.intercept(req, res, next));
  }

  /** Answers the next `count` requests (any route) with 429 and `Retry-After`. */
  throttleNext(count: number, retryAfterSeconds = 1): void {
    for (let i = 0; i < count; i += 1) this.faults.push({ status: 429, retryAfterSeconds });
  }

  /** Answers the next `count` requests with `status` (a 5xx burst). */
  failNext(count: number, status = 503): void {
    for (let i = 0; i < count; i += 1) this.faults.push({ status, retryAfterSeconds: null });
  }

  /** Counts one side effect (a create, a membership add...) under `key`, e.g. `create:user@x`. */
  sideEffect(key: string): void {
    this.sideEffectCounts.set(key, (this.sideEffectCounts.get(key) ?? 0) + 1);
  }

  sideEffects(): Record<string, number> {
    return Object.fromEntries(this.sideEffectCounts);
  }

  /** A fresh request id, as vendors return in a header. */
  nextRequestId(): string {
    this.requestSeq += 1;
    return `fake-${this.requestSeq.toString().padStart(8, '0')}`;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => {
      this.server = this.app.listen(0, '127.0.0.1', () => resolve());
    });
    this.server!.keepAliveTimeout = 5_000;
    const { port } = this.server!.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private intercept(req: Request, res: Response, next: NextFunction): void {
    const random = this.options.random ?? Math.random;
    if (this.options.recordExchanges !== false) this.record(req, res);
    const go = () => {
      const fault = this.faults.shift()
        ?? (this.options.throttleRate && random() < this.options.throttleRate ? { status: 429, retryAfterSeconds: this.options.retryAfterSeconds ?? 1 } : null);
      if (fault) {
        const headers: Record<string, string> = fault.retryAfterSeconds === null ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
        this.writeError(res, fault.status, fault.status === 429 ? 'throttled' : 'unavailable', fault.status === 429 ? 'Too many requests' : 'Service unavailable', headers);
        return;
      }
      next();
    };
    if (this.options.latencyMs) setTimeout(go, this.options.latencyMs);
    else go();
  }

  private record(req: Request, res: Response): void {
    const exchange: Exchange = {
      method: req.method, path: req.originalUrl.split('?')[0]!, query: { ...req.query }, requestBody: req.body ?? null,
      status: 0, responseBody: null, responseHeaders: {},
    };
    // Bodies pass through send (json() calls it); 204s and bare end() have none. The exchange is complete
    // when the response has finished.
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      if (typeof body === 'string' && body.length > 0) {
        try {
          exchange.responseBody = JSON.parse(body);
        } catch {
          exchange.responseBody = body;
        }
      } else if (body !== undefined && body !== null && !Buffer.isBuffer(body)) {
        exchange.responseBody = body;
      }
      return send(body);
    };
    res.on('finish', () => {
      exchange.status = res.statusCode;
      for (const [name, value] of Object.entries(res.getHeaders())) exchange.responseHeaders[name] = String(value);
      this.exchanges.push(exchange);
    });
  }
}
