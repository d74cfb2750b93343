import type { ColumnType, Insertable, Selectable } from 'kysely';

/** An application people can be assigned to. */
export interface ApplicationsTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** One person's assignment to an application; the access edge points back at it. */
export interface AppAssignmentsTable {
  id: string;
  tenant_id: string;
  application_id: string;
  person_id: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type ApplicationRow = Selectable<ApplicationsTable>;
export type NewApplicationRow = Insertable<ApplicationsTable>;
export type AppAssignmentRow = Selectable<AppAssignmentsTable>;
export type NewAppAssignmentRow = Insertable<AppAssignmentsTable>;
