import { sql } from 'kysely';
import type { AccountSpec } from '../../connectors/types';
import { type BundleItem, type ConnectorBundleItem, isNativeItem } from '../../workflows/access-policy';
import type { Executor } from '../database';
import type { PlanOriginKind } from '../tables/provisioning';
import { type Actor, appendAudit } from './audit';
import { getConnectorInstance } from './connector-instances';
import { idFromKey } from './ids';
import type { LoadedPlan } from '../../workflows/plan.types';
import { appendStepEvidences, insertPlan, type PlanStepInput, planWorkflowId, planGraph, recordedPlanGraph, SUCCEEDED } from './plans';

/**
 * Plans derived from Portal's own flows (a grant, an expiry, a lifecycle step). Their Portal-native part is
 * applied in the caller's transaction and its evidence recorded at once; what remains for the plan workflow
 * are the downstream steps.
 */

/** A plan recorded by a flow, and whether its workflow has steps left to run. */
export interface RecordedPlan {
  planId: string;
  workflowId: string;
  needsExecution: boolean;
  /**
   * The step graph its first run is given, while the plan is recorded as running in round 1 (the flow that
   * recorded it starts that run). Absent in histories recorded before it existed: the run loads the graph.
   */
  graph?: LoadedPlan;
}

/** A Portal-native step already applied in this transaction, and whether it changed anything. */
export interface AppliedStep {
  step: PlanStepInput;
  changed: boolean;
}

export interface DerivedPlanInput {
  planId: string;
  tenantId: string;
  origin: { kind: PlanOriginKind; id: string };
  reason: string;
  actor: Actor;
  applied: AppliedStep[];
  downstream: PlanStepInput[];
}

/**
 * Records a derived plan with the evidence of its applied part. Idempotent on the plan id. A plan with
 * downstream steps is recorded running: the flow recording it starts its first run at once, with its graph.
 */
export async function recordDerivedPlan(tx: Executor, input: DerivedPlanInput): Promise<RecordedPlan> {
  const steps = [...input.applied.map((a) => a.step), ...input.downstream];
  const needsExecution = input.downstream.length > 0;
  // A plan of Portal-native steps only is carried out by the transaction recording it: it starts completed.
  const succeeded = input.applied.map((a) => a.step.key);
  const { created } = await insertPlan(tx, {
    id: input.planId, tenantId: input.tenantId, origin: input.origin, reason: input.reason, createdBy: input.actor, steps,
    initialStatus: { status: needsExecution ? 'running' : 'completed', round: 1, succeeded, failed: [] },
  });
  const recorded = { planId: input.planId, workflowId: planWorkflowId(input.planId), needsExecution };
  // Recorded before (a retried activity, or the other of two paths recording the same plan): its run loads
  // the graph as the plan stands.
  if (!created) return recorded;
  await appendStepEvidences(tx, input.applied.map(({ step, changed }) => ({
    tenantId: input.tenantId, planId: input.planId, stepKey: step.key, round: 1, attempt: 1, outcome: changed ? 'applied' : 'already_in_state', calls: [],
    detail: { appliedBy: 'the transaction that recorded the plan', target: step.targetObject },
  })));
  if (!needsExecution) {
    await appendAudit(tx, {
      tenantId: input.tenantId, actor: input.actor, action: 'plan.completed', target: { kind: 'provisioning_plan', id: input.planId },
      details: { round: 1, succeeded, failed: [] },
    });
    return recorded;
  }
  return { ...recorded, graph: planGraph(steps, succeeded) };
}

/** The plan recorded under an id, or null. */
export async function recordedPlan(db: Executor, planId: string): Promise<RecordedPlan | null> {
  const recorded = await recordedPlanGraph(db, planId);
  if (!recorded) {
    // A plan without steps (nothing to apply) is still the flow's plan.
    const plan = await db.selectFrom('provisioning_plans').select('id').where('id', '=', planId).executeTakeFirst();
    return plan ? { planId, workflowId: planWorkflowId(planId), needsExecution: false } : null;
  }
  const { needsExecution, graph } = recorded;
  return { planId, workflowId: planWorkflowId(planId), needsExecution, ...(needsExecution && graph ? { graph } : {}) };
}

/** A Portal-native access step (edge written with `sourceRef`). */
export function nativeAccessStep(key: string, granting: boolean, target: { kind: 'role' | 'group' | 'application'; id: string }, personId: string, sourceRef: string): PlanStepInput {
  return {
    key, target: { system: 'portal' },
    operation: target.kind === 'group' ? (granting ? 'add_to_group' : 'remove_from_group') : (granting ? 'assign' : 'unassign'),
    targetObject: `${target.kind}:${target.id}`, parameters: { personId, source: 'iga_grant', sourceRef }, dependsOn: [], callbackDeadlineSeconds: null,
  };
}

/** The account a person holds downstream, from their Portal identity (userName = their email). */
export async function accountFor(tx: Executor, tenantId: string, personId: string): Promise<AccountSpec> {
  const person = await tx.selectFrom('people').select(['display_name', 'email']).where('tenant_id', '=', tenantId).where('id', '=', personId).executeTakeFirst();
  const displayName = person?.display_name ?? personId;
  const [given, ...rest] = displayName.trim().split(/\s+/);
  // A person without an email gets an empty userName: the step then fails terminally, with that evidence.
  const email = person?.email ?? '';
  return { userName: email, email, displayName, givenName: given || displayName, familyName: rest.join(' ') || given || displayName, externalId: personId };
}

const stepKeyOf = (text: string) => text.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 64);

/**
 * Downstream steps that give a person connector items: per connector instance, the account first (created,
 * or adopted when it is the same person's), then each membership or assignment after it.
 */
export async function downstreamGrantSteps(tx: Executor, tenantId: string, personId: string, items: ConnectorBundleItem[], keyPrefix = ''): Promise<PlanStepInput[]> {
  if (items.length === 0) return [];
  const account = await accountFor(tx, tenantId, personId);
  const steps: PlanStepInput[] = [];
  const accountSteps = new Map<string, string>();
  for (const [i, item] of items.entries()) {
    const instance = await getConnectorInstance(tx, tenantId, item.id);
    if (!instance) continue;
    const target = { system: 'connector' as const, connectorInstanceId: instance.id, connectorKind: instance.kind };
    let accountStep = accountSteps.get(instance.id);
    if (!accountStep) {
      accountStep = stepKeyOf(`${keyPrefix}account-${instance.name}`);
      accountSteps.set(instance.id, accountStep);
      steps.push({ key: accountStep, target, operation: 'create_account', targetObject: account.userName, parameters: { account }, dependsOn: [], callbackDeadlineSeconds: null });
    }
    const isGroup = item.kind === 'connector_group';
    steps.push({
      key: stepKeyOf(`${keyPrefix}downstream-${i + 1}`), target, operation: isGroup ? 'add_to_group' : 'assign', targetObject: account.userName,
      parameters: isGroup ? { userName: account.userName, group: item.ref } : { userName: account.userName, assignment: item.ref },
      dependsOn: [accountStep], callbackDeadlineSeconds: null,
    });
  }
  return steps;
}

/** Downstream steps that take connector items away (the account stays). */
export async function downstreamRevokeSteps(tx: Executor, tenantId: string, personId: string, items: ConnectorBundleItem[], keyPrefix = ''): Promise<PlanStepInput[]> {
  if (items.length === 0) return [];
  const account = await accountFor(tx, tenantId, personId);
  const steps: PlanStepInput[] = [];
  for (const [i, item] of items.entries()) {
    const instance = await getConnectorInstance(tx, tenantId, item.id);
    if (!instance) continue;
    const isGroup = item.kind === 'connector_group';
    steps.push({
      key: stepKeyOf(`${keyPrefix}downstream-${i + 1}`), target: { system: 'connector', connectorInstanceId: instance.id, connectorKind: instance.kind },
      operation: isGroup ? 'remove_from_group' : 'unassign', targetObject: account.userName,
      parameters: isGroup ? { userName: account.userName, group: item.ref } : { userName: account.userName, assignment: item.ref },
      dependsOn: [], callbackDeadlineSeconds: null,
    });
  }
  return steps;
}

/**
 * The downstream accounts Portal has provisioned for a person: every connector `create_account` step for
 * them (externalId = the person id) that succeeded, one per connector instance.
 */
export async function downstreamAccountsOf(db: Executor, tenantId: string, personId: string): Promise<{ connectorInstanceId: string; connectorKind: string; userName: string }[]> {
  const rows = await db.selectFrom('provisioning_plan_steps as s')
    .select(['s.connector_instance_id', 's.connector_kind', 's.target_object'])
    .where('s.tenant_id', '=', tenantId).where('s.target_system', '=', 'connector').where('s.operation', '=', 'create_account')
    .where(sql<boolean>`s.parameters->'account'->>'externalId' = ${personId}`)
    .where((eb) => eb.exists(eb.selectFrom('provisioning_step_evidence as e').select(sql`1`.as('one'))
      .whereRef('e.plan_id', '=', 's.plan_id').whereRef('e.step_key', '=', 's.step_key').where('e.outcome', 'in', SUCCEEDED)))
    .distinct().execute();
  const seen = new Set<string>();
  const accounts: { connectorInstanceId: string; connectorKind: string; userName: string }[] = [];
  for (const r of rows) {
    if (!r.connector_instance_id || seen.has(r.connector_instance_id)) continue;
    seen.add(r.connector_instance_id);
    accounts.push({ connectorInstanceId: r.connector_instance_id, connectorKind: r.connector_kind as string, userName: r.target_object });
  }
  return accounts;
}

/** The identity of a downstream item: the connector instance, the kind and the vendor's reference. */
export const connectorItemKey = (i: ConnectorBundleItem) => `${i.id}|${i.kind}|${i.ref}`;

/**
 * The downstream birthright items a person holds: what the plans of their lifecycle runs added and did not
 * later remove (each step counted once it succeeded).
 */
export async function heldDownstreamBirthright(tx: Executor, tenantId: string, personId: string): Promise<Map<string, ConnectorBundleItem>> {
  const rows = await tx.selectFrom('provisioning_plan_steps as s')
    .innerJoin('provisioning_plans as p', 'p.id', 's.plan_id')
    .select(['s.connector_instance_id', 's.operation', 's.parameters', 'p.created_at'])
    .where('p.tenant_id', '=', tenantId).where('p.origin_kind', '=', 'lifecycle_run')
    .where('p.origin_id', 'in', tx.selectFrom('lifecycle_runs').select(sql<string>`id::text`.as('id')).where('tenant_id', '=', tenantId).where('person_id', '=', personId))
    .where('s.target_system', '=', 'connector').where('s.operation', 'in', ['add_to_group', 'remove_from_group', 'assign', 'unassign'])
    .where((eb) => eb.exists(eb.selectFrom('provisioning_step_evidence as e').select(sql`1`.as('one'))
      .whereRef('e.plan_id', '=', 's.plan_id').whereRef('e.step_key', '=', 's.step_key').where('e.outcome', 'in', SUCCEEDED)))
    .orderBy('p.created_at').orderBy('s.ordinal').execute();
  const held = new Map<string, ConnectorBundleItem>();
  for (const r of rows) {
    const params = r.parameters as { group?: string; assignment?: string };
    const item: ConnectorBundleItem = params.group !== undefined
      ? { kind: 'connector_group', id: r.connector_instance_id as string, ref: params.group }
      : { kind: 'connector_assignment', id: r.connector_instance_id as string, ref: params.assignment as string };
    if (r.operation === 'add_to_group' || r.operation === 'assign') held.set(connectorItemKey(item), item);
    else held.delete(connectorItemKey(item));
  }
  return held;
}

/** The downstream items a person holds through granted requests (other than `exceptRequestId`), by key. */
export async function connectorItemsOfLiveRequests(tx: Executor, tenantId: string, personId: string, exceptRequestId?: string): Promise<Map<string, ConnectorBundleItem>> {
  let q = tx.selectFrom('access_requests as r')
    .innerJoin('access_bundle_versions as v', (j) => j.onRef('v.bundle_id', '=', 'r.bundle_id').onRef('v.version', '=', 'r.bundle_version'))
    .select('v.definition')
    .where('r.tenant_id', '=', tenantId).where('r.beneficiary_person_id', '=', personId).where('r.status', '=', 'granted');
  if (exceptRequestId) q = q.where('r.id', '!=', exceptRequestId);
  const items = new Map<string, ConnectorBundleItem>();
  for (const { definition } of await q.execute()) {
    for (const item of definition.items) if (!isNativeItem(item)) items.set(connectorItemKey(item), item);
  }
  return items;
}

/** The deterministic plan id of a request's grant or revocation: both commit paths record the same plan. */
export function requestPlanId(requestId: string, direction: 'grant' | 'revoke'): string {
  return idFromKey(`plan:access_request:${direction}`, requestId);
}

export interface RequestPlanInput {
  tenantId: string;
  requestId: string;
  personId: string;
  items: BundleItem[];
  /** The Portal-native items, already applied in this transaction, and whether each changed anything. */
  native: { item: BundleItem; changed: boolean }[];
  direction: 'grant' | 'revoke';
  actor: Actor;
}

/**
 * Of the downstream items a request's revocation would remove, those nothing else still gives the person:
 * another granted request, or their birthright. Portal-native edges are kept per source, so only the
 * vendor's membership (one per item) needs this.
 */
async function stillUngiven(tx: Executor, input: RequestPlanInput, items: ConnectorBundleItem[]): Promise<ConnectorBundleItem[]> {
  if (items.length === 0) return items;
  const requested = await connectorItemsOfLiveRequests(tx, input.tenantId, input.personId, input.requestId);
  const birthright = await heldDownstreamBirthright(tx, input.tenantId, input.personId);
  return items.filter((i) => !requested.has(connectorItemKey(i)) && !birthright.has(connectorItemKey(i)));
}

/**
 * Records the provisioning plan of a request's grant (or its revocation at expiry) in the transaction that
 * applies its Portal-native part. A grant provisions each connector's account, then memberships and
 * assignments; a revocation removes memberships and assignments and leaves the account.
 */
export async function recordRequestPlan(tx: Executor, input: RequestPlanInput): Promise<RecordedPlan> {
  const sourceRef = `access_request:${input.requestId}`;
  const granting = input.direction === 'grant';
  const applied: AppliedStep[] = input.native.flatMap(({ item, changed }, i) =>
    (isNativeItem(item) ? [{ step: nativeAccessStep(`portal-${i + 1}`, granting, item, input.personId, sourceRef), changed }] : []));
  const connectorItems = input.items.filter((i): i is ConnectorBundleItem => !isNativeItem(i));
  const downstream = granting
    ? await downstreamGrantSteps(tx, input.tenantId, input.personId, connectorItems)
    : await downstreamRevokeSteps(tx, input.tenantId, input.personId, await stillUngiven(tx, input, connectorItems));
  return recordDerivedPlan(tx, {
    planId: requestPlanId(input.requestId, input.direction), tenantId: input.tenantId, origin: { kind: 'access_request', id: input.requestId },
    reason: granting ? 'grant of an approved access request' : 'revocation of an access request at its expiry', actor: input.actor, applied, downstream,
  });
}
