import { type SqlBool, sql } from 'kysely';
import type { CallRecord } from '../../connectors/http';
import type { LoadedPlan, PlanStepShape } from '../../workflows/plan.types';
import type { Executor } from '../database';
import type { PlanOriginKind, PlanRow, PlanStatus, PlanStepRow, StepEvidenceOutcome, StepEvidenceRow } from '../tables/provisioning';
import { type Actor, appendAudit, type AuditEventInput, auditRow } from './audit';
import { canonicalHash } from './canonical-json';
import { isUuid } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export type { PlanOriginKind, PlanStatus, StepEvidenceOutcome };

/** The Temporal workflow ID of a plan's execution: operators find it by this in the Temporal UI. */
export const planWorkflowId = (planId: string) => `plan:${planId}`;

/** The outcomes that mean a step succeeded. */
export const SUCCEEDED: StepEvidenceOutcome[] = ['applied', 'already_in_state'];

export interface PlanStepInput {
  key: string;
  target: { system: 'portal' } | { system: 'connector'; connectorInstanceId: string; connectorKind: string };
  operation: string;
  /** What the step acts on: a Portal group/role/application id, or the downstream account's userName. */
  targetObject: string;
  parameters: Record<string, unknown>;
  /** Defaults to `<planId>:<key>`; unique per tenant, so a caller's key cannot run twice under two plans. */
  idempotencyKey?: string;
  dependsOn: string[];
  callbackDeadlineSeconds: number | null;
}

export interface NewPlan {
  id: string;
  tenantId: string;
  origin: { kind: PlanOriginKind; id: string };
  reason: string;
  createdBy: Actor;
  steps: PlanStepInput[];
  /** The API request that created it, for the audit event. */
  requestId?: string | null;
  /**
   * Its status from the start (else pending): `running` in round 1 when its recorder has it executed at once
   * (the run is then given its step graph and records nothing on starting), or where it ended when the
   * recording transaction carried it out.
   */
  initialStatus?: { status: PlanStatus; round: number; succeeded: string[]; failed: string[] };
  /** What an operator's create asked for (`canonicalHash` of its body), when it came with an Idempotency-Key. */
  submissionHash?: string | null;
}

export interface PlanStep {
  key: string;
  ordinal: number;
  target: { system: 'portal' } | { system: 'connector'; connectorInstanceId: string; connectorKind: string };
  operation: string;
  targetObject: string;
  parameters: Record<string, unknown>;
  idempotencyKey: string;
  dependsOn: string[];
  callbackDeadlineSeconds: number | null;
}

export interface StepEvidence {
  id: string;
  stepKey: string;
  round: number;
  attempt: number;
  recordedAt: Date;
  outcome: StepEvidenceOutcome;
  calls: CallRecord[];
  vendorRequestId: string | null;
  error: Record<string, unknown> | null;
  detail: Record<string, unknown>;
}

export interface Plan {
  id: string;
  tenantId: string;
  origin: { kind: PlanOriginKind; id: string };
  reason: string;
  contentHash: string;
  createdBy: Actor;
  createdAt: Date;
  status: PlanStatus;
  round: number;
  succeeded: string[];
  failed: string[];
}

export interface PlanDetail extends Plan {
  steps: PlanStep[];
  evidence: StepEvidence[];
}

/** The content a plan's hash covers: everything that says what it does and why, in canonical JSON. */
export function planContent(plan: { tenantId: string; origin: { kind: string; id: string }; reason: string; steps: PlanStep[] }): unknown {
  return {
    tenantId: plan.tenantId,
    origin: plan.origin,
    reason: plan.reason,
    steps: plan.steps.map((s) => ({
      key: s.key, ordinal: s.ordinal, target: s.target, operation: s.operation, targetObject: s.targetObject, parameters: s.parameters,
      idempotencyKey: s.idempotencyKey, dependsOn: s.dependsOn, callbackDeadlineSeconds: s.callbackDeadlineSeconds,
    })),
  };
}

/** SHA-256 over the canonical JSON of planContent: an auditor recomputes it from an export. */
export function planContentHash(plan: Parameters<typeof planContent>[0]): string {
  return canonicalHash(planContent(plan));
}

function toStep(r: PlanStepRow): PlanStep {
  return {
    key: r.step_key, ordinal: r.ordinal,
    target: r.target_system === 'portal'
      ? { system: 'portal' }
      : { system: 'connector', connectorInstanceId: r.connector_instance_id as string, connectorKind: r.connector_kind as string },
    operation: r.operation, targetObject: r.target_object, parameters: r.parameters, idempotencyKey: r.idempotency_key,
    dependsOn: r.depends_on, callbackDeadlineSeconds: r.callback_deadline_seconds,
  };
}

function toEvidence(r: StepEvidenceRow): StepEvidence {
  return {
    id: String(r.id), stepKey: r.step_key, round: r.round, attempt: r.attempt, recordedAt: r.recorded_at, outcome: r.outcome,
    calls: r.calls as CallRecord[], vendorRequestId: r.vendor_request_id, error: r.error, detail: r.detail,
  };
}

const planColumns = [
  'p.id', 'p.tenant_id', 'p.origin_kind', 'p.origin_id', 'p.reason', 'p.content_hash', 'p.created_by_kind', 'p.created_by_id', 'p.created_at',
  's.status', 's.round', 's.succeeded', 's.failed',
] as const;

type PlanJoinRow = Pick<PlanRow, 'id' | 'tenant_id' | 'origin_kind' | 'origin_id' | 'reason' | 'content_hash' | 'created_by_kind' | 'created_by_id' | 'created_at'>
  & { status: PlanStatus; round: number; succeeded: string[]; failed: string[] };

function toPlan(r: PlanJoinRow): Plan {
  return {
    id: r.id, tenantId: r.tenant_id, origin: { kind: r.origin_kind, id: r.origin_id }, reason: r.reason, contentHash: r.content_hash,
    createdBy: { kind: r.created_by_kind as Actor['kind'], id: r.created_by_id }, createdAt: r.created_at,
    status: r.status, round: r.round, succeeded: r.succeeded, failed: r.failed,
  };
}

/**
 * Records a plan, its steps and its pending status, with an audit event. Idempotent on the plan id: a plan
 * already recorded under that id is returned as it is (created: false); it is never changed.
 */
export async function insertPlan(tx: Executor, plan: NewPlan): Promise<{ plan: Plan; created: boolean }> {
  const steps: PlanStep[] = plan.steps.map((s, ordinal) => ({
    key: s.key, ordinal, target: s.target, operation: s.operation, targetObject: s.targetObject, parameters: s.parameters,
    idempotencyKey: s.idempotencyKey ?? `${plan.id}:${s.key}`, dependsOn: s.dependsOn, callbackDeadlineSeconds: s.callbackDeadlineSeconds,
  }));
  const contentHash = planContentHash({ ...plan, steps });
  const status = plan.initialStatus ?? { status: 'pending' as const, round: 0, succeeded: [], failed: [] };
  const stepRows = steps.map((s) => ({
    plan_id: plan.id, step_key: s.key, tenant_id: plan.tenantId, ordinal: s.ordinal, target_system: s.target.system,
    connector_instance_id: s.target.system === 'connector' ? s.target.connectorInstanceId : null,
    connector_kind: s.target.system === 'connector' ? s.target.connectorKind : null,
    operation: s.operation, target_object: s.targetObject, parameters: s.parameters, idempotency_key: s.idempotencyKey,
    depends_on: s.dependsOn, callback_deadline_seconds: s.callbackDeadlineSeconds,
  }));
  // The plan, its steps and its status in one statement: steps and status are written only when the plan
  // row is new (a plan id already taken keeps what it has).
  const { rows: [inserted] } = await sql<{ created_at: Date }>`
    with plan as (
      insert into provisioning_plans (id, tenant_id, origin_kind, origin_id, reason, content_hash, created_by_kind, created_by_id, submission_hash)
      values (${plan.id}, ${plan.tenantId}, ${plan.origin.kind}, ${plan.origin.id}, ${plan.reason}, ${contentHash}, ${plan.createdBy.kind}, ${plan.createdBy.id},
        ${plan.submissionHash ?? null})
      on conflict (id) do nothing
      returning created_at
    ), steps as (
      insert into provisioning_plan_steps (plan_id, step_key, tenant_id, ordinal, target_system, connector_instance_id, connector_kind,
        operation, target_object, parameters, idempotency_key, depends_on, callback_deadline_seconds)
      select s.* from jsonb_to_recordset(${JSON.stringify(stepRows)}::jsonb) as s(plan_id uuid, step_key text, tenant_id uuid, ordinal integer,
        target_system text, connector_instance_id uuid, connector_kind text, operation text, target_object text, parameters jsonb,
        idempotency_key text, depends_on jsonb, callback_deadline_seconds integer)
      where exists (select 1 from plan)
    ), status as (
      insert into provisioning_plan_status (plan_id, tenant_id, status, round, succeeded, failed)
      select ${plan.id}::uuid, ${plan.tenantId}::uuid, ${status.status}, ${status.round}::integer, ${JSON.stringify(status.succeeded)}::jsonb,
        ${JSON.stringify(status.failed)}::jsonb
      where exists (select 1 from plan)
    )
    select created_at from plan`.execute(tx);
  if (!inserted) {
    const existing = await getPlanSummary(tx, plan.tenantId, plan.id);
    if (!existing) throw new Error(`plan ${plan.id} belongs to another tenant`);
    return { plan: existing, created: false };
  }
  await appendAudit(tx, {
    tenantId: plan.tenantId, actor: plan.createdBy, action: 'plan.created', target: { kind: 'provisioning_plan', id: plan.id },
    details: { origin: plan.origin, reason: plan.reason, steps: steps.length, contentHash }, requestId: plan.requestId ?? null,
  });
  return {
    plan: {
      id: plan.id, tenantId: plan.tenantId, origin: plan.origin, reason: plan.reason, contentHash, createdBy: plan.createdBy, createdAt: inserted.created_at,
      ...status,
    },
    created: true,
  };
}

/** Whether any of these idempotency keys is already taken in the tenant (by another plan's step). */
export async function takenIdempotencyKeys(db: Executor, tenantId: string, planId: string, keys: string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  // Steps of this very plan (recorded by a concurrent create under the same Idempotency-Key) take nothing.
  const rows = await db.selectFrom('provisioning_plan_steps').select('idempotency_key')
    .where('tenant_id', '=', tenantId).where('idempotency_key', 'in', keys).where('plan_id', '!=', planId).execute();
  return rows.map((r) => r.idempotency_key);
}

function selectPlans(db: Executor) {
  return db.selectFrom('provisioning_plans as p').innerJoin('provisioning_plan_status as s', 's.plan_id', 'p.id').select(planColumns);
}

/** What the operator's create that recorded this plan asked for (null: recorded without one, or no such plan). */
export async function planSubmissionHash(db: Executor, tenantId: string, id: string): Promise<string | null> {
  const row = await db.selectFrom('provisioning_plans').select('submission_hash').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row?.submission_hash ?? null;
}

export async function getPlanSummary(db: Executor, tenantId: string, id: string): Promise<Plan | null> {
  const row = await selectPlans(db).where('p.tenant_id', '=', tenantId).where('p.id', '=', id).executeTakeFirst();
  return row ? toPlan(row) : null;
}

/** A plan with its steps and every piece of evidence, in the order it was recorded. */
export async function getPlan(db: Executor, tenantId: string, id: string): Promise<PlanDetail | null> {
  const plan = await getPlanSummary(db, tenantId, id);
  if (!plan) return null;
  const steps = await db.selectFrom('provisioning_plan_steps').selectAll().where('plan_id', '=', id).orderBy('ordinal').execute();
  const evidence = await db.selectFrom('provisioning_step_evidence').selectAll().where('plan_id', '=', id).orderBy('id').execute();
  return { ...plan, steps: steps.map(toStep), evidence: evidence.map(toEvidence) };
}

export interface PlanFilter {
  originKind?: PlanOriginKind;
  originId?: string;
  status?: PlanStatus;
  /** Plans with a step acting on this object (a userName, a group id) or this connector instance. */
  target?: string;
}

/** Plans newest first, with cursor pagination. */
export async function listPlans(db: Executor, tenantId: string, f: PlanFilter, cursor: string | null, limit: number): Promise<Page<Plan>> {
  let q = selectPlans(db).where('p.tenant_id', '=', tenantId);
  if (f.originKind) q = q.where('p.origin_kind', '=', f.originKind);
  if (f.originId) q = q.where('p.origin_id', '=', f.originId);
  if (f.status) q = q.where('s.status', '=', f.status);
  if (f.target) {
    const target = f.target;
    q = q.where((eb) => eb.exists(eb.selectFrom('provisioning_plan_steps as st').select(sql`1`.as('one'))
      .whereRef('st.plan_id', '=', 'p.id')
      .where((w) => w.or([w('st.target_object', '=', target), ...(isUuid(target) ? [w('st.connector_instance_id', '=', target)] : [])]))));
  }
  if (cursor) q = q.where('p.id', '<', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('p.id', 'desc').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toPlan);
}

/** One step of a plan, with the plan's origin (what a Portal-native step may do depends on who planned it). */
export async function getPlanStep(db: Executor, planId: string, stepKey: string): Promise<{ step: PlanStep; originKind: PlanOriginKind } | null> {
  const row = await db.selectFrom('provisioning_plan_steps as s').innerJoin('provisioning_plans as p', 'p.id', 's.plan_id')
    .selectAll('s').select('p.origin_kind').where('s.plan_id', '=', planId).where('s.step_key', '=', stepKey).executeTakeFirst();
  return row ? { step: toStep(row), originKind: row.origin_kind } : null;
}

/** The graph a plan's first run is given: its steps as the workflow schedules them (parameters stay here). */
export function planGraph(steps: readonly PlanStepInput[], succeeded: readonly string[] = []): LoadedPlan {
  return {
    steps: steps.map((s): PlanStepShape => ({
      key: s.key, dependsOn: s.dependsOn, target: s.target.system, connectorKind: s.target.system === 'connector' ? s.target.connectorKind : null,
      connectorInstanceId: s.target.system === 'connector' ? s.target.connectorInstanceId : null, operation: s.operation, callbackDeadlineSeconds: s.callbackDeadlineSeconds,
    })),
    succeeded: [...succeeded],
  };
}

/** A plan's steps as the workflow schedules them, in order, each with whether it has succeeded already. */
function stepShapes(db: Pick<Executor, 'selectFrom'>, planId: string) {
  return db.selectFrom('provisioning_plan_steps as s')
    .select(['s.step_key', 's.ordinal', 's.depends_on', 's.target_system', 's.connector_kind', 's.connector_instance_id', 's.operation', 's.callback_deadline_seconds'])
    .select((eb) => eb.exists(eb.selectFrom('provisioning_step_evidence as e').select('e.id')
      .whereRef('e.plan_id', '=', 's.plan_id').whereRef('e.step_key', '=', 's.step_key').where('e.outcome', 'in', SUCCEEDED)).as('done'))
    .where('s.plan_id', '=', planId);
}

type StepShapeRow = Pick<PlanStepRow, 'step_key' | 'depends_on' | 'target_system' | 'connector_kind' | 'connector_instance_id' | 'operation' | 'callback_deadline_seconds'> & { done: SqlBool };

function toGraph(rows: StepShapeRow[]): LoadedPlan {
  return {
    steps: rows.map((s) => ({
      key: s.step_key, dependsOn: s.depends_on, target: s.target_system, connectorKind: s.connector_kind, connectorInstanceId: s.connector_instance_id,
      operation: s.operation, callbackDeadlineSeconds: s.callback_deadline_seconds,
    })),
    succeeded: rows.filter((s) => Boolean(s.done)).map((s) => s.step_key),
  };
}

/**
 * Starts a round of a plan's execution: records it as running (with what already succeeded) and returns the
 * step graph the workflow schedules with the steps that already succeeded, in one statement (a round whose
 * starter did not record it as running pays this, so it takes one round trip).
 */
export async function beginPlanRound(db: Executor, planId: string, round: number): Promise<LoadedPlan> {
  const steps = await db
    .with('steps', (qb) => stepShapes(qb, planId))
    .with('running', (qb) => qb.updateTable('provisioning_plan_status')
      .set({
        status: 'running', round, failed: '[]', updated_at: new Date(),
        succeeded: sql`(select coalesce(jsonb_agg(step_key order by ordinal), '[]'::jsonb) from steps where done)`,
      })
      .where('plan_id', '=', planId).where('round', '<=', round).returning('plan_id'))
    .selectFrom('steps').selectAll().orderBy('ordinal').execute();
  return toGraph(steps);
}

/**
 * A recorded plan's steps as the workflow schedules them, with where its execution stands, in one query:
 * whether any step runs downstream, and the graph its first run is given while the plan is recorded running
 * in round 1 (else null: its run loads the graph and records the round itself). Null for a plan without steps.
 */
export async function recordedPlanGraph(db: Executor, planId: string): Promise<{ needsExecution: boolean; graph: LoadedPlan | null } | null> {
  const rows = await stepShapes(db, planId).innerJoin('provisioning_plan_status as st', 'st.plan_id', 's.plan_id')
    .select(['st.status', 'st.round']).orderBy('s.ordinal').execute();
  if (rows.length === 0) return null;
  const firstRound = rows[0]!.status === 'running' && rows[0]!.round === 1;
  return { needsExecution: rows.some((r) => r.target_system === 'connector'), graph: firstRound ? toGraph(rows) : null };
}

export interface EvidenceInput {
  tenantId: string;
  planId: string;
  stepKey: string;
  round: number;
  attempt: number;
  outcome: StepEvidenceOutcome;
  calls: CallRecord[];
  error?: Record<string, unknown> | null;
  detail?: Record<string, unknown>;
}

/** Appends one attempt's evidence; the same attempt's same outcome recorded again is a no-op. */
export async function appendStepEvidence(db: Executor, e: EvidenceInput): Promise<void> {
  await appendStepEvidences(db, [e]);
}

/** Appends evidence rows in one statement; each is idempotent as `appendStepEvidence`. */
export async function appendStepEvidences(db: Executor, evidence: readonly EvidenceInput[]): Promise<void> {
  if (evidence.length === 0) return;
  await db.insertInto('provisioning_step_evidence').values(evidence.map(evidenceRow))
    .onConflict((oc) => oc.columns(['plan_id', 'step_key', 'round', 'attempt', 'outcome']).doNothing()).execute();
}

function evidenceRow(e: EvidenceInput) {
  return {
    tenant_id: e.tenantId, plan_id: e.planId, step_key: e.stepKey, round: e.round, attempt: e.attempt, outcome: e.outcome,
    calls: JSON.stringify(e.calls), vendor_request_id: e.calls.map((c) => c.vendorRequestId).filter((v) => v !== null).at(-1) ?? null,
    error: e.error ? JSON.stringify(e.error) : null, detail: JSON.stringify(e.detail ?? {}),
  };
}

/**
 * Appends the evidence of a step's success and counts the step among its round's successes, in one
 * statement. The success that leaves no step of the plan outstanding records the plan completed, with its
 * `plan.completed` audit event, and answers true: the plan's run has nothing left to record. Steps of one plan
 * finishing together serialise on the plan's status row, and each re-reads the row version it waited for
 * (PostgreSQL re-evaluates an UPDATE's conditions and values on it), so exactly one completes the plan; a
 * repeated call appends nothing and changes nothing.
 */
export async function recordStepSuccess(db: Executor, e: EvidenceInput & { outcome: 'applied' | 'already_in_state' }): Promise<boolean> {
  const r = evidenceRow(e);
  // The completion's event, its lists filled in by the statement.
  const a = auditRow(planEndAudit(e.tenantId, { planId: e.planId, round: e.round, status: 'completed', succeeded: [], failed: [] }));
  const { rows } = await sql<{ status: PlanStatus }>`
    with evidence as (
      insert into provisioning_step_evidence (tenant_id, plan_id, step_key, round, attempt, outcome, calls, vendor_request_id, error, detail)
      values (${r.tenant_id}, ${r.plan_id}, ${r.step_key}, ${r.round}, ${r.attempt}, ${r.outcome}, ${r.calls}::jsonb, ${r.vendor_request_id}, ${r.error}::jsonb, ${r.detail}::jsonb)
      on conflict (plan_id, step_key, round, attempt, outcome) do nothing
    ), steps as (
      select count(*)::integer as n, jsonb_agg(step_key order by ordinal) as keys from provisioning_plan_steps where plan_id = ${e.planId}
    ), counted as (
      update provisioning_plan_status as s
      set succeeded = case when jsonb_array_length(s.succeeded) + 1 >= steps.n then steps.keys else s.succeeded || to_jsonb(${e.stepKey}::text) end,
        status = case when jsonb_array_length(s.succeeded) + 1 >= steps.n then 'completed' else s.status end,
        updated_at = now()
      from steps
      where s.plan_id = ${e.planId} and s.round = ${e.round} and s.status = 'running' and not (s.succeeded ? ${e.stepKey})
      returning s.status, s.succeeded
    ), audit as (
      insert into audit_events (tenant_id, actor_kind, actor_id, action, target_kind, target_id, details)
      select ${a.tenant_id}::uuid, ${a.actor_kind}::text, ${a.actor_id}::text, ${a.action}::text, ${a.target_kind}::text, ${a.target_id}::text,
        ${a.details}::jsonb || jsonb_build_object('succeeded', counted.succeeded)
      from counted where counted.status = 'completed'
    )
    select status from counted`.execute(db);
  return rows[0]?.status === 'completed';
}

/** The outcome of the first success of a step in any round (it then never runs again), or null. */
export async function earlierSuccessOutcome(db: Executor, planId: string, stepKey: string): Promise<'applied' | 'already_in_state' | null> {
  const row = await db.selectFrom('provisioning_step_evidence').select('outcome').where('plan_id', '=', planId).where('step_key', '=', stepKey)
    .where('outcome', 'in', SUCCEEDED).orderBy('id').limit(1).executeTakeFirst();
  return (row?.outcome as 'applied' | 'already_in_state' | undefined) ?? null;
}

/** Where the plan's execution stands; a later round's status never goes back to an earlier round's. */
export async function setPlanStatus(db: Executor, input: PlanStatusInput): Promise<void> {
  await planStatusUpdate(db, input).execute();
}

/**
 * Claims the next round of a plan that completed with failures, as `pending` until its run begins it: of two
 * operators retrying at once exactly one claims round `fromRound + 1` (true); the other finds it claimed.
 */
export async function claimRetryRound(db: Executor, planId: string, fromRound: number): Promise<boolean> {
  const row = await db.updateTable('provisioning_plan_status').set({ status: 'pending', round: fromRound + 1, updated_at: new Date() })
    .where('plan_id', '=', planId).where('round', '=', fromRound).where('status', '=', 'completed_with_failures')
    .returning('plan_id').executeTakeFirst();
  return row !== undefined;
}

export interface PlanStatusInput { planId: string; round: number; status: PlanStatus; succeeded: string[]; failed: string[] }

/** The audit event of a round's end (`plan.completed`, `plan.completed_with_failures`), by the plan's run. */
export function planEndAudit(tenantId: string, input: PlanStatusInput): AuditEventInput {
  return {
    tenantId, actor: { kind: 'workflow', id: planWorkflowId(input.planId) }, action: `plan.${input.status}`,
    target: { kind: 'provisioning_plan', id: input.planId }, details: { round: input.round, succeeded: input.succeeded, failed: input.failed },
  };
}

function planStatusUpdate(db: Pick<Executor, 'updateTable'>, input: PlanStatusInput) {
  return db.updateTable('provisioning_plan_status')
    .set({ status: input.status, round: input.round, succeeded: JSON.stringify(input.succeeded), failed: JSON.stringify(input.failed), updated_at: new Date() })
    .where('plan_id', '=', input.planId).where('round', '<=', input.round);
}

/**
 * Sets the plan's status and appends its audit event, in one statement; a round already recorded in that
 * status (a repeated call, or the step that completed the plan) is left as it is, with no second event.
 */
export async function setPlanStatusAudited(db: Executor, input: PlanStatusInput, audit: AuditEventInput): Promise<void> {
  const row = auditRow(audit);
  await db.with('status', (qb) => planStatusUpdate(qb, input)
    .where((eb) => eb.not(eb.and([eb('round', '=', input.round), eb('status', '=', input.status)]))).returning('plan_id'))
    .insertInto('audit_events').columns(['tenant_id', 'actor_kind', 'actor_id', 'action', 'target_kind', 'target_id', 'details', 'request_id'])
    .expression((eb) => eb.selectFrom('status').select([
      sql`${row.tenant_id}::uuid`.as('tenant_id'), sql.val(row.actor_kind).as('actor_kind'), sql.val(row.actor_id).as('actor_id'), sql.val(row.action).as('action'),
      sql.val(row.target_kind).as('target_kind'), sql.val(row.target_id).as('target_id'), sql`${row.details}::jsonb`.as('details'), sql.val(row.request_id).as('request_id'),
    ]))
    .execute();
}

/** What a connector step needs to run, in one query: the step, its instance (with the sealed credentials), and
 * the outcome of an earlier success of the step, if any. Null when the plan has no such step. */
export async function connectorStepForExecution(db: Executor, tenantId: string, planId: string, stepKey: string): Promise<{
  step: PlanStep;
  instance: { id: string; kind: string; config: Record<string, unknown>; credentialsCiphertext: string; updatedAt: Date } | null;
  earlierOutcome: StepEvidenceOutcome | null;
} | null> {
  const row = await db.selectFrom('provisioning_plan_steps as s')
    .leftJoin('connector_instances as ci', (j) => j.onRef('ci.id', '=', 's.connector_instance_id').on('ci.tenant_id', '=', tenantId))
    .selectAll('s')
    .select(['ci.id as ci_id', 'ci.kind as ci_kind', 'ci.config as ci_config', 'ci.credentials_ciphertext as ci_secret', 'ci.updated_at as ci_updated_at'])
    .select((eb) => eb.selectFrom('provisioning_step_evidence as e').select('e.outcome')
      .whereRef('e.plan_id', '=', 's.plan_id').whereRef('e.step_key', '=', 's.step_key').where('e.outcome', 'in', SUCCEEDED)
      .orderBy('e.id').limit(1).as('earlier'))
    .where('s.plan_id', '=', planId).where('s.step_key', '=', stepKey).where('s.tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!row) return null;
  return {
    step: toStep(row),
    instance: row.ci_id ? { id: row.ci_id, kind: row.ci_kind as string, config: row.ci_config as Record<string, unknown>, credentialsCiphertext: row.ci_secret as string, updatedAt: row.ci_updated_at as Date } : null,
    earlierOutcome: (row.earlier as StepEvidenceOutcome | null) ?? null,
  };
}
