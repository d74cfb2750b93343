import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** One downstream system configured for one tenant; credentials encrypted at rest. */
export interface ConnectorInstancesTable {
  id: string;
  tenant_id: string;
  kind: string;
  name: string;
  config: ColumnType<Record<string, unknown>, string, string>;
  credentials_ciphertext: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type PlanOriginKind = 'access_request' | 'lifecycle_run' | 'operator';

/** A provisioning plan: immutable (the database refuses UPDATE and DELETE). */
export interface ProvisioningPlansTable {
  id: string;
  tenant_id: string;
  origin_kind: PlanOriginKind;
  origin_id: string;
  reason: string;
  content_hash: string;
  created_by_kind: string;
  created_by_id: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  /** SHA-256 of an operator create's canonical body, to refuse its Idempotency-Key with another body; else null. */
  submission_hash: ColumnType<string | null, string | null | undefined, never>;
}

export type StepTargetSystem = 'portal' | 'connector';

/** One step of a plan: immutable. */
export interface ProvisioningPlanStepsTable {
  plan_id: string;
  step_key: string;
  tenant_id: string;
  ordinal: number;
  target_system: StepTargetSystem;
  connector_instance_id: string | null;
  connector_kind: string | null;
  operation: string;
  target_object: string;
  parameters: ColumnType<Record<string, unknown>, string, never>;
  idempotency_key: string;
  depends_on: ColumnType<string[], string, never>;
  callback_deadline_seconds: number | null;
}

export type StepEvidenceOutcome = 'applied' | 'already_in_state' | 'failed_retryable' | 'failed_terminal' | 'unverifiable' | 'awaiting_callback';

/** Evidence: one row per attempt outcome, append-only. */
export interface ProvisioningStepEvidenceTable {
  id: Generated<string>;
  tenant_id: string;
  plan_id: string;
  step_key: string;
  round: number;
  attempt: number;
  recorded_at: ColumnType<Date, Date | string | undefined, never>;
  outcome: StepEvidenceOutcome;
  calls: ColumnType<unknown[], string, never>;
  vendor_request_id: string | null;
  error: ColumnType<Record<string, unknown> | null, string | null, never>;
  detail: ColumnType<Record<string, unknown>, string, never>;
}

export type PlanStatus = 'pending' | 'running' | 'completed' | 'completed_with_failures';

export interface ProvisioningPlanStatusTable {
  plan_id: string;
  tenant_id: string;
  status: PlanStatus;
  round: number;
  succeeded: ColumnType<string[], string, string>;
  failed: ColumnType<string[], string, string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface ProvisioningCallbackTokensTable {
  id: string;
  tenant_id: string;
  plan_id: string;
  step_key: string;
  round: number;
  expires_at: Date;
  used_at: Date | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type ConnectorInstanceRow = Selectable<ConnectorInstancesTable>;
export type PlanRow = Selectable<ProvisioningPlansTable>;
export type PlanStepRow = Selectable<ProvisioningPlanStepsTable>;
export type NewPlanStepRow = Insertable<ProvisioningPlanStepsTable>;
export type StepEvidenceRow = Selectable<ProvisioningStepEvidenceTable>;
