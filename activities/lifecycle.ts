import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import type { Db, Executor } from '../db/database';
import { grantEdge, lockTenantAccess } from '../db/repositories/access-edges';
import { eligibilityFacts, getBundle, managerOf } from '../db/repositories/access-bundles';
import { type Actor, appendAudit } from '../db/repositories/audit';
import { syncDerivedGroupEdges } from '../db/repositories/group-members';
import { currentTemplate, personIdForEmployee, setHrEventStatus, templateVersion } from '../db/repositories/hr';
import {
  type AppliedStep, connectorItemKey, connectorItemsOfLiveRequests, downstreamAccountsOf, downstreamGrantSteps, downstreamRevokeSteps, heldDownstreamBirthright,
  nativeAccessStep, recordDerivedPlan, type RecordedPlan, recordedPlan,
} from '../db/repositories/grant-plans';
import { idFromKey, newId } from '../db/repositories/ids';
import type { PlanStepInput } from '../db/repositories/plans';
import { applyProfileObservation } from '../db/repositories/profiles';
import type { HrEventStatus } from '../db/tables/hr-lifecycle';
import { type BundleItem, type ConnectorBundleItem, evaluateEligibility, isNativeItem } from '../workflows/access-policy';
import { FailureTypes } from '../workflows/failures';
import {
  type AppliedHrEvent, type HrEventPayload, type LifecycleKind, type LifecycleRunStep, type LifecycleStep, type LifecycleTemplateDefinition, lifecycleWorkflowId,
  movedAttributes, profileUpdatedOutcome,
} from '../workflows/lifecycle.types';

interface PersonRef {
  tenantId: string;
  personId: string;
}

const HR_SYSTEM = 'hr';
const birthrightRef = (bundleId: string) => `birthright:${bundleId}`;
const actorOf = (ref: PersonRef): Actor => ({ kind: 'workflow', id: lifecycleWorkflowId(ref.tenantId, ref.personId) });

async function appendRunStep(tx: Executor, runId: string, entry: LifecycleRunStep): Promise<void> {
  await tx.updateTable('lifecycle_runs')
    .set({ steps: sql`steps || ${JSON.stringify([entry])}::jsonb` as never, updated_at: new Date() })
    .where('id', '=', runId).execute();
}

/** Desired birthright bundles' items for a person under the joiner template's rules. */
async function desiredBirthright(tx: Executor, ref: PersonRef): Promise<Map<string, BundleItem[]>> {
  const { definition } = await currentTemplate(tx, ref.tenantId, 'joiner');
  const facts = await eligibilityFacts(tx, ref.tenantId, ref.personId);
  const desired = new Map<string, BundleItem[]>();
  for (const rule of definition.birthright) {
    if (!evaluateEligibility(rule.when, facts).eligible) continue;
    const bundle = await getBundle(tx, ref.tenantId, rule.bundleId);
    if (bundle) desired.set(rule.bundleId, bundle.definition.items);
  }
  return desired;
}

interface BirthrightChange {
  granted: string[];
  revoked: string[];
  /** The Portal-native changes, as applied plan steps. */
  applied: AppliedStep[];
  /** Downstream steps for the plan workflow. */
  downstream: PlanStepInput[];
}

/**
 * Brings a person's birthright access to the desired set: grant what is missing; with `revoke` (a mover),
 * remove the rest. Portal-native edges change in this transaction; downstream memberships and assignments
 * become plan steps.
 */
async function reconcileBirthright(tx: Executor, ref: PersonRef, revoke: boolean): Promise<BirthrightChange> {
  await lockTenantAccess(tx, ref.tenantId);
  const desired = await desiredBirthright(tx, ref);
  const want = new Map<string, { bundleId: string; kind: 'role' | 'group' | 'application'; id: string }>();
  const wantDownstream = new Map<string, ConnectorBundleItem>();
  for (const [bundleId, items] of desired) {
    for (const item of items) {
      if (isNativeItem(item)) want.set(`${birthrightRef(bundleId)}|${item.kind}|${item.id}`, { bundleId, ...item });
      else wantDownstream.set(connectorItemKey(item), item);
    }
  }
  const live = await tx.selectFrom('access_edges').select(['id', 'source_ref', 'target_kind', 'target_id'])
    .where('tenant_id', '=', ref.tenantId).where('person_id', '=', ref.personId).where('revoked_at', 'is', null)
    .where('source_ref', 'like', 'birthright:%').execute();
  const revoked: string[] = [];
  for (const e of live) {
    const key = `${e.source_ref}|${e.target_kind}|${e.target_id}`;
    if (want.has(key)) want.delete(key);
    else if (revoke) revoked.push(e.id);
  }
  if (revoked.length > 0) await tx.updateTable('access_edges').set({ revoked_at: new Date() }).where('id', 'in', revoked).execute();
  const applied: AppliedStep[] = [];
  for (const e of live.filter((x) => revoked.includes(x.id))) {
    applied.push({ step: nativeAccessStep(`revoke-${applied.length + 1}`, false, { kind: e.target_kind, id: e.target_id }, ref.personId, e.source_ref), changed: true });
  }
  const granted: string[] = [];
  for (const w of want.values()) {
    const { created } = await grantEdge(tx, { tenantId: ref.tenantId, personId: ref.personId, targetKind: w.kind, targetId: w.id, source: 'iga_grant', trust: 'governed', sourceRef: birthrightRef(w.bundleId) });
    applied.push({ step: nativeAccessStep(`grant-${applied.length + 1}`, true, w, ref.personId, birthrightRef(w.bundleId)), changed: created });
    granted.push(`${w.kind}:${w.id}`);
  }
  await syncDerivedGroupEdges(tx, ref.tenantId, [ref.personId]);
  const held = await heldDownstreamBirthright(tx, ref.tenantId, ref.personId);
  const toGrant = [...wantDownstream.values()].filter((i) => !held.has(connectorItemKey(i)));
  // A downstream item the person also holds through a granted request stays: that grant still gives it.
  const requested = revoke ? await connectorItemsOfLiveRequests(tx, ref.tenantId, ref.personId) : new Map<string, ConnectorBundleItem>();
  const toRevoke = revoke ? [...held.values()].filter((i) => !wantDownstream.has(connectorItemKey(i)) && !requested.has(connectorItemKey(i))) : [];
  const downstream = [
    ...await downstreamRevokeSteps(tx, ref.tenantId, ref.personId, toRevoke, 'remove-'),
    ...await downstreamGrantSteps(tx, ref.tenantId, ref.personId, toGrant, 'add-'),
  ];
  return {
    granted: [...granted, ...toGrant.map((i) => `${i.kind}:${i.id}:${i.ref}`)],
    revoked: [...live.filter((e) => revoked.includes(e.id)).map((e) => `${e.target_kind}:${e.target_id}`), ...toRevoke.map((i) => `${i.kind}:${i.id}:${i.ref}`)],
    applied, downstream,
  };
}

/** Downstream account steps (disable or delete) for every account Portal provisioned for the person. */
async function downstreamAccountSteps(tx: Executor, ref: PersonRef, operation: 'disable_account' | 'delete_account'): Promise<PlanStepInput[]> {
  const accounts = await downstreamAccountsOf(tx, ref.tenantId, ref.personId);
  return accounts.map((a, i) => ({
    key: `${operation}-${i + 1}`, target: { system: 'connector' as const, connectorInstanceId: a.connectorInstanceId, connectorKind: a.connectorKind },
    operation, targetObject: a.userName, parameters: { userName: a.userName }, dependsOn: [], callbackDeadlineSeconds: null,
  }));
}

async function setPersonStatus(tx: Executor, ref: PersonRef, status: 'active' | 'disabled' | 'deleted'): Promise<'applied' | 'already_in_state'> {
  const updated = await tx.updateTable('people').set({ status, updated_at: new Date() })
    .where('id', '=', ref.personId).where('tenant_id', '=', ref.tenantId).where('status', '!=', status).returning('id').executeTakeFirst();
  return updated ? 'applied' : 'already_in_state';
}

/** Executes one template step, idempotently. */
/** The plan a lifecycle run's step records (one per run and step). */
export const lifecyclePlanId = (runId: string, step: LifecycleStep['type']) => idFromKey('plan:lifecycle_run', `${runId}:${step}`);

async function executeStep(
  tx: Executor, ref: PersonRef, runId: string, kind: LifecycleKind, step: LifecycleStep,
): Promise<{ outcome: LifecycleRunStep['outcome']; details: Record<string, unknown>; plan?: RecordedPlan | null }> {
  const record = (applied: AppliedStep[], downstream: PlanStepInput[], reason: string) => recordDerivedPlan(tx, {
    planId: lifecyclePlanId(runId, step.type), tenantId: ref.tenantId, origin: { kind: 'lifecycle_run', id: runId }, reason, actor: actorOf(ref), applied, downstream,
  });
  switch (step.type) {
    case 'activate':
      return { outcome: await setPersonStatus(tx, ref, 'active'), details: {} };
    case 'disable':
    case 'delete': {
      // The identity in Portal, then every downstream account Portal provisioned for the person, in a plan.
      const outcome = await setPersonStatus(tx, ref, step.type === 'disable' ? 'disabled' : 'deleted');
      const downstream = await downstreamAccountSteps(tx, ref, step.type === 'disable' ? 'disable_account' : 'delete_account');
      if (downstream.length === 0) return { outcome, details: {} };
      const plan = await record([], downstream, `${kind}: ${step.type === 'disable' ? 'disable' : 'delete'} downstream accounts`);
      return { outcome: 'applied', details: { planId: plan.planId, downstreamAccounts: downstream.length }, plan };
    }
    case 'grant_birthright':
    case 'reconcile_birthright': {
      const result = await reconcileBirthright(tx, ref, step.type === 'reconcile_birthright');
      const changed = result.granted.length + result.revoked.length > 0;
      // A mover's removals and grants, Portal-native and downstream, are one plan.
      const plan = changed ? await record(result.applied, result.downstream, `${kind}: birthright access`) : null;
      return {
        outcome: changed ? 'applied' : 'already_in_state', details: { granted: result.granted, revoked: result.revoked, ...(plan ? { planId: plan.planId } : {}) }, plan,
      };
    }
    case 'revoke_all_access': {
      await lockTenantAccess(tx, ref.tenantId);
      const memberships = await tx.deleteFrom('group_members').where('tenant_id', '=', ref.tenantId).where('member_person_id', '=', ref.personId).returning('group_id').execute();
      const assignments = await tx.deleteFrom('app_assignments').where('tenant_id', '=', ref.tenantId).where('person_id', '=', ref.personId).returning('application_id').execute();
      const edges = await tx.updateTable('access_edges').set({ revoked_at: new Date() })
        .where('tenant_id', '=', ref.tenantId).where('person_id', '=', ref.personId).where('revoked_at', 'is', null).returning('id').execute();
      const changed = memberships.length + assignments.length + edges.length;
      return { outcome: changed > 0 ? 'applied' : 'already_in_state', details: { groupMemberships: memberships.length, appAssignments: assignments.length, edgesRevoked: edges.length } };
    }
    case 'notify_manager': {
      const manager = await managerOf(tx, ref.tenantId, ref.personId);
      const person = await tx.selectFrom('people').select('display_name').where('id', '=', ref.personId).executeTakeFirst();
      const row = await tx.insertInto('outbox_messages').values({
        id: newId(), tenant_id: ref.tenantId, kind: `lifecycle.${kind}`, recipient_person_id: manager,
        subject: `${person?.display_name ?? ref.personId}: ${kind} run`, body: JSON.stringify({ personId: ref.personId, runId, kind }),
        dedupe_key: `${runId}:notify_manager`,
      }).onConflict((oc) => oc.columns(['tenant_id', 'dedupe_key']).doNothing()).returning('id').executeTakeFirst();
      return { outcome: row ? 'applied' : 'already_in_state', details: { recipientPersonId: manager } };
    }
    case 'wait':
      return { outcome: 'skipped', details: {} };
  }
}

/**
 * Applies an HR event's profile data (source `hr_connector`) in `tx`, creating the person on a hire or
 * rehire. Idempotent: a repeat observation changes nothing. The values are observed as of `observedAt`
 * when given (an update applied on its effective date), else as of the event's occurredAt.
 */
async function applyHrObservation(
  tx: Executor, input: PersonRef & { payload: HrEventPayload; recoverEarlierChanges?: boolean; observedAt?: string },
): Promise<AppliedHrEvent> {
  const p = input.payload;
  let person: { id: string; display_name: string; status: string } | undefined = await tx.selectFrom('people').select(['id', 'display_name', 'status'])
    .where('id', '=', input.personId).executeTakeFirst();
  if (!person && (p.type === 'hire' || p.type === 'rehire')) {
    await tx.insertInto('people').values({
      id: input.personId, tenant_id: input.tenantId, display_name: p.displayName ?? p.employeeId, email: typeof p.profile.workEmail === 'string' ? p.profile.workEmail : null,
      status: 'pending', setup_workflow_id: lifecycleWorkflowId(input.tenantId, input.personId),
    }).onConflict((oc) => oc.column('id').doNothing()).execute();
    await tx.insertInto('person_external_ids').values({ tenant_id: input.tenantId, system: HR_SYSTEM, external_id: p.employeeId, person_id: input.personId })
      .onConflict((oc) => oc.columns(['tenant_id', 'system', 'external_id']).doNothing()).execute();
    await appendAudit(tx, { tenantId: input.tenantId, actor: actorOf(input), action: 'person.created', target: { kind: 'person', id: input.personId }, details: { source: 'hr_connector', eventId: p.eventId } });
    person = { id: input.personId, display_name: p.displayName ?? p.employeeId, status: 'pending' };
  }
  if (!person) return { personExists: false, changed: [] };
  if (p.displayName && p.displayName !== person.display_name) {
    await tx.updateTable('people').set({ display_name: p.displayName, updated_at: new Date() }).where('id', '=', input.personId).execute();
  }
  // HR names the manager by employee id; Portal's id for that employee is derived from it, so a manager
  // not hired yet is an unresolved reference (a resolution issue) until their hire arrives.
  const values: Record<string, string | number | boolean | null> = { ...p.profile, employeeNumber: p.employeeId };
  if (typeof p.profile.manager === 'string') values.manager = personIdForEmployee(input.tenantId, p.profile.manager);
  const result = await applyProfileObservation(tx, {
    tenantId: input.tenantId, personId: input.personId, source: 'hr_connector', sourceRecordId: p.eventId, observedAt: new Date(input.observedAt ?? p.occurredAt),
    values, actor: actorOf(input),
  });
  if (result.rejected.length > 0) await auditRejectedValues(tx, input, p.eventId, result.rejected);
  // Applied again (a retry after its commit, or a new worker after one died before its workflow task
  // completed), the observation changes nothing: what it changed the first time is in the profile history.
  // Only runs that ask (patch lifecycle-late-events) get it: they never apply a delivered copy of an event
  // they are applying, for which that answer would run a second mover.
  const changed = result.changes.length > 0 || !input.recoverEarlierChanges
    ? result.changes.map((c) => c.attribute) : await changedByObservation(tx, input.tenantId, input.personId, p.eventId);
  return { personExists: true, changed, personStatus: person.status };
}

/**
 * Values an HR event carried that were refused as they were applied (a person named as their own manager,
 * a custom attribute whose definition changed after the event was accepted): recorded on the person, once
 * per event (an observation applied again refuses them again), so what HR sent and Portal did not keep is
 * in evidence.
 */
async function auditRejectedValues(tx: Executor, input: PersonRef, eventId: string, rejected: { attribute: string; reason: string }[]): Promise<void> {
  const action = 'person.profile_values_rejected';
  const recorded = await tx.selectFrom('audit_events').select('id').where('tenant_id', '=', input.tenantId).where('action', '=', action)
    .where('target_kind', '=', 'person').where('target_id', '=', input.personId).where(sql<string>`details->>'eventId'`, '=', eventId).executeTakeFirst();
  if (recorded) return;
  await appendAudit(tx, {
    tenantId: input.tenantId, actor: actorOf(input), action, target: { kind: 'person', id: input.personId },
    details: { source: 'hr_connector', eventId, rejected },
  });
}

/** The attributes an HR event's observation changed, from the profile history. */
async function changedByObservation(tx: Executor, tenantId: string, personId: string, eventId: string): Promise<string[]> {
  const rows = await tx.selectFrom('profile_attribute_history').select('attribute').distinct()
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).where('source', '=', 'hr_connector')
    .where('source_record_id', '=', eventId).where('outcome', '=', 'applied').execute();
  return rows.map((r) => r.attribute);
}

/** Factory of the lifecycle activities over a database. */
export function lifecycleActivities(db: Db) {
  return {
    /**
     * Applies an HR event's profile data (source `hr_connector`), creating the person on a hire or rehire.
     * Idempotent: a repeat observation changes nothing.
     */
    /** Applies one HR event's profile data (see applyHrObservation). */
    async applyHrEvent(input: PersonRef & { eventRowId: string; payload: HrEventPayload; recoverEarlierChanges?: boolean; observedAt?: string }): Promise<AppliedHrEvent> {
      return db.transaction().execute((tx) => applyHrObservation(tx, input));
    },

    /**
     * Applies a person's queued profile updates in order, in one transaction, each marked applied with its
     * outcome, until one changes a mover attribute of an active person: that one is applied but left
     * unmarked (`mover`), for the run to start the mover; the rest are not touched. Idempotent: applied
     * again, each update reports what it changed the first time, so the marks and the mover are the same.
     */
    async applyHrUpdates(input: PersonRef & { personActive: boolean; events: { eventRowId: string; payload: HrEventPayload; label: string }[] }): Promise<{ marked: number; mover: string[] | null }> {
      return db.transaction().execute(async (tx) => {
        for (const [i, e] of input.events.entries()) {
          const { changed } = await applyHrObservation(tx, { ...input, payload: e.payload, recoverEarlierChanges: true });
          if (input.personActive && movedAttributes(changed).length > 0) return { marked: i, mover: changed };
          await setHrEventStatus(tx, input.tenantId, [e.eventRowId], 'applied', `${e.label}${profileUpdatedOutcome(changed)}`);
        }
        return { marked: input.events.length, mover: null };
      });
    },

    async markHrEvent(input: PersonRef & { eventRowId: string; status: HrEventStatus; outcome: string }): Promise<void> {
      await setHrEventStatus(db, input.tenantId, [input.eventRowId], input.status, input.outcome);
    },

    /** Records a run waiting for its effective date. */
    async scheduleRun(input: PersonRef & { runId: string; kind: LifecycleKind; eventId: string | null; scheduledFor: string }): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await tx.insertInto('lifecycle_runs').values({
          id: input.runId, tenant_id: input.tenantId, person_id: input.personId, kind: input.kind, trigger: 'hr_event', hr_event_id: input.eventId,
          template_version: null, status: 'scheduled', scheduled_for: new Date(input.scheduledFor), reason: null,
        }).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst();
        if (row) {
          await appendAudit(tx, { tenantId: input.tenantId, actor: actorOf(input), action: 'lifecycle.run_scheduled', target: { kind: 'person', id: input.personId }, details: { runId: input.runId, kind: input.kind, scheduledFor: input.scheduledFor, eventId: input.eventId } });
        }
      });
    },

    /** Starts (or resumes after a retry) a run under the template version current now; returns the template. */
    async startRun(input: PersonRef & { runId: string; kind: LifecycleKind; trigger: 'hr_event' | 'manual' | 'effective_date'; eventId: string | null; reason: string | null; scheduledFor: string | null }): Promise<LifecycleTemplateDefinition> {
      return db.transaction().execute(async (tx) => {
        const existing = await tx.selectFrom('lifecycle_runs').select(['status', 'template_version']).where('id', '=', input.runId).forUpdate().executeTakeFirst();
        if (existing && existing.status !== 'scheduled' && existing.template_version !== null) {
          const recorded = await templateVersion(tx, input.tenantId, input.kind, existing.template_version);
          if (!recorded) throw ApplicationFailure.nonRetryable(`template ${input.kind} v${existing.template_version} is missing`, FailureTypes.NotFound);
          return recorded;
        }
        const template = await currentTemplate(tx, input.tenantId, input.kind);
        if (existing) {
          await tx.updateTable('lifecycle_runs').set({
            status: 'running', trigger: input.trigger, template_version: template.version, reason: sql<string | null>`coalesce(${input.reason}, reason)`, updated_at: new Date(),
          }).where('id', '=', input.runId).execute();
        } else {
          await tx.insertInto('lifecycle_runs').values({
            id: input.runId, tenant_id: input.tenantId, person_id: input.personId, kind: input.kind, trigger: input.trigger, hr_event_id: input.eventId,
            template_version: template.version, status: 'running', scheduled_for: input.scheduledFor ? new Date(input.scheduledFor) : null, reason: input.reason,
          }).execute();
        }
        await appendAudit(tx, { tenantId: input.tenantId, actor: actorOf(input), action: 'lifecycle.run_started', target: { kind: 'person', id: input.personId }, details: { runId: input.runId, kind: input.kind, trigger: input.trigger, templateVersion: template.version, reason: input.reason } });
        return template.definition;
      });
    },

    /** Runs one step of a run and records its outcome; a step already recorded for the run is not repeated. */
    async runLifecycleStep(input: PersonRef & { runId: string; kind: LifecycleKind; step: LifecycleStep }): Promise<RecordedPlan | null> {
      return db.transaction().execute(async (tx) => {
        const run = await tx.selectFrom('lifecycle_runs').select('steps').where('id', '=', input.runId).forUpdate().executeTakeFirstOrThrow();
        if (run.steps.some((s) => s.step === input.step.type)) return recordedPlan(tx, lifecyclePlanId(input.runId, input.step.type));
        const { outcome, details, plan } = await executeStep(tx, input, input.runId, input.kind, input.step);
        await appendRunStep(tx, input.runId, { step: input.step.type, at: new Date().toISOString(), outcome, details });
        await appendAudit(tx, { tenantId: input.tenantId, actor: actorOf(input), action: `lifecycle.${input.step.type}`, target: { kind: 'person', id: input.personId }, details: { runId: input.runId, kind: input.kind, outcome, ...details } });
        return plan ?? null;
      });
    },

    async recordRunStep(input: PersonRef & { runId: string; step: LifecycleStep['type']; outcome: LifecycleRunStep['outcome']; details: Record<string, unknown> }): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const run = await tx.selectFrom('lifecycle_runs').select('steps').where('id', '=', input.runId).forUpdate().executeTakeFirstOrThrow();
        if (run.steps.some((s) => s.step === input.step)) return;
        await appendRunStep(tx, input.runId, { step: input.step, at: new Date().toISOString(), outcome: input.outcome, details: input.details });
      });
    },

    /** Ends a run (completed or cancelled, with the reason); ending an ended run changes nothing. */
    async finishRun(input: PersonRef & { runId: string; status: 'completed' | 'cancelled' | 'failed'; reason: string | null }): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await tx.updateTable('lifecycle_runs').set({ status: input.status, reason: sql<string | null>`coalesce(${input.reason}, reason)`, updated_at: new Date() })
          .where('id', '=', input.runId).where('status', 'in', ['scheduled', 'running']).returning(['kind']).executeTakeFirst();
        if (row) {
          await appendAudit(tx, { tenantId: input.tenantId, actor: actorOf(input), action: `lifecycle.run_${input.status}`, target: { kind: 'person', id: input.personId }, details: { runId: input.runId, kind: row.kind, reason: input.reason } });
        }
      });
    },
  };
}
