import type { Executor } from '../database';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

/** Tables of named, tenant-scoped access targets that share one shape. */
export type CatalogTable = 'groups' | 'roles' | 'applications';

/** A group, role or application as the rest of Portal sees it. */
export interface CatalogObject {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  createdAt: Date;
}

interface CatalogRow {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: Date;
}

function toObject(r: CatalogRow): CatalogObject {
  return { id: r.id, tenantId: r.tenant_id, name: r.name, description: r.description, createdAt: r.created_at };
}

/** Creates a named object; returns null when the name is taken in the tenant. */
export async function createCatalogObject(
  db: Executor, table: CatalogTable, input: { tenantId: string; name: string; description: string | null },
): Promise<CatalogObject | null> {
  const row = await db
    .insertInto(table)
    .values({ id: newId(), tenant_id: input.tenantId, name: input.name, description: input.description })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ? toObject(row) : null;
}

export async function getCatalogObject(db: Executor, table: CatalogTable, tenantId: string, id: string): Promise<CatalogObject | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom(table).selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? toObject(row) : null;
}

/** The ids among `ids` that do not exist in the tenant (another tenant's ids count as missing). */
export async function missingCatalogIds(db: Executor, table: CatalogTable, tenantId: string, ids: readonly string[]): Promise<string[]> {
  const wellFormed = ids.filter(isUuid);
  const found = wellFormed.length === 0 ? [] : await db.selectFrom(table).select('id')
    .where('tenant_id', '=', tenantId).where('id', 'in', wellFormed).execute();
  const present = new Set(found.map((r) => r.id));
  return ids.filter((id) => !present.has(id));
}

export async function listCatalogObjects(
  db: Executor, table: CatalogTable, tenantId: string, filter: { name?: string | undefined }, cursor: string | null, limit: number,
): Promise<Page<CatalogObject>> {
  let q = db.selectFrom(table).selectAll().where('tenant_id', '=', tenantId);
  if (filter.name) q = q.where('name', '=', filter.name);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toObject);
}
