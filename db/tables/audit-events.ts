import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type ActorKind = 'api_token' | 'person' | 'system' | 'workflow' | 'cli';

/** One state change. Append-only: a trigger refuses UPDATE and DELETE. */
export interface AuditEventsTable {
  id: Generated<string>;
  tenant_id: string;
  occurred_at: ColumnType<Date, Date | string | undefined, never>;
  actor_kind: ActorKind;
  actor_id: string;
  action: string;
  target_kind: string;
  target_id: string;
  /** Non-secret details only. */
  details: ColumnType<Record<string, unknown>, string, never>;
  request_id: string | null;
}

export type AuditEventRow = Selectable<AuditEventsTable>;
export type NewAuditEventRow = Insertable<AuditEventsTable>;
