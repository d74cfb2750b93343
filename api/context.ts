import type { Client } from '@temporalio/client';
import type { Db } from '../db/database';
import type { Tenant } from '../db/repositories/tenants';
import type { Logger } from '../workers/logger';
import type { HrEvent, NewHrEvent } from '../db/repositories/hr';
import type { GroupCommit } from './group-commit';
import type { HrDispatcher, HrDispatcherOptions } from './hr-dispatch';
import type { Permission } from './permissions';

/** What the API needs from the process, injected so tests build their own. */
export interface ApiDeps {
  db: Db;
  temporal: { client: Client; taskQueue: string };
  logger: Logger;
  /** Key for secrets at rest (AES-256-GCM). */
  secretKey: Buffer;
  /** Hands stored HR events to lifecycles off the request path (created by createApp when absent). */
  hrDispatcher?: HrDispatcher;
  /** How the dispatcher createApp creates treats bursts (defaults when absent). */
  hrHandOver?: HrDispatcherOptions;
  /** Gathers concurrent webhook events into shared inserts (created on the first event when absent). */
  hrIntake?: GroupCommit<NewHrEvent, { event: HrEvent; created: boolean }>;
}

/** The authenticated API client behind a request. */
export interface Caller {
  tokenId: string;
  tenantId: string;
  tenantKind: Tenant['kind'];
  /** The person the token acts as, or null for a service token. */
  personId: string | null;
  permissions: ReadonlySet<Permission>;
}

/**
 * Tenant scoping: a token acts on its own tenant; an operator-tenant token also on customer tenants.
 * Vendor tenants and other operator tenants are reachable only with their own tokens.
 */
export function canActOn(caller: Caller, tenant: Tenant): boolean {
  return tenant.id === caller.tenantId || (caller.tenantKind === 'operator' && tenant.kind === 'customer');
}

/** The audit actor for a caller. */
export function actorOf(caller: Caller) {
  return { kind: 'api_token' as const, id: caller.tokenId };
}
