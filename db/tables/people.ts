import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/** pending: being set up; active; disabled: a leaver, access removed; deleted: a leaver past the retention wait. */
export type PersonStatus = 'pending' | 'active' | 'disabled' | 'deleted';

/** A person, owned by their home tenant; their presence in tenants is a membership. */
export interface PeopleTable {
  id: string;
  tenant_id: string;
  display_name: string;
  email: string | null;
  status: PersonStatus;
  /** Workflow that set the person up (its business ID), for operators. */
  setup_workflow_id: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type PersonRow = Selectable<PeopleTable>;
export type NewPersonRow = Insertable<PeopleTable>;
export type PersonUpdate = Updateable<PeopleTable>;
