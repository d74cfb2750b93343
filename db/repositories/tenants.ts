import type { Executor } from '../database';
import type { TenantKind, TenantRow } from '../tables/tenants';
import { newId, isUuid } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export type { TenantKind };

export interface Tenant {
  id: string;
  kind: TenantKind;
  slug: string;
  name: string;
  createdAt: Date;
}

function toTenant(r: TenantRow): Tenant {
  return { id: r.id, kind: r.kind, slug: r.slug, name: r.name, createdAt: r.created_at };
}

/** Creates a tenant; returns null when the slug is taken. */
export async function createTenant(db: Executor, input: { kind: TenantKind; slug: string; name: string }): Promise<Tenant | null> {
  const row = await db
    .insertInto('tenants')
    .values({ id: newId(), kind: input.kind, slug: input.slug, name: input.name })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ? toTenant(row) : null;
}

export async function getTenant(db: Executor, id: string): Promise<Tenant | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toTenant(row) : null;
}

export async function getTenantBySlug(db: Executor, slug: string): Promise<Tenant | null> {
  const row = await db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst();
  return row ? toTenant(row) : null;
}

/** Lists the tenants a caller may see: its own, plus every customer tenant for an operator. */
export async function listVisibleTenants(
  db: Executor, viewer: { tenantId: string; kind: TenantKind }, cursor: string | null, limit: number,
): Promise<Page<Tenant>> {
  let q = db.selectFrom('tenants').selectAll();
  q = viewer.kind === 'operator'
    ? q.where((eb) => eb.or([eb('id', '=', viewer.tenantId), eb('kind', '=', 'customer')]))
    : q.where('id', '=', viewer.tenantId);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toTenant);
}
