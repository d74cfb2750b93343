import type { Executor } from '../database';
import type { ConnectorInstanceRow } from '../tables/provisioning';
import { newId } from './ids';

/** A connector instance as the rest of Portal sees it: never with its credentials. */
export interface ConnectorInstance {
  id: string;
  tenantId: string;
  kind: string;
  name: string;
  config: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

function toInstance(r: ConnectorInstanceRow): ConnectorInstance {
  return { id: r.id, tenantId: r.tenant_id, kind: r.kind, name: r.name, config: r.config, createdAt: r.created_at, updatedAt: r.updated_at };
}

const publicColumns = ['id', 'tenant_id', 'kind', 'name', 'config', 'created_at', 'updated_at', 'credentials_ciphertext'] as const;

/** Creates an instance; null when the tenant already has one by that name. */
export async function createConnectorInstance(
  db: Executor, input: { tenantId: string; kind: string; name: string; config: Record<string, unknown>; credentialsCiphertext: string },
): Promise<ConnectorInstance | null> {
  const row = await db.insertInto('connector_instances')
    .values({ id: newId(), tenant_id: input.tenantId, kind: input.kind, name: input.name, config: JSON.stringify(input.config), credentials_ciphertext: input.credentialsCiphertext })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
    .returning(publicColumns)
    .executeTakeFirst();
  return row ? toInstance(row) : null;
}

/** Replaces the configuration and, when given, the credentials. */
export async function updateConnectorInstance(
  db: Executor, tenantId: string, id: string, input: { config: Record<string, unknown>; credentialsCiphertext: string | null },
): Promise<ConnectorInstance | null> {
  const row = await db.updateTable('connector_instances')
    .set({ config: JSON.stringify(input.config), ...(input.credentialsCiphertext ? { credentials_ciphertext: input.credentialsCiphertext } : {}), updated_at: new Date() })
    .where('tenant_id', '=', tenantId).where('id', '=', id)
    .returning(publicColumns)
    .executeTakeFirst();
  return row ? toInstance(row) : null;
}

export async function getConnectorInstance(db: Executor, tenantId: string, id: string): Promise<ConnectorInstance | null> {
  const row = await db.selectFrom('connector_instances').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? toInstance(row) : null;
}

/** The instance with its encrypted credentials, for the worker that calls the vendor. */
export async function getConnectorInstanceWithSecret(db: Executor, tenantId: string, id: string): Promise<(ConnectorInstance & { credentialsCiphertext: string }) | null> {
  const row = await db.selectFrom('connector_instances').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? { ...toInstance(row), credentialsCiphertext: row.credentials_ciphertext } : null;
}

export async function listConnectorInstances(db: Executor, tenantId: string): Promise<ConnectorInstance[]> {
  const rows = await db.selectFrom('connector_instances').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  return rows.map(toInstance);
}
