import type { ColumnType, Insertable, Selectable } from 'kysely';

/** Employment fields and custom attributes of one person in one tenant (the identity profile). */
export type Profile = Record<string, string | number | boolean | null>;

/** A person's membership of a tenant, carrying their identity profile there. */
export interface TenantMembershipsTable {
  id: string;
  tenant_id: string;
  person_id: string;
  profile: ColumnType<Profile, string, string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type TenantMembershipRow = Selectable<TenantMembershipsTable>;
export type NewTenantMembershipRow = Insertable<TenantMembershipsTable>;
