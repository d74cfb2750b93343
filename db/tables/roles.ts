import type { ColumnType, Insertable, Selectable } from 'kysely';

/** A Portal-native role. Who holds it is recorded as access edges. */
export interface RolesTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type RoleRow = Selectable<RolesTable>;
export type NewRoleRow = Insertable<RolesTable>;
