import type { ColumnType, Insertable, Selectable } from 'kysely';

export type TenantKind = 'operator' | 'customer' | 'vendor';

/** A tenant: the unit of isolation. Every other row carries a tenant_id. */
export interface TenantsTable {
  id: string;
  kind: TenantKind;
  slug: string;
  name: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type TenantRow = Selectable<TenantsTable>;
export type NewTenantRow = Insertable<TenantsTable>;
