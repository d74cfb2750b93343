import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { HrEventPayload, LifecycleRunStep, LifecycleTemplateDefinition } from '../../workflows/lifecycle.types';

/** How an external system (the HR system) names a person of a tenant. */
export interface PersonExternalIdsTable {
  tenant_id: string;
  system: string;
  external_id: string;
  person_id: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** Per-tenant HR settings. The webhook secret is stored encrypted. */
export interface HrSettingsTable {
  tenant_id: string;
  secret_ciphertext: string | null;
  disable_threshold: number;
  threshold_window_seconds: number;
  leaver_delete_after_seconds: number;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface HrHoldsTable {
  id: string;
  tenant_id: string;
  status: 'pending' | 'approved' | 'rejected';
  reason: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  decided_at: Date | null;
  decided_by: string | null;
}

export type HrEventStatus = 'received' | 'held' | 'dispatched' | 'applied' | 'superseded' | 'rejected_by_operator' | 'failed';

export interface HrEventsTable {
  id: string;
  tenant_id: string;
  event_id: string;
  type: string;
  employee_id: string;
  person_id: string;
  occurred_at: Date;
  effective_at: Date | null;
  payload: ColumnType<HrEventPayload, string, never>;
  channel: 'webhook' | 'import';
  import_id: string | null;
  hold_id: string | null;
  status: HrEventStatus;
  outcome: string | null;
  received_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface LifecycleTemplatesTable {
  tenant_id: string;
  kind: 'joiner' | 'mover' | 'leaver';
  version: number;
  definition: ColumnType<LifecycleTemplateDefinition, string, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  created_by: string;
}

export interface LifecycleRunsTable {
  id: string;
  tenant_id: string;
  person_id: string;
  kind: 'joiner' | 'mover' | 'leaver';
  trigger: 'hr_event' | 'manual' | 'effective_date';
  hr_event_id: string | null;
  template_version: number | null;
  status: 'scheduled' | 'running' | 'completed' | 'cancelled' | 'failed';
  scheduled_for: Date | null;
  reason: string | null;
  steps: ColumnType<LifecycleRunStep[], string | undefined, string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface OutboxMessagesTable {
  id: string;
  tenant_id: string;
  kind: string;
  recipient_person_id: string | null;
  subject: string;
  body: ColumnType<Record<string, unknown>, string, never>;
  dedupe_key: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type HrEventRow = Selectable<HrEventsTable>;
export type NewHrEventRow = Insertable<HrEventsTable>;
export type LifecycleRunRow = Selectable<LifecycleRunsTable>;
