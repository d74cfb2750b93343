/** Per-test fixtures: a worker on a unique task queue, the API over real HTTP, tenants and tokens. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { ApiDeps } from '../../api/context';
import { HrDispatcher, type HrDispatcherOptions } from '../../api/hr-dispatch';
import { listen, close } from '../../api/server';
import type { Permission } from '../../api/permissions';
import { Permissions } from '../../api/permissions';
import { createApiToken } from '../../db/repositories/api-tokens';
import { createTenant, type Tenant, type TenantKind } from '../../db/repositories/tenants';
import { createWorker, type PortalWorker, type WorkerDeps } from '../../workers/worker';
import { applyPersonSetup } from '../../activities/person-setup';
import { testEnv, testLogger } from './env';

/** The key tests encrypt secrets at rest with. */
export const testSecretKey = Buffer.alloc(32, 7);

/** A unique task queue name for one test. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

export interface RunningWorker {
  worker: PortalWorker;
  taskQueue: string;
  stop(): Promise<void>;
}

/**
 * Starts a worker with the real activities (or some replaced) on a fresh task queue. Connector workers run
 * only for the kinds a test names (none by default), so tests that run no plan start one worker.
 */
export async function startWorker(
  taskQueue = uniqueTaskQueue(), options: Pick<WorkerDeps, 'activities' | 'shutdownGraceTime' | 'connectorKinds' | 'connectorRateLimitPerSecond' | 'connectorRateLimitScope'> = {},
): Promise<RunningWorker> {
  const env = testEnv();
  const worker = await createWorker({
    connection: env.nativeConnection, namespace: env.namespace, taskQueue, db: env.db, workflowBundle: env.workflowBundle, secretKey: testSecretKey,
    connectorKinds: [], ...options,
  });
  const running = worker.run();
  return {
    worker, taskQueue,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

export interface ApiResponse<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  headers: Headers;
  body: T;
}

/** A tiny HTTP client for one API server and one token. */
export class ApiClient {
  constructor(readonly baseUrl: string, readonly token: string | null) {}

  as(token: string | null): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const init: RequestInit = {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    };
    const res = await fetch(`${this.baseUrl}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // leave as text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', path, body, headers);
  }

  delete(path: string) {
    return this.request('DELETE', path);
  }
}

export interface RunningApi {
  server: Server;
  baseUrl: string;
  stop(): Promise<void>;
}

/** Starts the real API on a free port, starting workflows on `taskQueue` (its HR hand-over tuned by `hr`). */
export async function startApi(taskQueue: string, hr?: HrDispatcherOptions): Promise<RunningApi> {
  const env = testEnv();
  const deps: ApiDeps = { db: env.db, temporal: { client: env.client, taskQueue }, logger: testLogger, secretKey: testSecretKey };
  if (hr) deps.hrDispatcher = new HrDispatcher(deps, hr);
  const server = await listen(deps, '127.0.0.1', 0);
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, baseUrl, stop: () => close(server) };
}

/** A new tenant with a unique slug. */
export async function seedTenant(kind: TenantKind, label: string = kind): Promise<Tenant> {
  const tenant = await createTenant(testEnv().db, { kind, slug: `${label}-${randomUUID().slice(0, 13)}`, name: `Test ${label}` });
  if (!tenant) throw new Error('slug collision');
  return tenant;
}

/** A token for a tenant; every permission unless told otherwise. */
export async function seedToken(tenantId: string, permissions: readonly Permission[] = Permissions): Promise<string> {
  return (await createApiToken(testEnv().db, { tenantId, name: 'test', permissions })).secret;
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A set-up person (membership with profile), made by the real setup activity. */
export async function seedPerson(tenantId: string, displayName: string, profile: Record<string, string | number | boolean | null> = {}): Promise<string> {
  const personId = randomUUID();
  await applyPersonSetup(testEnv().db, {
    tenantId, personId, displayName, email: null, profile, groupIds: [], actor: { kind: 'system', id: 'test' }, requestId: null,
  });
  return personId;
}

/** A token acting as a person. */
export async function seedPersonToken(tenantId: string, personId: string, permissions: readonly Permission[]): Promise<string> {
  return (await createApiToken(testEnv().db, { tenantId, name: 'person', permissions, personId })).secret;
}
