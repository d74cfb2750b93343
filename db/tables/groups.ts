import type { ColumnType, Insertable, Selectable } from 'kysely';

/** A Portal-native group. Groups nest: a group may be a member of another group. */
export interface GroupsTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** One member of a group: exactly one of member_person_id / member_group_id is set. */
export interface GroupMembersTable {
  id: string;
  tenant_id: string;
  group_id: string;
  member_person_id: string | null;
  member_group_id: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type GroupRow = Selectable<GroupsTable>;
export type NewGroupRow = Insertable<GroupsTable>;
export type GroupMemberRow = Selectable<GroupMembersTable>;
export type NewGroupMemberRow = Insertable<GroupMembersTable>;
