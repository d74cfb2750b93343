import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { createConnectorContext } from '../connectors/context';
import { asConnectorError, ConnectorError, type ConnectorErrorKind } from '../connectors/errors';
import type { CallRecord } from '../connectors/http';
import { runConnectorStep } from '../connectors/operations';
import { connectorPlugin } from '../connectors/registry';
import { connectorStepSchema } from '../connectors/steps';
import type { Db, Executor } from '../db/database';
import { grantEdge, lockTenantAccess, revokeAccessToTarget, revokeEdge } from '../db/repositories/access-edges';
import { assignApplication, unassignApplication } from '../db/repositories/app-assignments';
import { addPersonToGroup, removePersonFromGroup, syncDerivedGroupEdges } from '../db/repositories/group-members';
import { newId } from '../db/repositories/ids';
import {
  appendStepEvidence, beginPlanRound, connectorStepForExecution, earlierSuccessOutcome, getPlanStep, planEndAudit, type PlanOriginKind, type PlanStatus, type PlanStep, planWorkflowId, recordStepSuccess,
  setPlanStatus, setPlanStatusAudited, type StepEvidenceOutcome,
} from '../db/repositories/plans';
import { signCallbackToken } from '../workers/callback-tokens';
import { decryptSecret } from '../workers/secrets';
import { type FailureType, FailureTypes } from '../workflows/failures';
import type { LoadedPlan, StepExecutionResult } from '../workflows/plan.types';

/**
 * Parameters of an operator's Portal-native steps. `add_to_group`/`remove_from_group` name a Portal group
 * as the target object; `assign`/`unassign` name `role:<id>` or `application:<id>`. Strict: an operator
 * names the person only; how the access came to be is Portal's to record.
 */
export const portalAccessParameters = z.strictObject({
  personId: z.uuid(),
});
/**
 * An operator's step as stored: plans recorded before the API refused `source` carry the default it filled
 * in (`source: 'direct'`, no `sourceRef`), which means what the strict form means. Anything more (a
 * `sourceRef`, an `iga_grant`) is refused at execution, with evidence, rather than writing a governed grant
 * nobody approved.
 */
const storedOperatorAccessParameters = portalAccessParameters.extend({ source: z.literal('direct').optional() });
/**
 * Parameters of the Portal-native steps Portal's own flows record (a grant, an expiry, birthright): the
 * edge's provenance, `iga_grant` with the request or bundle it derives from. Only those flows write them.
 */
export const derivedAccessParameters = portalAccessParameters.extend({
  source: z.enum(['direct', 'iga_grant']).default('direct'),
  /** What the edge derives from (`access_request:<id>`, `birthright:<bundle>`); a removal revokes only that. */
  sourceRef: z.string().min(1).max(200),
});
export const manualTaskParameters = z.strictObject({
  instructions: z.string().min(1).max(2000),
  recipientPersonId: z.uuid().optional(),
});
export const portalTargetObject = z.string().regex(/^(role|application|group):[0-9a-f-]{36}$/, 'must be role:<id>, application:<id> or group:<id>');

interface StepRef {
  tenantId: string;
  planId: string;
  stepKey: string;
  round: number;
}

export interface PlanActivityDeps {
  db: Db;
  /** Decrypts connector credentials and signs callback tokens. */
  secretKey: Buffer;
  /** Per connector instance, state its plugin keeps across calls (access tokens). */
  connectorCaches?: Map<string, Map<string, unknown>>;
}

const failureTypeOf: Record<ConnectorErrorKind, FailureType> = {
  rate_limited: FailureTypes.RateLimited,
  unavailable: FailureTypes.Unavailable,
  unauthorized: FailureTypes.DownstreamRefused,
  forbidden: FailureTypes.DownstreamRefused,
  not_found: FailureTypes.NotFound,
  conflict: FailureTypes.Conflict,
  invalid: FailureTypes.DownstreamRefused,
  unexpected_response: FailureTypes.DownstreamRefused,
  // Like a misconfigured instance (a key that does not sign): nothing a retry fixes.
  connector_fault: FailureTypes.DownstreamRefused,
};

/** The failure a connector error crosses the activity boundary as: retryable ones carry the vendor's delay. */
function toFailure(err: ConnectorError): ApplicationFailure {
  return ApplicationFailure.create({
    type: failureTypeOf[err.kind], message: err.message, nonRetryable: !err.retryable,
    ...(err.retryAfterMs !== null && err.retryable ? { nextRetryDelay: err.retryAfterMs } : {}),
  });
}

function terminal(type: FailureType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** A step's success, saying so when it completed the plan (the run then records nothing more). */
function succeeded(outcome: 'applied' | 'already_in_state', completedPlan: boolean): StepExecutionResult {
  return completedPlan ? { outcome, completedPlan } : { outcome };
}

/**
 * Runs `fn` while heartbeating, so a worker that dies mid-call is noticed within the heartbeat timeout. The
 * timeout runs from the attempt's start, so no heartbeat is sent at once: a call answered within a second
 * (most are) costs the server no heartbeat write (the SDK sends a first heartbeat immediately, unthrottled).
 */
async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

type PortalTargetKind = 'role' | 'application' | 'group';
type NativeOutcome = { changed: boolean; detail?: Record<string, unknown> };

/**
 * An operator's access step: the same paths as the API's. A group membership is a membership row (so the
 * groups that contain it are derived); an application assignment is an assignment row; a role is a direct
 * edge from the plan. A removal takes away the person's access to the target by every route but nesting
 * (`removePersonFromGroup`, `unassignApplication`, `revokeAccessToTarget`): a removal that left a grant or
 * membership in place would report success while the person kept the access.
 */
async function operatorAccessStep(tx: Executor, ref: StepRef, granting: boolean, kind: PortalTargetKind, targetId: string, personId: string): Promise<NativeOutcome> {
  const { tenantId } = ref;
  if (kind === 'group') {
    if (granting) return { changed: (await addPersonToGroup(tx, { tenantId, groupId: targetId, personId })).created };
    const removed = await removePersonFromGroup(tx, { tenantId, groupId: targetId, personId });
    return { changed: removed.changed, ...(removed.stillVia.length > 0 ? { detail: { stillHeldViaGroups: removed.stillVia } } : {}) };
  }
  await lockTenantAccess(tx, tenantId);
  if (kind === 'application') {
    if (granting) return { changed: (await assignApplication(tx, { tenantId, applicationId: targetId, personId })).created };
    return unassignApplication(tx, { tenantId, applicationId: targetId, personId });
  }
  const fact = { tenantId, personId, targetKind: kind, targetId };
  if (granting) return { changed: (await grantEdge(tx, { ...fact, source: 'direct', trust: 'authoritative', sourceRef: planWorkflowId(ref.planId) })).created };
  return { changed: (await revokeAccessToTarget(tx, fact)) > 0 };
}

/**
 * A step Portal's own flows recorded: the edge of exactly the grant, expiry or birthright it carries out
 * (`sourceRef`), leaving access from other sources alone.
 */
async function derivedAccessStep(
  tx: Executor, ref: StepRef, granting: boolean, kind: PortalTargetKind, targetId: string, params: z.output<typeof derivedAccessParameters>,
): Promise<NativeOutcome> {
  const fact = { tenantId: ref.tenantId, personId: params.personId, targetKind: kind, targetId, sourceRef: params.sourceRef };
  await lockTenantAccess(tx, ref.tenantId);
  const changed = granting
    ? (await grantEdge(tx, { ...fact, source: params.source, trust: params.source === 'iga_grant' ? 'governed' : 'authoritative' })).created
    : (await revokeEdge(tx, fact)) > 0;
  if (kind === 'group') await syncDerivedGroupEdges(tx, ref.tenantId, [params.personId]);
  return { changed };
}

async function portalStep(
  tx: Executor, deps: PlanActivityDeps, ref: StepRef, { step, originKind }: { step: PlanStep; originKind: PlanOriginKind }, attempt: number,
): Promise<{ outcome: StepEvidenceOutcome; detail: Record<string, unknown>; tokenId?: string }> {
  switch (step.operation) {
    case 'add_to_group':
    case 'remove_from_group':
    case 'assign':
    case 'unassign': {
      const [kind, targetId] = portalTargetObject.parse(step.targetObject).split(':') as [PortalTargetKind, string];
      const granting = step.operation === 'add_to_group' || step.operation === 'assign';
      let personId: string;
      let result: NativeOutcome;
      if (originKind === 'operator') {
        personId = storedOperatorAccessParameters.parse(step.parameters).personId;
        result = await operatorAccessStep(tx, ref, granting, kind, targetId, personId);
      } else {
        const params = derivedAccessParameters.parse(step.parameters);
        personId = params.personId;
        result = await derivedAccessStep(tx, ref, granting, kind, targetId, params);
      }
      return { outcome: result.changed ? 'applied' : 'already_in_state', detail: { target: step.targetObject, personId, ...result.detail } };
    }
    case 'manual_task': {
      const params = manualTaskParameters.parse(step.parameters);
      const deadlineSeconds = step.callbackDeadlineSeconds ?? 3600;
      const tokenId = newId();
      const expiresAt = new Date(Date.now() + deadlineSeconds * 1000);
      const inserted = await tx.insertInto('provisioning_callback_tokens').values({
        id: tokenId, tenant_id: ref.tenantId, plan_id: ref.planId, step_key: ref.stepKey, round: ref.round, expires_at: expiresAt,
      }).onConflict((oc) => oc.columns(['plan_id', 'step_key', 'round']).doNothing()).returning('id').executeTakeFirst();
      if (!inserted) {
        // A retried attempt: the token for this round was issued (and delivered) already.
        const existing = await tx.selectFrom('provisioning_callback_tokens').select('id')
          .where('plan_id', '=', ref.planId).where('step_key', '=', ref.stepKey).where('round', '=', ref.round).executeTakeFirstOrThrow();
        return { outcome: 'awaiting_callback', detail: { reissued: false }, tokenId: existing.id };
      }
      const token = signCallbackToken(deps.secretKey, { tokenId, planId: ref.planId, stepKey: ref.stepKey, round: ref.round, expiresAt: Math.floor(expiresAt.getTime() / 1000) });
      // The outbox is the delivery channel to whoever completes the task; the token is in no response,
      // log or audit detail.
      await tx.insertInto('outbox_messages').values({
        id: newId(), tenant_id: ref.tenantId, kind: 'plan.manual_task', recipient_person_id: params.recipientPersonId ?? null,
        subject: `Provisioning task: ${step.targetObject}`,
        body: JSON.stringify({
          planId: ref.planId, stepKey: ref.stepKey, instructions: params.instructions,
          callbackPath: `/v1/callbacks/plans/${ref.planId}/steps/${encodeURIComponent(ref.stepKey)}`, token, expiresAt: expiresAt.toISOString(),
        }),
        dedupe_key: `${planWorkflowId(ref.planId)}:${ref.stepKey}:${ref.round}:${attempt}`,
      }).execute();
      return { outcome: 'awaiting_callback', detail: { deadline: expiresAt.toISOString(), recipientPersonId: params.recipientPersonId ?? null }, tokenId };
    }
    default:
      throw terminal(FailureTypes.InvalidInput, `Portal-native steps do not support ${step.operation}`);
  }
}

/** Factory of the provisioning-plan activities. */
export function planActivities(deps: PlanActivityDeps) {
  const { db } = deps;
  const caches = deps.connectorCaches ?? new Map<string, Map<string, unknown>>();

  async function requireStep(ref: StepRef): Promise<{ step: PlanStep; originKind: PlanOriginKind }> {
    const found = await getPlanStep(db, ref.planId, ref.stepKey);
    if (!found) throw terminal(FailureTypes.NotFound, `plan ${ref.planId} has no step ${ref.stepKey}`);
    return found;
  }

  /** The outcome of an earlier success of this step, if it has one (it then never runs again). */
  async function earlierSuccess(ref: StepRef, executor: Executor = db): Promise<StepExecutionResult | null> {
    const outcome = await earlierSuccessOutcome(executor, ref.planId, ref.stepKey);
    return outcome ? { outcome } : null;
  }

  return {
    /**
     * The step graph and what already succeeded; the round is recorded as running (`beginPlanRound`). The
     * activity keeps its name: recorded histories name it.
     */
    async loadPlanForExecution(ref: { planId: string; round: number }): Promise<LoadedPlan> {
      return beginPlanRound(db, ref.planId, ref.round);
    },

    /** Records where the round stands; a finished round is audited. */
    async recordPlanStatus(input: { tenantId: string; planId: string; round: number; status: PlanStatus; succeeded: string[]; failed: string[] }): Promise<void> {
      if (input.status !== 'completed' && input.status !== 'completed_with_failures') return setPlanStatus(db, input);
      return setPlanStatusAudited(db, input, planEndAudit(input.tenantId, input));
    },

    /** A Portal-native step, in one transaction with its evidence. */
    async executePortalStep(ref: StepRef): Promise<StepExecutionResult> {
      const attempt = Context.current().info.attempt;
      const found = await requireStep(ref);
      try {
        return await db.transaction().execute(async (tx) => {
          // Inside the transaction: the embedded database has one connection, which the transaction holds.
          const done = await earlierSuccess(ref, tx);
          if (done) return done;
          const result = await portalStep(tx, deps, ref, found, attempt);
          if (result.tokenId) {
            await appendStepEvidence(tx, { ...ref, attempt, outcome: result.outcome, calls: [], detail: result.detail });
            return { outcome: 'awaiting_callback', callbackTokenId: result.tokenId };
          }
          const outcome = result.outcome as 'applied' | 'already_in_state';
          return succeeded(outcome, await recordStepSuccess(tx, { ...ref, attempt, outcome, calls: [], detail: result.detail }));
        });
      } catch (err) {
        if (err instanceof z.ZodError || (err instanceof ApplicationFailure && err.nonRetryable)) {
          const message = err instanceof z.ZodError ? `invalid step parameters: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` : err.message;
          await appendStepEvidence(db, { ...ref, attempt, outcome: 'failed_terminal', calls: [], error: { kind: 'invalid', message } });
          throw terminal(FailureTypes.InvalidInput, message);
        }
        throw err;
      }
    },

    /**
     * A connector step: one operation on a downstream system through its plugin. Runs on the vendor's task
     * queue. Every attempt appends evidence with the calls it made; a step that succeeded before is not run
     * again (a worker that died after the vendor answered leaves the next attempt to find it done, or the
     * vendor to answer "already in that state").
     */
    async executeConnectorStep(ref: StepRef): Promise<StepExecutionResult> {
      const attempt = Context.current().info.attempt;
      const loaded = await connectorStepForExecution(db, ref.tenantId, ref.planId, ref.stepKey);
      if (!loaded) throw terminal(FailureTypes.NotFound, `plan ${ref.planId} has no step ${ref.stepKey}`);
      if (loaded.earlierOutcome) return { outcome: loaded.earlierOutcome as 'applied' | 'already_in_state' };
      const { step, instance } = loaded;
      const record = async (outcome: StepEvidenceOutcome, calls: CallRecord[], extra: { error?: Record<string, unknown>; detail?: Record<string, unknown> }) =>
        appendStepEvidence(db, { ...ref, attempt, outcome, calls, ...extra });
      if (step.target.system !== 'connector') throw terminal(FailureTypes.InvalidInput, `step ${ref.stepKey} is not a connector step`);
      const plugin = instance ? connectorPlugin(instance.kind) : null;
      if (!instance || !plugin) {
        await record('failed_terminal', [], { error: { kind: 'not_found', message: 'connector instance or plugin not found' } });
        throw terminal(FailureTypes.NotFound, `connector instance ${step.target.system === 'connector' ? step.target.connectorInstanceId : ''} is not available`);
      }
      const parsedStep = connectorStepSchema.safeParse({ operation: step.operation, ...step.parameters });
      if (!parsedStep.success) {
        await record('failed_terminal', [], { error: { kind: 'invalid', message: 'invalid step parameters' } });
        throw terminal(FailureTypes.InvalidInput, `step ${ref.stepKey} has invalid parameters`);
      }
      const cacheKey = `${instance.id}:${instance.updatedAt.toISOString()}`;
      let cache = caches.get(cacheKey);
      if (!cache) {
        cache = new Map();
        caches.set(cacheKey, cache);
      }
      let ctx;
      try {
        ctx = createConnectorContext(plugin, instance.config, JSON.parse(decryptSecret(deps.secretKey, instance.credentialsCiphertext)), { cache });
      } catch {
        await record('failed_terminal', [], { error: { kind: 'invalid', message: 'the connector configuration or credentials do not parse' } });
        throw terminal(FailureTypes.DownstreamRefused, `connector instance ${instance.id} is misconfigured`);
      }
      let result;
      try {
        result = await heartbeating(() => runConnectorStep(plugin, ctx, parsedStep.data));
      } catch (thrown) {
        // Every failure of the connector is an attempt with evidence, whatever it threw; an exception that
        // is not a vendor's answer (a key that does not sign, a plugin defect) is a terminal connector_fault.
        const err = asConnectorError(thrown);
        const error = { kind: err.kind, status: err.status, vendorCode: err.vendorCode, message: err.message, retryAfterMs: err.retryAfterMs };
        await record(err.retryable ? 'failed_retryable' : 'failed_terminal', ctx.http.calls, { error });
        throw toFailure(err);
      }
      // Outside the catch: a database failure recording the success is not the connector's, and is retried.
      const completedPlan = await recordStepSuccess(db, {
        ...ref, attempt, outcome: result.outcome, calls: ctx.http.calls, detail: { externalId: result.externalId ?? null, ...result.detail },
      });
      return succeeded(result.outcome, completedPlan);
    },

    /** Ends a step that awaited a callback: the callback's result, or `unverifiable` when the deadline passed. */
    async recordCallbackOutcome(input: StepRef & { tokenId: string; result: 'completed' | 'failed' | 'deadline_passed'; detail: Record<string, unknown> }): Promise<StepEvidenceOutcome> {
      const outcome: StepEvidenceOutcome = input.result === 'completed' ? 'applied' : input.result === 'failed' ? 'failed_terminal' : 'unverifiable';
      const { tokenId, result, detail, ...ref } = input;
      await db.transaction().execute(async (tx) => {
        if (result !== 'deadline_passed') {
          await tx.updateTable('provisioning_callback_tokens').set({ used_at: new Date() }).where('id', '=', tokenId).where('used_at', 'is', null).execute();
        }
        const evidence = {
          ...ref, attempt: 1, calls: [],
          detail: result === 'deadline_passed' ? { reason: 'no callback before the deadline', tokenId } : { callback: detail, tokenId },
          ...(result === 'failed' ? { error: { kind: 'callback_failed', message: 'the callback reported failure' } } : {}),
        };
        // A success counts among the round's successes (the run records the end itself: it learns only the outcome).
        if (outcome === 'applied') await recordStepSuccess(tx, { ...evidence, outcome });
        else await appendStepEvidence(tx, { ...evidence, outcome });
      });
      return outcome;
    },
  };
}
