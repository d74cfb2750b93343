import type { Request } from 'express';
import type { z } from 'zod';
import type { Tenant } from '../db/repositories/tenants';
import type { Logger } from '../workers/logger';
import type { ApiDeps, Caller } from './context';
import type { Permission } from './permissions';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface RouteContext<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  caller: Caller;
  /** The tenant named by `:tenantId`, already checked against the caller. */
  tenant: Tenant;
  requestId: string;
  deps: ApiDeps;
  log: Logger;
  req: Request;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One endpoint, declared once: its path, the permission it needs, strict schemas for params, query and
 * body, its documented responses, and the handler. The router and the OpenAPI document are both built
 * from these declarations, so validation and documentation cannot drift apart.
 */
export interface RouteDef<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express-style path, e.g. `/v1/tenants/:tenantId/people/:personId`. */
  path: string;
  summary: string;
  tag: string;
  /** The permission needed (any one of a list), or null for any authenticated caller. */
  permission: Permission | readonly Permission[] | null;
  /** Whether the route names a tenant in `:tenantId` (checked before the handler runs). */
  tenantScoped: boolean;
  /**
   * How callers prove who they are: a bearer API token (the default), or an HMAC signature over the raw
   * body with the tenant's HR webhook secret (HR systems do not hold API tokens), or a plan step's signed
   * single-use callback token in the body (checked by the handler: vendors and ticket systems hold no token).
   */
  auth?: 'bearer' | 'hr_signature' | 'callback_token';
  /** `json` (the default) or `text` (CSV / JSON lines, parsed by the handler). */
  bodyType?: 'json' | 'text';
  params?: P;
  query?: Q;
  body?: B;
  headers?: AnyObject;
  responses: Record<number, { description: string; schema?: z.ZodType; headers?: Record<string, string> }>;
  handler: (ctx: RouteContext<P, Q, B>) => Promise<RouteResult>;
}

/** Declares a route, keeping the handler's context typed by the route's own schemas. */
export function defineRoute<P extends AnyObject, Q extends AnyObject, B extends z.ZodType>(def: RouteDef<P, Q, B>): RouteDef {
  return def as unknown as RouteDef;
}
