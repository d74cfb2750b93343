import type { ColumnType, Generated } from 'kysely';
import type { AttributeType, Mutability, ProfileSource } from '../../workflows/profile-schema';
import type { ActorKind } from './audit-events';

/** A tenant-defined profile attribute. */
export interface ProfileAttributeDefinitionsTable {
  id: string;
  tenant_id: string;
  key: string;
  label: string;
  type: AttributeType;
  required: boolean;
  mutability: Mutability;
  enum_values: ColumnType<string[] | null, string | null, string | null>;
  pattern: string | null;
  min: number | null;
  max: number | null;
  description: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** The current value of one attribute of one person in one tenant, and where it came from. */
export interface ProfileAttributeValuesTable {
  tenant_id: string;
  person_id: string;
  attribute: string;
  value: ColumnType<unknown, string, string>;
  source: ProfileSource;
  source_record_id: string;
  observed_at: ColumnType<Date, Date | string, Date | string>;
  previous_value: ColumnType<unknown, string, string>;
  /** Set when the value was chosen by resolving an issue; cleared by the next applied observation. */
  resolution_issue_id: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type ProfileHistoryOutcome = 'applied' | 'confirmed' | 'conflict' | 'unresolved_reference' | 'resolved';

/** Append-only: every change of a value or its provenance, and every disagreement. */
export interface ProfileAttributeHistoryTable {
  id: Generated<string>;
  tenant_id: string;
  person_id: string;
  attribute: string;
  outcome: ProfileHistoryOutcome;
  value: ColumnType<unknown, string, never>;
  previous_value: ColumnType<unknown, string, never>;
  source: ProfileSource;
  source_record_id: string;
  observed_at: ColumnType<Date, Date | string, never>;
  issue_id: string | null;
  actor_kind: ActorKind;
  actor_id: string;
  request_id: string | null;
  recorded_at: ColumnType<Date, Date | string | undefined, never>;
}

/** A tenant's source order for one attribute ('*': the tenant default), highest first. */
export interface ProfileSourcePrecedenceTable {
  tenant_id: string;
  attribute: string;
  sources: ColumnType<ProfileSource[], string, string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type ResolutionIssueKind = 'source_conflict' | 'unresolved_reference';
export type ResolutionIssueStatus = 'open' | 'resolved';

/** One value a source sent that was not applied, as stored in an issue. */
export interface StoredCandidate {
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: string;
  value: unknown;
}

/** How an issue was closed. */
export interface StoredResolution {
  choice: 'candidate' | 'manual_value' | 'keep_current' | 'superseded';
  value: unknown;
  source: ProfileSource | null;
  comment: string | null;
  actor: { kind: ActorKind; id: string };
  /** The (source, value) pairs the choice turned down; the same source re-sending one is not re-raised. */
  rejected: { source: ProfileSource; value: unknown }[];
}

/** The resolution queue. */
export interface ProfileResolutionIssuesTable {
  id: string;
  tenant_id: string;
  person_id: string;
  attribute: string;
  kind: ResolutionIssueKind;
  status: ResolutionIssueStatus;
  candidates: ColumnType<StoredCandidate[], string, string>;
  resolution: ColumnType<StoredResolution | null, string | null, string | null>;
  opened_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  resolved_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}
