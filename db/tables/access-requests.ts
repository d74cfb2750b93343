import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { BundleDefinition } from '../../workflows/access-policy';

/** A requestable bundle; its definition lives in immutable versions. */
export interface AccessBundlesTable {
  id: string;
  tenant_id: string;
  name: string;
  current_version: number;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AccessBundleVersionsTable {
  bundle_id: string;
  version: number;
  tenant_id: string;
  definition: ColumnType<BundleDefinition, string, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  created_by: string;
}

export type RequestStatusColumn = 'pending' | 'approved' | 'granted' | 'denied' | 'cancelled' | 'expired' | 'revoked';

/** The API's view of a request, kept current by the request workflow's activities. */
export interface AccessRequestsTable {
  id: string;
  tenant_id: string;
  bundle_id: string;
  bundle_version: number;
  beneficiary_person_id: string;
  submitted_by_person_id: string | null;
  submitted_by_token_id: string;
  justification: string;
  duration_seconds: number | null;
  status: RequestStatusColumn;
  current_stage: number | null;
  granted_at: Date | null;
  grant_expires_at: Date | null;
  workflow_id: string;
  /** SHA-256 of the canonical submitted body (submissionHash); null for requests recorded before it existed. */
  submission_hash: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Who may decide one stage of a request, and what they decided. */
export interface AccessRequestApproversTable {
  tenant_id: string;
  request_id: string;
  stage: number;
  person_id: string;
  escalation: boolean;
  decision: 'approve' | 'deny' | null;
}

/** A request's history, append-only. */
export interface AccessRequestEventsTable {
  id: Generated<string>;
  tenant_id: string;
  request_id: string;
  occurred_at: ColumnType<Date, Date | string | undefined, never>;
  kind: string;
  stage: number | null;
  actor_kind: string;
  actor_id: string;
  bundle_version: number;
  details: ColumnType<Record<string, unknown>, string, never>;
  dedupe_key: string;
}

export type AccessBundleRow = Selectable<AccessBundlesTable>;
export type AccessRequestRow = Selectable<AccessRequestsTable>;
export type NewAccessRequestRow = Insertable<AccessRequestsTable>;
export type AccessRequestEventRow = Selectable<AccessRequestEventsTable>;
