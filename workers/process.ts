/** Start-up pieces shared by `npm start`, `npm run api`, `npm run worker` and the CLI. */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Db } from '../db/database';
import { openDatabase } from '../db/connect';
import { createApiToken } from '../db/repositories/api-tokens';
import { appendAudit } from '../db/repositories/audit';
import { createTenant, getTenantBySlug } from '../db/repositories/tenants';
import { Permissions } from '../api/permissions';
import type { PortalConfig } from './config';
import { temporalConnectionOptions } from './temporal-connection';

/** PostgreSQL when DATABASE_URL is set; otherwise embedded PostgreSQL under the data directory. */
export function openConfiguredDatabase(config: PortalConfig): Db {
  return config.databaseUrl
    ? openDatabase({ kind: 'postgres', url: config.databaseUrl })
    : openDatabase({ kind: 'embedded', dataDir: join(config.dataDir, 'pglite') });
}

/** Refuses to run one part alone on the embedded database, which belongs to a single process. */
export function requireSharedDatabase(config: PortalConfig, part: string): void {
  if (!config.databaseUrl) {
    throw new Error(`DATABASE_URL is required to run the ${part} on its own: the embedded database belongs to one process (use npm start).`);
  }
}

/** A Temporal client for the API. */
export async function connectClient(config: PortalConfig, address: string): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal, address));
  return new Client({ connection, namespace: config.temporal.namespace });
}

/** A worker connection. */
export async function connectWorker(config: PortalConfig, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config.temporal, address));
}

export const OPERATOR_SLUG = 'operator';

/**
 * On a fresh install, creates the operator tenant and a first token holding every permission, and returns
 * its secret (to be shown once). Returns null when an operator tenant exists already.
 */
export async function bootstrapOperator(db: Db): Promise<{ tenantId: string; secret: string } | null> {
  return db.transaction().execute(async (tx) => {
    if (await getTenantBySlug(tx, OPERATOR_SLUG)) return null;
    const tenant = await createTenant(tx, { kind: 'operator', slug: OPERATOR_SLUG, name: 'Operator' });
    if (!tenant) return null;
    const { token, secret } = await createApiToken(tx, { tenantId: tenant.id, name: 'bootstrap', permissions: Permissions });
    const actor = { kind: 'cli' as const, id: 'bootstrap' };
    await appendAudit(tx, { tenantId: tenant.id, actor, action: 'tenant.created', target: { kind: 'tenant', id: tenant.id }, details: { kind: 'operator' } });
    await appendAudit(tx, { tenantId: tenant.id, actor, action: 'api_token.created', target: { kind: 'api_token', id: token.id }, details: { name: token.name, permissions: token.permissions } });
    return { tenantId: tenant.id, secret };
  });
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
